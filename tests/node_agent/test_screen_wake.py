import os
import subprocess
import sys
import time
from pathlib import Path

from broker.models import AgentKind, AgentState, Message
from node_agent.screen import shell_state
from node_agent.state import LocalAgent, Source
from node_agent.wake import may_type_into, pointer_text


def test_shell_state_is_its_foreground_process():
    assert shell_state("bash") == AgentState.idle
    assert shell_state("python3") == AgentState.busy


def test_pointer_text():
    mail = [Message(sender="a.x", to="b.y", body="hi"), Message(sender="a.z", to="b.y", body="yo")]
    assert pointer_text(AgentKind.shell, mail, 2) == "studio inbox --new"
    text = pointer_text(AgentKind.claude, mail, 2)
    assert "2 new messages from a.x, a.z" in text and "check_inbox" in text


def test_never_type_into_a_busy_or_asking_agent():
    from broker.names import AgentId

    agent = LocalAgent(AgentId("n", "a"), AgentKind.claude, "%1", "@1", "/")
    now = time.monotonic()
    for state in (AgentState.busy, AgentState.waiting_input, AgentState.starting):
        agent.set_state(state, Source.hook)
        assert not may_type_into(agent, now, 0)
    agent.set_state(AgentState.idle, Source.hook)
    assert not may_type_into(agent, now, 0), "its studio MCP server is not connected yet"
    agent.mcp_ready = True
    assert may_type_into(agent, now, 0)
    agent.last_wake = now
    assert not may_type_into(agent, now + 1, cooldown_s=5)
    agent.wake_failed("the turn failed")
    assert not may_type_into(agent, now + 6, cooldown_s=5), "backing off"
    assert "next wake in 30s" in agent.detail
    agent.turn_completed()
    assert may_type_into(agent, now + 6, cooldown_s=5)


def test_hook_without_daemon_is_silent_and_fast(tmp_path):
    env = {**os.environ, "STUDIO_AGENT_ID": "n.a", "STUDIO_HOME": str(tmp_path)}
    studio = str(Path(sys.executable).parent / "studio")
    done = subprocess.run(
        [studio, "hook", "PostToolUse"], input=b"{}", env=env, capture_output=True
    )
    assert done.returncode == 0 and done.stdout == b""
