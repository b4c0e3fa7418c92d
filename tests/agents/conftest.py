"""The real agent CLIs (pinned in tests/agents/package.json, installed by `make test`) in
studio tmux windows, each talking to the fake model server on 127.0.0.1.

Each test gets a team on the session's nats-server, a node daemon on a private tmux socket,
and a fake model it scripts. Agents are spawned through the daemon's control service exactly
as `studio spawn` does it, with the CLI's provider settings passed as the window's `env`.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from broker import control, messages, presence
from broker.models import AgentInfo, AgentKind
from broker.names import AgentId
from tests.agents import cli_claude, cli_codex, cli_opencode
from tests.agents.installed import CLIS
from tests.agents.model_script import Script, Turn
from tests.agents.model_server import serve
from tests.node_agent.conftest import Studio, studio  # noqa: F401 (fixture)

PREPARE = {
    AgentKind.claude: cli_claude.prepare,
    AgentKind.codex: cli_codex.prepare,
    AgentKind.opencode: cli_opencode.prepare,
}
LEAD = AgentId("lead", "boss")


def program(kind: AgentKind) -> str:
    path = CLIS / kind.value
    if not path.exists():
        pytest.skip(f"{kind.value} is not installed in {CLIS}: `make agent-clis` installs it")
    return str(path)


@pytest.fixture
def model() -> Iterator[tuple[str, Script]]:
    with serve() as served:
        yield served


@dataclass
class CliAgent:
    """One real CLI in a studio window, and the test's handles on it."""

    studio: Studio
    id: AgentId
    kind: AgentKind
    script: Script

    @property
    def target(self) -> str:
        return f"studio-{self.studio.team}:{self.id.name}"

    def screen(self) -> str:
        done = subprocess.run(
            [
                "tmux",
                "-L",
                self.studio.socket(self.id.node),
                "capture-pane",
                "-p",
                "-J",
                "-t",
                self.target,
            ],
            capture_output=True,
            text=True,
        )
        return done.stdout

    def keys(self, *keys: str) -> None:
        """A person at the keyboard (tests only; the daemon pastes, never sends keys)."""
        subprocess.run(
            ["tmux", "-L", self.studio.socket(self.id.node), "send-keys", "-t", self.target, *keys],
            check=True,
        )

    async def info(self) -> AgentInfo | None:
        assert self.studio.broker is not None
        return (await presence.live(self.studio.broker)).get(str(self.id))

    async def state(self) -> str:
        assert self.studio.broker is not None
        listed = await control.list_managed(self.studio.broker, self.id.node)
        return next((a.state for a in listed.agents if a.id == str(self.id)), "gone")

    async def wait_state(self, wanted: str, within: float = 30) -> None:
        deadline = time.monotonic() + within
        while (current := await self.state()) != wanted:
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.id} is {current}, not {wanted}\n{self.evidence()}")
            await asyncio.sleep(0.1)

    async def send(self, body: str, subject: str = "") -> None:
        assert self.studio.broker is not None
        await messages.send(self.studio.broker, LEAD, str(self.id), body, subject=subject)

    async def unread(self) -> int:
        assert self.studio.broker is not None
        return await messages.unread_count(self.studio.broker, self.id)

    async def wait_turn(self, predicate: Callable[[Turn], bool], within: float = 30) -> Turn:
        try:
            return await asyncio.to_thread(self.script.wait_for, predicate, within)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{self.evidence()}") from None

    def evidence(self) -> str:
        """The screen and the daemon's last log lines, for a failure message."""
        log = self.studio.daemons["n1"].log_path
        tail = log.read_text()[-3000:] if log.exists() else ""
        return f"--- screen of {self.id}:\n{self.screen()}\n--- daemon log:\n{tail}"


@dataclass
class Team:
    studio: Studio
    base_url: str
    script: Script
    root: Path

    async def spawn(
        self, kind: AgentKind, name: str, prompt: str = "", **prepare_options: object
    ) -> CliAgent:
        assert self.studio.broker is not None
        cwd = self.root / f"work-{name}"
        cwd.mkdir(parents=True, exist_ok=True)
        env = PREPARE[kind](self.root / f"home-{name}", cwd, self.base_url, **prepare_options)
        await control.spawn(
            self.studio.broker,
            "n1",
            control.SpawnRequest(
                name=name,
                kind=kind,
                command=program(kind),
                cwd=str(cwd),
                prompt=prompt,
                env=env,
                requested_by=str(LEAD),
            ),
        )
        return CliAgent(self.studio, AgentId("n1", name), kind, self.script)


@pytest.fixture
async def team(
    studio: Studio,  # noqa: F811 (the fixture imported above)
    model: tuple[str, Script],
    tmp_path: Path,
) -> AsyncIterator[Team]:
    await studio.start_daemon("n1")
    yield Team(studio, model[0], model[1], tmp_path)


def pointer(turn: Turn) -> bool:
    """An agent turn a studio pointer started (side requests, e.g. titles, excluded)."""
    return not turn.side and "[studio]" in turn.last_user and not turn.last_is_tool_result


def saw(token: str) -> Callable[[Turn], bool]:
    """An agent turn whose request carries `token` anywhere."""
    return lambda turn: not turn.side and token in turn.text
