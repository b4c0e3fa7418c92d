"""A studio client on one lab "host": run inside the host's namespace, it performs broker
operations asked for on stdin and answers on stdout, one JSON object per line.

    ip netns exec <ns> python -m tests.multihost.agent_proc '<settings json>'

Request: {"id": 1, "op": "send", "args": {...}}. Answer: {"id": 1, "ok": true, "result": ...}
or {"id": 1, "ok": false, "type": "PermissionDenied", "error": "permission denied: ..."}.
Requests run concurrently (a long drain does not block a heartbeat), answers carry the id.
The first line out is {"ready": true, ...} once connected, or {"ready": false, "error": ...}.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import ssl
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from nats.js import JetStreamContext, api

from broker import agents, control, events, leases, messages, notes, presence, tasks
from broker.connection import Broker, auth_options, checked_subscribe, connect
from broker.errors import TaskConflict
from broker.kv import kv_write
from broker.logs import configure_logging
from broker.models import AgentInfo, AgentState
from broker.names import AgentId
from broker.provision import ensure_node_inbox, ensure_team
from broker.pull import pull
from broker.settings import load_settings

Handler = Callable[..., Awaitable[Any]]


class Agent:
    """The operations, each a thin wrapper returning JSON-able data."""

    def __init__(self, broker: Broker) -> None:
        self.broker = broker
        self.heartbeats: dict[str, asyncio.Task] = {}
        self.loops: dict[str, tuple[asyncio.Task, list]] = {}
        self.echoes: dict[str, asyncio.Task] = {}
        self.raw: JetStreamContext | None = None
        self.sent: dict[str, int] = {}
        self.progress = asyncio.Condition()

    # identity and presence
    async def register(self, agent: str) -> str:
        return (await agents.register(self.broker, AgentId.parse(agent))).id

    async def heartbeat(self, agent: str, state: str = "idle") -> None:
        node = agent.split(".")[0]
        info = AgentInfo(id=agent, node=node, state=AgentState(state))
        await presence.heartbeat(self.broker, info)

    async def heartbeat_start(self, agent: str, state: str = "idle") -> None:
        async def loop() -> None:
            while True:
                with contextlib.suppress(Exception):
                    await self.heartbeat(agent, state)
                await asyncio.sleep(self.broker.settings.heartbeat_s)

        await self.heartbeat(agent, state)
        self.heartbeats[agent] = asyncio.create_task(loop())

    async def heartbeat_stop(self, agent: str) -> None:
        task = self.heartbeats.pop(agent, None)
        if task:
            task.cancel()

    async def list_agents(self) -> dict[str, str]:
        return {a.id: a.state.value for a in await presence.list_agents(self.broker)}

    # messages
    async def send(self, sender: str, to: str, body: str, msg_id: str | None = None) -> str:
        sent = await messages.send(self.broker, AgentId.parse(sender), to, body, msg_id=msg_id)
        return sent.id

    async def broadcast(self, sender: str, body: str) -> list[str]:
        copies = await messages.broadcast(self.broker, AgentId.parse(sender), body)
        return sorted(c.to for c in copies)

    async def send_many(
        self, sender: str, to: str, count: int, prefix: str, concurrency: int = 8
    ) -> dict:
        """`count` messages with ids `<prefix>-<i>`, `concurrency` in flight."""
        who = AgentId.parse(sender)
        queue = iter(range(count))
        started = time.monotonic()
        self.sent[prefix] = 0

        async def worker() -> None:
            for i in queue:
                await messages.send(self.broker, who, to, f"{prefix}-{i}", msg_id=f"{prefix}-{i}")
                self.sent[prefix] += 1
                async with self.progress:
                    self.progress.notify_all()

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return {"sent": count, "seconds": time.monotonic() - started}

    async def sent_count(self, prefix: str) -> int:
        return self.sent.get(prefix, 0)

    async def wait_sent(self, prefix: str, at_least: int) -> int:
        """Return once `send_many(prefix=...)` has stored `at_least` messages."""
        async with self.progress:
            await self.progress.wait_for(lambda: self.sent.get(prefix, 0) >= at_least)
        return self.sent[prefix]

    async def fetch(
        self, agent: str, limit: int = 10, wait_s: float = 0.0, ack: bool = True
    ) -> list[dict]:
        got = await messages.fetch(self.broker, AgentId.parse(agent), limit=limit, wait_s=wait_s)
        if ack:
            await messages.ack(got)
        return [
            {
                "id": d.message.id,
                "sender": d.message.sender,
                "to": d.message.to,
                "body": d.message.body,
                "redelivered": d.redelivered,
            }
            for d in got
        ]

    async def drain(self, agent: str, count: int, idle_s: float = 10.0) -> dict:
        """Fetch and ack until `count` messages came or nothing came for `idle_s`. A pull
        cut short (a leader change answers 409) or failing while the cluster re-forms is
        simply repeated: only the idle time decides when to give up."""
        who = AgentId.parse(agent)
        ids: list[str] = []
        redelivered = 0
        errors: list[str] = []
        last = time.monotonic()
        while len(ids) < count and time.monotonic() - last < idle_s:
            wait = max(0.1, min(2.0, idle_s - (time.monotonic() - last)))
            try:
                got = await messages.fetch(self.broker, who, limit=500, wait_s=wait)
            except Exception as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
                await asyncio.sleep(0.2)
                continue
            if got:
                ids += [d.message.id for d in got]
                redelivered += sum(d.redelivered for d in got)
                # Acks are confirmed, so they wait out a leader election: that is not idleness.
                await messages.ack(got)
                last = time.monotonic()
        return {"ids": ids, "redelivered": redelivered, "errors": errors[-5:]}

    async def unread(self, agent: str) -> int:
        return await messages.unread_count(self.broker, AgentId.parse(agent))

    # tasks, notes, leases, events
    async def task_create(self, creator: str, title: str) -> str:
        return (await tasks.create(self.broker, AgentId.parse(creator), title)).id

    async def task_claim(self, agent: str, task_id: str) -> bool:
        try:
            await tasks.claim(self.broker, AgentId.parse(agent), task_id)
        except TaskConflict:
            return False
        return True

    async def task_get(self, task_id: str) -> dict:
        task = await tasks.get(self.broker, task_id)
        return {"status": task.status.value, "assignee": task.assignee}

    async def note_post(self, sender: str, text: str) -> str:
        return (await notes.post(self.broker, AgentId.parse(sender), text)).id

    async def notes_read(self, agent: str) -> list[str]:
        return [n.text for n in await notes.read_new(self.broker, AgentId.parse(agent))]

    async def lease(self, agent: str, path: str) -> list[str]:
        held = await leases.acquire(self.broker, AgentId.parse(agent), [path], ttl_s=60)
        return [lease.path for lease in held]

    async def events_recent(self, limit: int = 50) -> list[str]:
        return [e.kind for e in await events.recent(self.broker, limit=limit)]

    # node control (another host's daemon)
    async def control_list(self, node: str) -> list[str]:
        return [a.id for a in (await control.list_managed(self.broker, node)).agents]

    async def control_spawn(
        self, node: str, name: str, kind: str, cwd: str, prompt: str = "", requested_by: str = ""
    ) -> str:
        spec = control.SpawnRequest(
            name=name, kind=kind, cwd=cwd, prompt=prompt, requested_by=requested_by
        )
        return (await control.spawn(self.broker, node, spec)).agent

    async def control_peek(self, node: str, agent: str, lines: int = 40) -> str:
        return (
            await control.peek(self.broker, node, control.PeekRequest(agent=agent, lines=lines))
        ).text

    async def control_stop(self, node: str, agent: str) -> bool:
        spec = control.StopRequest(agent=agent, force=True)
        return (await control.stop(self.broker, node, spec)).stopped

    # admin
    async def provision(self, nodes: list[str]) -> None:
        for node in nodes:
            await ensure_node_inbox(self.broker, node)

    # raw attempts, for the permission tests
    async def serve_control(self, node: str) -> str:
        subject = f"{self.broker.names.prefix}.node.{node}.ctl.>"
        sub = await checked_subscribe(self.broker, subject)
        await sub.unsubscribe()
        return subject

    async def watch_mail(self, node: str) -> str:
        """What a node daemon does to notice new mail: a live subscription to the node's
        inbox subjects."""
        subject = self.broker.names.node_inbox_subjects(node)
        sub = await checked_subscribe(self.broker, subject)
        await sub.unsubscribe()
        return subject

    async def pull_consumer(self, node: str, consumer: str) -> int:
        stream = self.broker.names.inbox_stream(node)
        api_subject = f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{consumer}"
        return len(await pull(self.broker, api_subject, 10, wait_s=0))

    async def create_consumer(self, node: str, agent: str) -> str:
        stream = self.broker.names.inbox_stream(node)
        info = await self.broker.js.add_consumer(
            stream,
            api.ConsumerConfig(
                name=f"spy_{node}",
                filter_subject=f"{self.broker.names.prefix}.msg.{node}.{agent}.>",
                ack_policy=api.AckPolicy.EXPLICIT,
            ),
        )
        return info.name

    async def raw_publish(
        self, subject: str, body: str, headers: dict[str, str] | None = None, size: int = 0
    ) -> int:
        """A JetStream publish of anything: what a node holding its credentials could send
        without studio's client. `size` pads the body to that many bytes."""
        data = body.encode() + b" " * max(0, size - len(body.encode()))
        ack = await self.broker.js.publish(subject, data, headers=headers, timeout=5)
        return ack.seq

    async def raw_request(self, subject: str, body: str) -> str:
        reply = await self.broker.nc.request(subject, body.encode(), timeout=5)
        return reply.data.decode()

    async def list_tasks(self) -> list[str]:
        return [t.id for t in await tasks.list_tasks(self.broker)]

    async def registered(self) -> list[str]:
        return [r.id for r in await agents.registered(self.broker)]

    async def kv_keys(self, bucket: str) -> list[str]:
        name = getattr(self.broker.names, f"{bucket}_bucket")
        kv = await self.broker.js.key_value(name)
        return sorted(await kv.keys())

    async def kv_put(self, bucket: str, key: str, value: str) -> int:
        name = getattr(self.broker.names, f"{bucket}_bucket")
        return await kv_write(self.broker, name, key, value.encode())

    async def stream_leader(self, stream: str) -> str | None:
        info = await self.broker.js.stream_info(stream)
        return info.cluster.leader if info.cluster else None

    # latency and failover measurements
    async def echo_start(self, agent: str) -> None:
        """Answer every message to `agent` with a message back to its sender."""
        me = AgentId.parse(agent)

        async def loop() -> None:
            while True:
                got = await messages.fetch(self.broker, me, limit=1, wait_s=5)
                for d in got:
                    await messages.send(self.broker, me, d.message.sender, d.message.body)
                await messages.ack(got)

        self.echoes[agent] = asyncio.create_task(loop())

    async def pingpong(self, agent: str, peer: str, count: int) -> list[float]:
        """Round trips (ms): send to `peer`, wait for its echo."""
        me = AgentId.parse(agent)
        rtts = []
        for i in range(count):
            started = time.perf_counter()
            await messages.send(self.broker, me, peer, f"ping-{i}")
            got: list = []
            while not got:
                got = await messages.fetch(self.broker, me, limit=1, wait_s=5)
            await messages.ack(got)
            rtts.append((time.perf_counter() - started) * 1000)
        return rtts

    async def send_loop_start(self, name: str, sender: str, to: str) -> None:
        """Send one message after another, recording (start, end) in CLOCK_MONOTONIC, which
        every namespace shares, so the test can line them up with a kill."""
        who = AgentId.parse(sender)
        times: list = []

        async def loop() -> None:
            i = 0
            while True:
                started = time.monotonic()
                await messages.send(self.broker, who, to, f"{name}-{i}", msg_id=f"{name}-{i}")
                times.append((started, time.monotonic()))
                i += 1

        self.loops[name] = (asyncio.create_task(loop()), times)

    async def send_loop_stop(self, name: str) -> list:
        task, times = self.loops.pop(name)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        return times

    # raw nats-py over the same path, for the benchmark's baseline: a plain client with the
    # same servers, credentials and TLS, and none of the studio layer.
    async def _raw(self) -> JetStreamContext:
        if self.raw is None:
            import nats

            settings = self.broker.settings
            options: dict[str, Any] = {"servers": settings.servers(), **auth_options(settings)}
            if settings.tls_ca:
                options["tls"] = ssl.create_default_context(cafile=settings.tls_ca)
            self.raw = (await nats.connect(**options)).jetstream()
        return self.raw

    async def raw_setup(self, stream: str, subject: str) -> None:
        js = await self._raw()
        await js.add_stream(
            api.StreamConfig(
                name=stream,
                subjects=[subject],
                num_replicas=self.broker.replicas,
                storage=api.StorageType.FILE,
            )
        )
        await js.add_consumer(
            stream,
            api.ConsumerConfig(
                durable_name="c", ack_policy=api.AckPolicy.EXPLICIT, filter_subject=subject
            ),
        )

    async def raw_echo_start(self, inbound: str, outbound: str) -> None:
        js = await self._raw()
        psub = await js.pull_subscribe_bind("c", stream=inbound)

        async def loop() -> None:
            while True:
                with contextlib.suppress(Exception):
                    for msg in await psub.fetch(1, timeout=5):
                        await js.publish(outbound, msg.data)
                        await msg.ack()

        self.echoes[inbound] = asyncio.create_task(loop())

    async def raw_pingpong(self, inbound: str, outbound: str, count: int) -> list[float]:
        js = await self._raw()
        psub = await js.pull_subscribe_bind("c", stream=inbound)
        rtts = []
        for i in range(count):
            started = time.perf_counter()
            await js.publish(outbound, json.dumps({"i": i}).encode())
            [msg] = await psub.fetch(1, timeout=10)
            await msg.ack()
            rtts.append((time.perf_counter() - started) * 1000)
        return rtts


