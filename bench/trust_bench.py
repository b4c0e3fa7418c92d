"""What the trust boundaries cost: per-node permissions on the broker, and the validation of
every record read.

- permissions: the same studio operations (send; send → fetch → ack) against two servers
  started side by side in this run, one open, one with per-node credentials and the exact
  permission list `studio broker add-node` deploys; interleaved, so the ratio holds on a
  noisy machine;
- validation: reading one stored message with `read_message` (JSON parse plus the sender and
  recipient taken from the subject) against the bare pydantic parse, and `terminal_safe` over
  a 1 KiB body, in µs per call.

Targets: permissions add <= 10 % to p50; validation <= 5 µs per message. Last line: JSON.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import harness
from figures import percentile
from nats.aio.msg import Msg

from broker import messages
from broker.connection import Broker, connect
from broker.models import Message
from broker.names import AgentId
from broker.provision import ensure_node_inbox, ensure_team
from broker.settings import load_settings
from broker.text import terminal_safe
from studio_cli.ops import auth
from studio_cli.ops.server import single_node

TEAM, NODE = "bench", "n1"
PERMISSION_TARGET, VALIDATION_TARGET_US = 1.10, 5.0


async def _pair(root: Path) -> tuple[Broker, Broker, list]:
    open_server = single_node(root / "open", name="open")
    locked = single_node(root / "locked", name="locked")
    config, seed = auth.add_user(root / "auth", TEAM, NODE)
    admin_seed = auth.seed_path(root / "auth", auth.ADMIN)
    locked.spec.extra = auth.render_authorization(config)
    for server in (open_server, locked):
        server.start()
    home = root / "home"
    admin = await connect(
        load_settings(
            env={}, nats_url=locked.spec.url, team=TEAM, node="admin", home=home,
            creds=str(admin_seed),
        )
    )  # fmt: skip
    await ensure_team(admin)
    await ensure_node_inbox(admin, NODE)
    await admin.close()
    plain = await connect(
        load_settings(env={}, nats_url=open_server.spec.url, team=TEAM, node=NODE, home=home)
    )
    await ensure_team(plain)
    guarded = await connect(
        load_settings(
            env={}, nats_url=locked.spec.url, team=TEAM, node=NODE, home=home, creds=str(seed)
        )
    )
    return plain, guarded, [open_server, locked]


async def _timed(operation) -> float:
    started = time.perf_counter()
    await operation()
    return (time.perf_counter() - started) * 1000


async def permissions(plain: Broker, guarded: Broker, samples: int) -> dict:
    me, peer = AgentId(NODE, "me"), AgentId(NODE, "peer")
    from broker import agents

    for broker in (plain, guarded):
        await agents.register(broker, me)
        await agents.register(broker, peer)
    figures: dict[str, dict[str, list[float]]] = {
        "open": {"send": [], "round_trip": []},
        "credentials": {"send": [], "round_trip": []},
    }

    async def round_trip(broker: Broker) -> None:
        await messages.send(broker, me, str(peer), "ping")
        got = await messages.fetch(broker, peer, limit=1, wait_s=1)
        await messages.ack(got)

    for i in range(samples):
        order = [("open", plain), ("credentials", guarded)]
        for label, broker in order if i % 2 else reversed(order):
            figures[label]["send"].append(
                await _timed(lambda b=broker: messages.send(b, me, str(me), "x"))
            )
            figures[label]["round_trip"].append(await _timed(lambda b=broker: round_trip(b)))
    result = {}
    for label, series in figures.items():
        for name, values in series.items():
            result[f"{label}_{name}_p50_ms"] = round(percentile(values, 50), 3)
            result[f"{label}_{name}_p99_ms"] = round(percentile(values, 99), 3)
    for name in ("send", "round_trip"):
        result[f"{name}_ratio"] = round(
            result[f"credentials_{name}_p50_ms"] / result[f"open_{name}_p50_ms"], 3
        )
    return result


def validation(broker: Broker, iterations: int) -> dict:
    body = "please refactor the parser; " * 37  # ~1 KiB
    message = Message(sender="n1.me", to="n1.peer", body=body)
    msg = Msg(
        _client=broker.nc,
        subject=broker.names.msg_subject(AgentId("n1", "peer"), AgentId("n1", "me")),
        data=message.model_dump_json().encode(),
    )

    def per_call(fn) -> float:
        started = time.perf_counter()
        for _ in range(iterations):
            fn()
        return (time.perf_counter() - started) / iterations * 1e6

    bare = per_call(lambda: Message.model_validate_json(msg.data))
    checked = per_call(lambda: messages.read_message(broker, msg))
    safe = per_call(lambda: terminal_safe(body))
    return {
        "parse_us": round(bare, 2),
        "read_message_us": round(checked, 2),
        "validation_overhead_us": round(checked - bare, 2),
        "terminal_safe_1kib_us": round(safe, 2),
    }


async def run(args) -> dict:
    samples, iterations = (200, 5_000) if args.quick else (1_000, 50_000)
    with tempfile.TemporaryDirectory(prefix="trust-bench-") as tmp:
        plain, guarded, servers = await _pair(Path(tmp))
        try:
            result = await permissions(plain, guarded, samples)
            result |= validation(plain, iterations)
        finally:
            await plain.close()
            await guarded.close()
            for server in servers:
                server.stop()
    result["all_targets_met"] = (
        result["send_ratio"] <= PERMISSION_TARGET
        and result["round_trip_ratio"] <= PERMISSION_TARGET
        and result["validation_overhead_us"] <= VALIDATION_TARGET_US
    )
    return {"bench": "trust", "samples": samples, **result}


def table(r: dict) -> str:
    return "\n".join(
        [
            "per-node permissions vs an open server (same run, interleaved), p50 / p99 ms",
            f"send        open {r['open_send_p50_ms']} / {r['open_send_p99_ms']}   "
            f"credentials {r['credentials_send_p50_ms']} / {r['credentials_send_p99_ms']}   "
            f"ratio {r['send_ratio']}",
            f"round trip  open {r['open_round_trip_p50_ms']} / {r['open_round_trip_p99_ms']}   "
            f"credentials {r['credentials_round_trip_p50_ms']} / "
            f"{r['credentials_round_trip_p99_ms']}   ratio {r['round_trip_ratio']}",
            f"validation  parse {r['parse_us']} µs, read_message {r['read_message_us']} µs "
            f"(+{r['validation_overhead_us']} µs), terminal_safe 1 KiB "
            f"{r['terminal_safe_1kib_us']} µs",
            f"targets: permissions <= {PERMISSION_TARGET}x, validation <= "
            f"{VALIDATION_TARGET_US} µs: {'met' if r['all_targets_met'] else 'MISSED'}",
        ]
    )


def main() -> int:
    return harness.run_async(harness.parser(__doc__ or "").parse_args(), run, table)


if __name__ == "__main__":
    sys.exit(main())
