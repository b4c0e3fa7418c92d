"""The live state of the team, read once per server process and pushed to every page.

One long-lived KV watch per bucket (presence, registry, tasks, leases) and one ordered reader
per stream (events, notes, each readable inbox) keep a TeamState current; every change becomes
patches that are fanned out to the open pages' queues. Nothing here polls: presence that
expires (its per-message TTL removes the key without a trace) is noticed by a timer set from
the heartbeat's own time, and unread counts are re-read when mail arrives or an agent changes
state, not on a clock. A page that cannot keep up is told to reload its snapshot instead of
holding the server's memory hostage.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from nats.aio.msg import Msg
from nats.js import api
from nats.js.errors import NotFoundError
from nats.js.kv import KeyValue

from broker import messages, nats_compat, presence, records
from broker.connection import Broker, checked_subscribe
from broker.errors import PermissionDenied
from broker.events import read_event
from broker.models import AgentInfo, AgentRecord, Lease, Note, Task, utcnow
from broker.names import AgentId
from broker.provision import bucket
from studio_cli.dashboard.state import Patch, TeamState

log = structlog.get_logger(__name__)

RECENT_EVENTS = 300
RECENT_NOTES = 100
QUEUE_LIMIT = 20_000
UNREAD_CONCURRENCY = 8
RESTART_S = 1.0
EXPIRY_GRACE_S = 1.0

KvHandler = Callable[[str, bytes | None], list[Patch]]


@dataclass(eq=False)
class Subscriber:
    """One open page: the patches it has not been sent yet. `lagging` once it fell
    QUEUE_LIMIT patches behind; it is then sent a fresh snapshot instead."""

    queue: asyncio.Queue[Patch] = field(default_factory=lambda: asyncio.Queue(QUEUE_LIMIT))
    lagging: bool = False

    async def next_batch(self, wait_s: float) -> list[Patch] | None:
        """Everything queued, in one batch per wake-up (a burst of a thousand task writes
        costs the page one render, not a thousand); None when nothing came within `wait_s`."""
        try:
            first = await asyncio.wait_for(self.queue.get(), timeout=wait_s)
        except TimeoutError:
            return None
        batch = [first]
        while not self.queue.empty():
            batch.append(self.queue.get_nowait())
        return batch


class Feed:
    """The watches and readers of one dashboard process, and the pages they feed."""

    def __init__(self, broker: Broker, state: TeamState) -> None:
        self.broker = broker
        self.state = state
        self.subscribers: set[Subscriber] = set()
        self.ready = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._loaded: dict[str, asyncio.Event] = {}
        self._expiry: dict[str, asyncio.TimerHandle] = {}
        # Presence records as stored, and the nodes whose daemon key is live (see _show).
        self._records: dict[str, AgentInfo] = {}
        self._nodes: set[str] = set()
        self._inboxes: set[str] = set()
        self._hidden_unread: set[str] = set()
        self._unread_wanted: set[str] = set()
        self._unread_wake = asyncio.Event()

    # ------------------------------------------------------------------ lifecycle

    async def start(self, timeout_s: float = 15.0) -> None:
        """Start every watch and wait (up to `timeout_s`) until each delivered what the broker
        holds, so the first page shows the whole team and not a partial load."""
        names = self.broker.names
        self._watch(names.registry_bucket, ">", self._on_record)
        self._watch(names.agents_bucket, ">", self._on_presence)
        self._watch(names.tasks_bucket, "task.*", self._on_task)
        self._watch(names.leases_bucket, ">", self._on_lease)
        events_filter, notes_filter = f"{names.prefix}.event.>", f"{names.prefix}.note.>"
        self._spawn(
            "events",
            self._follow("events", names.events_stream, events_filter, RECENT_EVENTS,
                         self._on_event),
        )  # fmt: skip
        self._spawn(
            "notes",
            self._follow("notes", names.notes_stream, notes_filter, RECENT_NOTES, self._on_note),
        )
        self._spawn("unread", self._unread_worker())
        await checked_subscribe(
            self.broker, f"{names.prefix}.flow.>", cb=self._on_flow
        )  # live only: nothing stores who wrote to whom
        waits = [e.wait() for e in self._loaded.values()]
        try:
            await asyncio.wait_for(asyncio.gather(*waits), timeout=timeout_s)
        except TimeoutError:
            log.warning("dashboard_load_slow", waiting=[k for k, e in self._loaded.items()
                                                        if not e.is_set()])  # fmt: skip
        self.state.loaded = True
        self.ready.set()
        self._want_unread(*self.state.agent_ids())

    async def stop(self) -> None:
        for handle in self._expiry.values():
            handle.cancel()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task

    def _spawn(self, name: str, work: Awaitable[None]) -> None:
        self._loaded.setdefault(name, asyncio.Event())
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ------------------------------------------------------------------ pages

    def subscribe(self) -> tuple[Subscriber, dict[str, Any]]:
        """A new page's queue and the snapshot it starts from (taken with no await between,
        so no patch falls between the two)."""
        subscriber = Subscriber()
        self.subscribers.add(subscriber)
        return subscriber, self.state.snapshot()

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self.subscribers.discard(subscriber)

    def push(self, patches: list[Patch]) -> None:
        if not patches:
            return
        for subscriber in list(self.subscribers):
            for patch in patches:
                try:
                    subscriber.queue.put_nowait(patch)
                except asyncio.QueueFull:
                    subscriber.lagging = True
                    self.subscribers.discard(subscriber)
                    with contextlib.suppress(asyncio.QueueFull):
                        # Wake its stream so it ends and the page reloads its snapshot.
                        subscriber.queue.get_nowait()
                        subscriber.queue.put_nowait({"t": "resync"})
                    break

    # ------------------------------------------------------------------ KV watches

    def _watch(self, name: str, pattern: str, handler: KvHandler) -> None:
        loaded = self._loaded.setdefault(name, asyncio.Event())

        async def run() -> None:
            while True:
                try:
                    kv = await bucket(self.broker, name)
                    await self._watch_once(kv, pattern, handler, loaded)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    log.warning("dashboard_watch_failed", bucket=name, error=str(exc))
                await asyncio.sleep(RESTART_S)

        self._spawn(name, run())

    async def _watch_once(
        self, kv: KeyValue, pattern: str, handler: KvHandler, loaded: asyncio.Event
    ) -> None:
        watcher = await kv.watch(pattern)
        try:
            while True:
                entry = await watcher.updates(timeout=None)
                if entry is None:
                    # "No (more) initial values": believed only when nothing was delivered;
                    # otherwise the entry whose delta is 0 ends the initial load.
                    if await nats_compat.watch_delivered_nothing(watcher):
                        loaded.set()
                    continue
                value = entry.value if entry.operation not in ("DEL", "PURGE") else None
                self.push(handler(entry.key, value or None))
                if entry.delta == 0:
                    loaded.set()
        finally:
            with contextlib.suppress(Exception):
                await watcher.stop()

    def _on_record(self, key: str, value: bytes | None) -> list[Patch]:
        where = f"{self.broker.names.registry_bucket}/{key}"
        record = records.parse(self.broker, AgentRecord, value, where=where) if value else None
        if record is not None and record.id != key:
            records.skipped(self.broker, where, f"its body says {record.id!r}")
            return []
        node = key.split(".", 1)[0]
        if node not in self._inboxes:
            self._inboxes.add(node)
            self._spawn(f"inbox:{node}", self._follow_inbox(node))
        if record is not None:
            self._want_unread(key)
        return self.state.apply_record(key, record)

    def _on_presence(self, key: str, value: bytes | None) -> list[Patch]:
        if presence.is_node_key(key):
            return self._on_node_beat(key, value)
        info = presence.read_record(self.broker, key, value) if value else None
        if value and info is None:
            return []  # a bad or forged record: skipped (and logged once)
        self._cancel_expiry(key)
        if info is None:
            self._records.pop(key, None)
        else:
            self._records[key] = info
            if not info.managed:
                self._expire_later(key, info)
        return self._show(key, "went offline")

    def _show(self, key: str, reason: str) -> list[Patch]:
        """An agent's presence as the page should see it: a managed agent's record counts only
        while its node's daemon renews the node's key (broker.presence)."""
        info = self._records.get(key)
        if info is not None and info.managed and info.node not in self._nodes:
            info, reason = None, "its node's daemon is not running"
        before = self.state.presence.get(key)
        if info is not None and (before is None or before.state != info.state):
            self._want_unread(key)
        return self.state.apply_presence(key, info, reason="" if info else reason)

    def _on_node_beat(self, key: str, value: bytes | None) -> list[Patch]:
        beat = presence.read_node_beat(self.broker, key, value) if value else None
        if value and beat is None:
            return []
        node = key.split(".", 1)[0]
        self._cancel_expiry(key)
        was_alive = node in self._nodes
        if beat is None:
            self._nodes.discard(node)
        else:
            self._nodes.add(node)
            self._expiry[key] = asyncio.get_running_loop().call_later(
                beat.ttl_s + EXPIRY_GRACE_S, lambda: self.push(self._on_node_beat(key, None))
            )
        if was_alive == (beat is not None):
            return []
        reason = "its node's daemon stopped heartbeating"
        node_agents = [k for k, i in self._records.items() if i.node == node and i.managed]
        return [patch for agent in node_agents for patch in self._show(agent, reason)]

    def _cancel_expiry(self, key: str) -> None:
        handle = self._expiry.pop(key, None)
        if handle:
            handle.cancel()

    def _expire_later(self, key: str, info: AgentInfo) -> None:
        """Presence carries a per-message TTL and leaves no marker when it runs out: call the
        agent offline once its heartbeat is that old and no newer one came."""
        ttl = info.ttl_s
        due = info.last_heartbeat + timedelta(seconds=ttl + EXPIRY_GRACE_S)
        delay = max(0.0, (due - utcnow()).total_seconds())
        self._expiry[key] = asyncio.get_running_loop().call_later(
            delay, self._expire, key, info.last_heartbeat, ttl
        )

    def _expire(self, key: str, heartbeat: datetime, ttl: float) -> None:
        self._expiry.pop(key, None)
        current = self.state.presence.get(key)
        if current is not None and current.last_heartbeat == heartbeat:
            self._records.pop(key, None)
            reason = f"no heartbeat for {ttl:.0f}s"
            self.push(self.state.apply_presence(key, None, reason=reason))

    def _on_task(self, key: str, value: bytes | None) -> list[Patch]:
        where = f"{self.broker.names.tasks_bucket}/{key}"
        task = records.parse(self.broker, Task, value, where=where) if value else None
        if value and task is None:
            return []
        return self.state.apply_task(key, task)

    def _on_lease(self, key: str, value: bytes | None) -> list[Patch]:
        where = f"{self.broker.names.leases_bucket}/{key}"
        lease = records.parse(self.broker, Lease, value, where=where) if value else None
        return self.state.apply_lease(key, lease)

    # ------------------------------------------------------------------ streams

    async def _follow(
        self,
        label: str,
        stream: str,
        subject: str,
        recent: int,
        handler: Callable[[Msg], list[Patch]],
    ) -> None:
        """The last `recent` records of `stream`, then every new one, through one ordered
        consumer (it resumes by itself after a reconnect)."""
        loaded = self._loaded[label]
        while True:
            try:
                info = await self.broker.js.stream_info(stream)
                last = info.state.last_seq
                start = max(1, last - recent + 1)
                config = api.ConsumerConfig(
                    deliver_policy=api.DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=start
                )
                await self._consume(stream, subject, config, handler, loaded, last)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("dashboard_follow_failed", stream=stream, error=str(exc))
            await asyncio.sleep(RESTART_S)

    async def _consume(
        self,
        stream: str,
        subject: str,
        config: api.ConsumerConfig,
        handler: Callable[[Msg], list[Patch]],
        loaded: asyncio.Event,
        last: int,
    ) -> None:
        sub = await self.broker.js.subscribe(
            subject, stream=stream, ordered_consumer=True, config=config
        )
        try:
            if last == 0 or (await sub.consumer_info()).num_pending == 0:
                loaded.set()
            async for msg in sub.messages:
                self.push(handler(msg))
                if msg.metadata.sequence.stream >= last or msg.metadata.num_pending == 0:
                    loaded.set()
        finally:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()

    def _on_event(self, msg: Msg) -> list[Patch]:
        event = read_event(self.broker, msg)
        return self.state.apply_event(event) if event is not None else []

    async def _on_flow(self, msg: Msg) -> None:
        for notice in messages.read_flow(self.broker, msg):
            self.push(self.state.apply_message_meta(notice))

    def _on_note(self, msg: Msg) -> list[Patch]:
        note = records.parse(self.broker, Note, msg.data, where=msg.subject)
        author = self.broker.names.note_sender(msg.subject)
        if note is None or author is None:
            return []
        return self.state.apply_note(note.model_copy(update={"sender": str(author)}))

    async def _follow_inbox(self, node: str) -> None:
        """The message flow into `node` over the last window, then live; bodies are read only
        where these credentials may read that inbox (else the node is listed as hidden)."""
        loaded = self._loaded[f"inbox:{node}"]
        loaded.set()  # the flow is not part of the first render
        stream = self.broker.names.inbox_stream(node)
        try:
            await self.broker.js.stream_info(stream)
        except PermissionDenied:
            self.push(self.state.hide_inbox(node))
            return
        except NotFoundError:
            self._inboxes.discard(node)  # no mail yet: tried again at its next registration
            return
        since = datetime.now(UTC) - timedelta(seconds=self.state.window_s)
        config = api.ConsumerConfig(
            deliver_policy=api.DeliverPolicy.BY_START_TIME, opt_start_time=since
        )
        while True:
            try:
                await self._consume(
                    stream, self.broker.names.node_inbox_subjects(node), config,
                    self._on_message, asyncio.Event(), 0,
                )  # fmt: skip
            except asyncio.CancelledError:
                raise
            except PermissionDenied:
                self.push(self.state.hide_inbox(node))
                return
            except Exception as exc:
                log.warning("dashboard_inbox_failed", node=node, error=str(exc))
            await asyncio.sleep(RESTART_S)

    def _on_message(self, msg: Msg) -> list[Patch]:
        message = messages.read_message(self.broker, msg)
        if message is None:
            return []
        self._want_unread(message.to)
        return self.state.apply_message(message)

    # ------------------------------------------------------------------ unread counts

    def _want_unread(self, *agent_ids: str) -> None:
        self._unread_wanted.update(agent_ids)
        self._unread_wake.set()

    async def _unread_worker(self) -> None:
        """Re-read the unread counts asked for since the last round, a few at a time."""
        self._loaded["unread"].set()
        limit = asyncio.Semaphore(UNREAD_CONCURRENCY)

        async def one(agent_id: str) -> None:
            async with limit:
                count = await self._read_unread(agent_id)
            self.push(self.state.apply_unread(agent_id, count))

        while True:
            await self._unread_wake.wait()
            self._unread_wake.clear()
            wanted, self._unread_wanted = self._unread_wanted, set()
            await asyncio.gather(*(one(a) for a in sorted(wanted)))

    async def _read_unread(self, agent_id: str) -> int | None:
        """None where it cannot be read: no cursor yet, or another node's inbox under
        per-node credentials (asked once per node, not once per agent)."""
        node = agent_id.split(".", 1)[0]
        if node in self._hidden_unread:
            return None
        try:
            return await messages.unread_count(self.broker, AgentId.parse(agent_id))
        except PermissionDenied:
            self._hidden_unread.add(node)
        except Exception as exc:
            log.debug("dashboard_unread_unreadable", agent=agent_id, error=str(exc))
        return None