async def server_info(host: str, port: int) -> dict:
    """The INFO a server sends on connect (before any TLS or auth)."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        line = await asyncio.wait_for(reader.readline(), 5)
    finally:
        writer.close()
    return json.loads(line.decode().split(" ", 1)[1])


async def connect_anonymous(url: str, ca: str | None = None) -> str:
    """Try to connect with no credentials; returns the error (or 'connected')."""
    import nats

    options: dict[str, Any] = {"allow_reconnect": False, "connect_timeout": 3}
    if ca:
        options["tls"] = ssl.create_default_context(cafile=ca)
    try:
        nc = await nats.connect(url, **options)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    await nc.close()
    return "connected"


async def serve(agent: Agent) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    out_lock = asyncio.Lock()
    extra: dict[str, Handler] = {"server_info": server_info, "connect_anonymous": connect_anonymous}

    async def answer(payload: dict) -> None:
        async with out_lock:
            sys.stdout.write(json.dumps(payload) + "\n")
            sys.stdout.flush()

    async def handle(request: dict) -> None:
        op = request.get("op", "")
        handler = extra.get(op) or getattr(agent, op, None)
        try:
            if handler is None or op.startswith("_"):
                raise ValueError(f"unknown op {op!r}")
            result = await handler(**request.get("args", {}))
            await answer({"id": request["id"], "ok": True, "result": result})
        except Exception as exc:
            await answer(
                {"id": request["id"], "ok": False, "type": type(exc).__name__, "error": str(exc)}
            )

    pending: set[asyncio.Task] = set()
    while line := await reader.readline():
        task = asyncio.create_task(handle(json.loads(line)))
        pending.add(task)
        task.add_done_callback(pending.discard)


async def main() -> None:
    configure_logging("warning", json=True)
    overrides = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
    if "config" in overrides:
        os.environ["STUDIO_CONFIG"] = overrides.pop("config")
    try:
        settings = load_settings(**overrides)
        broker = await connect(settings, name=f"agent-proc-{socket.gethostname()}")
        await ensure_team(broker)
    except Exception as exc:
        print(json.dumps({"ready": False, "error": f"{type(exc).__name__}: {exc}"}), flush=True)
        return
    print(json.dumps({"ready": True, "replicas": broker.replicas}), flush=True)
    try:
        await serve(Agent(broker))
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(broker.close(), 5)


if __name__ == "__main__":
    asyncio.run(main())
