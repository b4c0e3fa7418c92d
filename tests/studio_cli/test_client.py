"""studio_cli/client.py: a broker that cannot be reached is named with its cause, in a
second or two, with a hint that fits where the command runs; `--as` takes only registered
names."""

from __future__ import annotations

import json
import socket
import time

import pytest

from broker.errors import BrokerUnavailable
from broker.settings import load_settings
from studio_cli.client import check_reachable
from studio_cli.ops.server import free_port
from tests.studio_cli.conftest import one_line_error


def silent_server() -> socket.socket:
    """Accepts TCP connections and never says a word (a stopped or wedged server)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    return sock


def test_a_refused_port_is_named_at_once(studio, monkeypatch):
    monkeypatch.setenv("STUDIO_NATS_URL", f"nats://127.0.0.1:{free_port()}")
    started = time.monotonic()
    one_line_error(
        studio("send", "bob", "hi"), "connection refused (nothing listens", "STUDIO_NATS_URL"
    )
    assert time.monotonic() - started < 3


def test_a_port_that_never_greets_is_named_within_seconds(studio, monkeypatch):
    with silent_server() as server:
        monkeypatch.setenv("STUDIO_NATS_URL", f"nats://127.0.0.1:{server.getsockname()[1]}")
        started = time.monotonic()
        result = studio("tasks")
    one_line_error(result, "no NATS greeting", "not a NATS port")
    assert ": ." not in result[2]
    assert time.monotonic() - started < 5


async def test_inside_studio_up_the_hint_is_the_log_not_studio_up(tmp_path):
    settings = load_settings(env={}, home=tmp_path, team="t", node="n1")
    settings.embedded_record.parent.mkdir(parents=True, exist_ok=True)
    settings.embedded_record.write_text(
        # A pid above the kernel's pid_max: the embedded broker is gone.
        json.dumps({"url": f"nats://127.0.0.1:{free_port()}", "pid": 2**22 + 1})
    )
    with pytest.raises(BrokerUnavailable) as inside:
        await check_reachable(settings, inside_up=True)
    assert "`studio up`" not in str(inside.value) and "broker.log" in str(inside.value)
    with pytest.raises(BrokerUnavailable) as outside:
        await check_reachable(settings)
    assert "start it with `studio up`" in str(outside.value)


def test_as_takes_only_registered_names(studio):
    assert studio("inbox")[0] == 0  # the default identity registers itself: n1.cli
    one_line_error(
        studio("send", "n1.cli", "hi", "--as", "ghost"),
        "unknown agent 'n1.ghost'",
        "n1.cli",
        "`studio register ghost`",
    )
    one_line_error(studio("tasks", "add", "x", "--as", "n1.ghost"), "unknown agent 'n1.ghost'")
    status = json.loads(studio("status", "--json", "--events", "0")[1])
    assert [a["id"] for a in status["agents"]] == ["n1.cli"]  # no ghost left behind

    code, out, _ = studio("register", "ghost", "--role", "reviewer")
    assert code == 0 and "registered n1.ghost" in out
    assert "was registered already" in studio("register", "n1.ghost")[1]
    code, out, _ = studio("send", "n1.cli", "hi", "--as", "ghost")
    assert code == 0 and "sent to n1.cli" in out
