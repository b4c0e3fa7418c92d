"""A node daemon on host b, driven from host a through the cluster with per-node credentials:
remote spawn (with and without a first prompt), a message across hosts that wakes the new
agent, and a peek at its screen."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.multihost.conftest import Site
from tests.multihost.netlab import RemoteError

STUDIO = str(Path(sys.executable).parent / "studio")


async def screen_showing(a, agent: str, text: str, within: float = 20) -> str:
    """b's screen of `agent`, peeked from a until it shows `text`."""
    deadline = time.monotonic() + within
    screen = ""
    while text not in screen:
        assert time.monotonic() < deadline, f"screen:\n{screen}"
        await asyncio.sleep(0.3)
        screen = await a.call("control_peek", node="b", agent=agent)
    return screen


async def event_seen(a, kind: str, within: float = 10) -> None:
    """Events are published without waiting for the stream: give one a moment to land."""
    deadline = time.monotonic() + within
    while kind not in await a.call("events_recent"):
        assert time.monotonic() < deadline, f"no {kind} event"
        await asyncio.sleep(0.2)


async def start_daemon(site: Site, env: dict[str, str], log: Path) -> asyncio.subprocess.Process:
    with log.open("ab") as out:
        return await asyncio.create_subprocess_exec(
            *site.lab.exec_prefix("b"), STUDIO, "--log-level", "info", "node", "run",
            env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip


async def daemon_answers(a, log: Path) -> None:
    deadline = time.monotonic() + 20
    while True:
        try:
            await a.call("control_list", node="b")
            return
        except RemoteError:
            assert time.monotonic() < deadline, f"daemon b never answered; see {log}"
            await asyncio.sleep(0.2)


async def test_spawn_message_and_peek_on_another_host(site: Site, tmp_path: Path) -> None:
    deployment = site.deploy()
    socket = f"studio-mh-{os.getpid()}"
    config = deployment.directory / "studio-b.toml"
    (tmp_path / "user-b").mkdir()
    env = {
        **os.environ,
        "HOME": str(tmp_path / "user-b"),  # b's shells run none of this machine's rc files
        "STUDIO_CONFIG": str(config),
        "STUDIO_HOME": str(tmp_path / "home-b"),
        "STUDIO_TMUX_SOCKET": socket,
    }
    log = tmp_path / "daemon-b.log"
    daemon = await start_daemon(site, env, log)
    try:
        a = await site.agent(deployment, "a")
        await a.call("register", agent="a.lead")
        await daemon_answers(a, log)
        assert await a.call("control_list", node="b") == []
        # b's default policy: other nodes may not start a shell there, whatever they claim.
        with pytest.raises(RemoteError) as refused:
            await a.call(
                "control_spawn", node="b", name="worker", kind="shell", cwd=str(tmp_path),
                requested_by="b.lead",
            )  # fmt: skip
        assert "starts only claude, codex or opencode" in refused.value.message
        await event_seen(a, "control_refused")
        assert await a.call("control_list", node="b") == []
        # b's person opens its control to the team; the rest of the test needs shells there.
        daemon.kill()
        await daemon.wait()
        opened = tmp_path / "studio-b-open.toml"
        opened.write_text(config.read_text() + '\nremote_control = "all"\n')
        env["STUDIO_CONFIG"] = str(opened)
        daemon = await start_daemon(site, env, log)
        await daemon_answers(a, log)
        agent = await a.call(
            "control_spawn", node="b", name="worker", kind="shell", cwd=str(tmp_path)
        )
        assert agent == "b.worker"
        assert await a.call("control_list", node="b") == ["b.worker"]
        await asyncio.sleep(1.0)  # let the shell draw its prompt
        await a.call("send", sender="a.lead", to="b.worker", body="build the docs please")
        # b's daemon types `studio inbox --new` into the idle shell; the mail shows on screen.
        await screen_showing(a, "worker", "build the docs please")
        # A first prompt, under b's credentials: b's daemon sends it as b.studio and names
        # the requester, which must be one of a's own agents to count.
        planner = await a.call(
            "control_spawn", node="b", name="planner", kind="shell", cwd=str(tmp_path),
            prompt="write the release notes", requested_by="a.lead",
        )  # fmt: skip
        assert planner == "b.planner"
        screen = await screen_showing(a, "planner", "write the release notes")
        assert "b.studio" in screen and "your task from a.lead" in screen, screen
        for name in ("worker", "planner"):
            assert await a.call("control_stop", node="b", agent=name) is True
        assert await a.call("control_list", node="b") == []
    finally:
        daemon.kill()
        await daemon.wait()
        tmux = await asyncio.create_subprocess_exec(
            "tmux", "-L", socket, "kill-server", stderr=subprocess.DEVNULL
        )
        await tmux.wait()
