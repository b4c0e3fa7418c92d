"""The node-control tools against a real node daemon (`studio node run`, private tmux socket):
the request models of broker/control.py end to end."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from pathlib import Path

import pytest
from gateway_helpers import ok, text
from rawstdio import STUDIO

from broker import control
from broker.errors import StudioError


@pytest.fixture
async def daemon(broker, tmp_path):
    socket = f"studio-gw-{os.getpid()}"
    home = tmp_path / "daemon"
    home.mkdir()
    env = {
        **os.environ,
        "STUDIO_NATS_URL": ",".join(broker.settings.nats_url),
        "STUDIO_TEAM": broker.team,
        "STUDIO_NODE": "n1",
        "STUDIO_HOME": str(home),
        "STUDIO_TMUX_SOCKET": socket,
    }
    process = await asyncio.create_subprocess_exec(
        STUDIO,
        "node",
        "run",
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                await control.list_managed(broker, "n1")
                break
            except StudioError:
                assert time.monotonic() < deadline, "the node daemon did not come up"
                await asyncio.sleep(0.1)
        yield process
    finally:
        process.kill()
        await process.wait()
        killer = await asyncio.create_subprocess_exec(
            "tmux", "-L", socket, "kill-server", stderr=subprocess.DEVNULL
        )
        await killer.wait()
        tmux_dir = Path(os.environ.get("TMUX_TMPDIR", "/tmp")) / f"tmux-{os.getuid()}"
        (tmux_dir / socket).unlink(missing_ok=True)


async def test_spawn_peek_kick_stop_through_the_daemon(daemon, broker, gateway_client):
    lead = await gateway_client("n1.lead")
    spawned = await ok(lead, "spawn_agent", name="sh", kind="shell", role="helper")
    assert spawned.structured_content["agent"] == "n1.sh"
    assert "Started n1.sh (shell)" in text(spawned)
    listed = (await ok(lead, "list_agents")).structured_content["agents"]
    assert "n1.sh" in {a["id"] for a in listed}

    peek = await ok(lead, "peek_agent", agent="sh", lines=5)
    assert text(peek).startswith("n1.sh (")
    kicked = await ok(lead, "kick", agent="n1.sh", text="echo studio-kick")
    assert kicked.structured_content["agent"] == "n1.sh"

    stopped = await ok(lead, "stop_agent", agent="sh", force=True)
    assert "Stopped n1.sh." in text(stopped)
    managed = await control.list_managed(broker, "n1")
    assert "n1.sh" not in {a.id for a in managed.agents}
