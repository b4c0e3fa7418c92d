"""Whole-bucket reads from one long-lived watch per process.

Listing a bucket through a fresh consumer each time leaves a consumer on the server per read
(nats-py keeps an ordered consumer 5 minutes by default); a daemon reading presence every few
seconds on 50 nodes ran the streams into the server's 1,000-consumer cap and taxed every write.
Here each process keeps one ordered consumer per bucket it lists, started on the first read and
kept current by the server's pushes, so a listing costs no request at all. A process that
stops listing for `IDLE_S` drops its watch (an MCP gateway asked `list_agents` once must not
receive every heartbeat of the team forever).

Presence expires by per-message TTL, which the server applies without telling watchers (no
expiry markers: see provision.ensure_team), so each entry keeps the server's write time and
presence judges its age (broker.presence).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import structlog

from broker import nats_compat
from broker.names import subject_matches
from broker.provision import bucket
from broker.pull import ONE_SHOT_CONSUMER_S

if TYPE_CHECKING:
    from broker.connection import Broker

log = structlog.get_logger(__name__)
T = TypeVar("T")
_UNREAD = object()

IDLE_S = 60.0
READY_TIMEOUT_S = 10.0
RETRY_S = 1.0
CATCH_UP_S = 2.0


@dataclass(slots=True)
class Entry:
    key: str
    value: bytes
    revision: int
    created: float  # the server's write time, epoch seconds
    # The value as its reader parsed it (see `decoded`): one parse per revision, not per read.
    parsed: Any = field(default=_UNREAD, compare=False, repr=False)


def decoded(entry: Entry, parse: Callable[[Entry], T]) -> T:
    """`parse(entry)`, once per revision: a daemon lists the team every few seconds, and
    validating a thousand records each time would cost more than the reads it saves. The
    result is shared by every reader of this revision: treat it as read-only."""
    if entry.parsed is _UNREAD:
        entry.parsed = parse(entry)
    return entry.parsed


@dataclass
class Roster:
    """The live entries of one bucket, as the watch last delivered them."""

    bucket: str
    entries: dict[str, Entry] = field(default_factory=dict)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    # The last stream sequence applied, and a condition notified as it moves.
    seq: int = 0
    moved: asyncio.Condition = field(default_factory=asyncio.Condition)
    last_read: float = field(default_factory=time.monotonic)
    task: asyncio.Task | None = None
    # Views computed from the entries (label → (key, value)): see `memo`.
    memos: dict[str, tuple[object, Any]] = field(default_factory=dict)

    def matching(self, pattern: str | None = None) -> list[Entry]:
        return [
            e for e in self.entries.values() if pattern is None or subject_matches(pattern, e.key)
        ]

    def memo(self, label: str, key: object, compute: Callable[[], T]) -> T:
        """`compute()`, reused while `key` stays the same. A key that includes `seq` makes
        a view that lasts until the bucket changes: a gateway listing a team of a thousand
        then costs a lookup, not a thousand records merged and sorted on every call. The
        value is shared: read-only."""
        hit = self.memos.get(label)
        if hit is not None and hit[0] == key:
            return hit[1]
        value = compute()
        self.memos[label] = (key, value)
        return value


async def entries(
    broker: Broker, name: str, pattern: str | None = None, *, fresh: bool = False
) -> list[Entry]:
    """Every live entry of bucket `name` (keys matching `pattern`: `*` one token, `>` the
    rest), from this process's watch of it; the first call starts the watch.

    The view includes this process's own writes. `fresh` makes it include every write
    acknowledged before the call, by anyone: it asks the stream for its last sequence (one
    small request) and waits for the watch to reach it. Decisions use that (a lease check);
    views do not need it."""
    roster = await follow(broker, name)
    roster.last_read = time.monotonic()
    wanted = broker.written.get(name, 0)
    if fresh:
        wanted = max(wanted, await _last_seq(broker, name))
    await _caught_up(roster, wanted)
    return roster.memo(
        f"entries:{pattern}",
        roster.seq,
        lambda: sorted(roster.matching(pattern), key=lambda e: e.key),
    )


async def moved_or(broker: Broker, name: str, timeout_s: float) -> None:
    """Return when this process's view of bucket `name` next changes, or after `timeout_s`:
    for waiting on the team without asking the broker again and again."""
    view = await follow(broker, name)
    seq = view.seq
    async with view.moved:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(view.moved.wait_for(lambda: view.seq != seq), timeout_s)


async def follow(broker: Broker, name: str) -> Roster:
    """This process's roster of bucket `name`, started if need be and loaded."""
    roster = broker.rosters.get(name)
    if roster is None or roster.task is None or roster.task.done():
        roster = Roster(bucket=name)
        broker.rosters[name] = roster
        roster.task = asyncio.create_task(_keep(broker, roster), name=f"roster:{name}")
    if not roster.ready.is_set():
        task = roster.task
        assert task is not None
        waiter = asyncio.ensure_future(roster.ready.wait())
        try:
            done, _ = await asyncio.wait(
                {waiter, task}, timeout=READY_TIMEOUT_S, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            waiter.cancel()
        if task in done:
            task.result()  # the watch failed to start: its error is the read's error
        if not roster.ready.is_set():
            raise TimeoutError(f"bucket {name} not loaded after {READY_TIMEOUT_S:.0f}s")
    return roster


async def _caught_up(roster: Roster, seq: int) -> None:
    """Wait until the watch has delivered sequence `seq` (this process's own last write), so a
    listing right after a write shows it. Bounded: a lagging watch yields a slightly old view
    rather than a stuck caller."""
    if roster.seq >= seq:
        return
    async with roster.moved:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(
                roster.moved.wait_for(lambda: roster.seq >= seq), timeout=CATCH_UP_S
            )


async def _last_seq(broker: Broker, name: str) -> int:
    info = await broker.js.stream_info(f"KV_{name}")
    return info.state.last_seq


async def _keep(broker: Broker, roster: Roster) -> None:
    """Follow the bucket until idle; after a broken watch (a failover), start over."""
    first = True
    while True:
        try:
            await _watch(broker, roster)
            return  # idle: stopped on purpose
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if first and not roster.ready.is_set():
                raise
            log.warning("roster_watch_restarting", bucket=roster.bucket, error=str(exc))
            await asyncio.sleep(RETRY_S)
        first = False


async def _watch(broker: Broker, roster: Roster) -> None:
    kv = await bucket(broker, roster.bucket)
    # Every message up to here is in the watch's first replay, or gone (expired): once the
    # replay is in, the view is as new as this sequence even if its last messages expired.
    start_seq = await _last_seq(broker, roster.bucket)
    watcher = await kv.watchall(inactive_threshold=ONE_SHOT_CONSUMER_S)
    seen: set[str] = set()
    try:
        while True:
            if time.monotonic() - roster.last_read > IDLE_S:
                log.debug("roster_idle", bucket=roster.bucket)
                return
            try:
                entry = await watcher.updates(timeout=IDLE_S / 4)
            except TimeoutError:
                continue
            if entry is None:
                # nats-py's end-of-initial-values marker, which may overtake the values (it
                # decides from consumer info): believed only when nothing was delivered.
                if await nats_compat.watch_delivered_nothing(watcher):
                    roster.entries.clear()
                    roster.seq = max(roster.seq, start_seq)
                    roster.ready.set()
                continue
            seen.add(entry.key)
            _apply(roster, entry)
            async with roster.moved:
                roster.moved.notify_all()
            if entry.delta == 0 and not roster.ready.is_set():
                # A restarted watch replays the bucket: keys it did not replay are gone.
                for key in set(roster.entries) - seen:
                    del roster.entries[key]
                roster.seq = max(roster.seq, start_seq)
                roster.ready.set()
    finally:
        with contextlib.suppress(Exception):
            await watcher.stop()
        roster.ready.clear()


def _apply(roster: Roster, entry: Any) -> None:
    roster.seq = max(roster.seq, entry.revision or 0)
    if not entry.value or entry.operation in ("DEL", "PURGE"):
        roster.entries.pop(entry.key, None)
        return
    created = entry.created.timestamp() if entry.created else time.time()
    roster.entries[entry.key] = Entry(entry.key, entry.value, entry.revision or 0, created)
