"""`studio status`: a glance that stays short at any team size, and says why agents are
offline when this node's daemon is not running."""

from __future__ import annotations

import io
import json

from rich.console import Console

from broker import agents, presence
from broker.models import AgentInfo, AgentKind, AgentState
from broker.names import AgentId
from studio_cli.status_cmd import AGENT_ROWS, TASK_ROWS, render, snapshot


def _agent(agent_id: str, state: str = "idle", changed: int = 0) -> dict:
    node, name = agent_id.split(".")
    return {
        "id": agent_id, "node": node, "name": name, "state": state, "state_detail": "",
        "kind": "claude", "role": "", "summary": "", "task": None, "tasks": [],
        "cwd": "", "repo": "", "branch": "main" if changed else "",
        "changed_files": [f"f{i}.py" for i in range(changed)], "tmux_target": "",
        "unread": 0, "last_heartbeat": None,
    }  # fmt: skip


def _task(number: int, status: str = "open") -> dict:
    return {
        "id": f"T-{number}", "title": f"task {number}", "status": status, "assignee": None,
        "created_by": "a.cli", "priority": 0, "depends_on": [], "labels": [],
        "created_at": "2026-01-01T00:00:00+00:00", "updated_at": "2026-01-01T00:00:00+00:00",
    }  # fmt: skip


def _data(agents_: list[dict], tasks_: list[dict], **extra: object) -> dict:
    return {
        "team": "main", "node": "a", "me": "a.cli", "generated_at": "2026-01-01T00:00:00+00:00",
        "broker": {"servers": ["nats://127.0.0.1:4222"], "embedded": True},
        "agents": agents_, "tasks": {"counts": {}, "items": tasks_}, "leases": [], "events": [],
        **extra,
    }  # fmt: skip


def _text(data: dict, every: bool = False) -> str:
    out = io.StringIO()
    Console(file=out, width=200).print(render(data, every=every))
    return out.getvalue()


def test_a_large_team_is_summarised_per_node_and_offline_ids_fold_into_one_line():
    team = [_agent(f"a.w{i}") for i in range(10)]
    team += [_agent(f"b.w{i}", "busy" if i % 2 else "idle") for i in range(40)]
    team += [_agent(f"c.old{i}", "offline") for i in range(8)]
    shown = _text(_data(team, []))
    assert all(f"a.w{i} " in shown for i in range(10))  # this node's agents, each
    assert "b.w1 " not in shown and "b: 40 agents (20 idle, 20 busy)" in shown
    assert "c.old0" in shown and "and 3 more" in shown and "c.old7" not in shown
    assert "--all" in shown
    every = _text(_data(team, []), every=True)
    assert all(f"b.w{i} " in every for i in range(40)) and "c.old7" in every


def test_a_small_team_is_listed_in_full():
    team = [_agent(f"b.w{i}") for i in range(AGENT_ROWS)] + [_agent("c.gone", "offline")]
    team = team[:AGENT_ROWS]
    shown = _text(_data(team, []))
    assert all(a["id"] in shown for a in team) and "--all" not in shown


def test_the_board_shows_a_bounded_number_of_unfinished_tasks():
    board = [_task(i) for i in range(1, 101)] + [_task(200 + i, "done") for i in range(20)]
    shown = _text(_data([], board))
    assert f"T-{TASK_ROWS} " in shown and f"T-{TASK_ROWS + 1} " not in shown
    assert f"… {100 - TASK_ROWS} more unfinished" in shown
    assert "T-100 " in _text(_data([], board), every=True)


def test_the_branch_column_says_how_many_files_changed():
    assert "main · 2 changed" in _text(_data([_agent("a.x", changed=2)], []))


def test_a_dead_daemon_is_named_as_the_reason_agents_are_offline():
    shown = _text(_data([_agent("a.x", "offline")], [], daemon_running=False))
    assert "daemon (a) is not running" in shown and "studio up" in shown
    assert "not running" not in _text(_data([_agent("a.x", "offline")], [], daemon_running=None))


async def test_snapshot_asks_the_daemon_only_when_this_nodes_agents_are_all_offline(
    broker_factory,
):
    broker = await broker_factory(node="n1")
    await agents.register(broker, AgentId("n1", "coder"), AgentKind.claude)
    data = await snapshot(broker, broker.settings)
    assert data["daemon_running"] is False  # no daemon serves this node in this test
    info = AgentInfo(id="n1.coder", node="n1", state=AgentState.idle, kind=AgentKind.claude)
    await presence.heartbeat(broker, info)
    assert (await snapshot(broker, broker.settings))["daemon_running"] is None


async def test_unread_counts_are_read_for_this_nodes_agents_only(broker_factory):
    here = await broker_factory(node="n1")
    await agents.register(here, AgentId("n1", "mine"))
    await agents.register(here, AgentId("n2", "theirs"))
    data = await snapshot(here, here.settings)
    unread = {a["id"]: a["unread"] for a in data["agents"]}
    assert unread == {"n1.mine": 0, "n2.theirs": None}
    json.dumps(data)  # the documented JSON form stays serialisable


def test_status_of_a_team_that_does_not_exist_says_so(studio):
    code, _, err = studio("--team", "typo", "status")
    assert code != 0 and "team 'typo' does not exist on this broker" in err, err
