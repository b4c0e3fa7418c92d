"""Which control requests a node's daemon accepts from which node.

The requesting node comes from the request's subject, which the broker lets each node
publish only under its own name; nothing in the request body counts for it. The node
itself (its person, its agents' MCP tools, its CLI) may do anything. Other nodes of the team
get what the node's `remote_control` setting allows:

- `agents` (default): start the known agent CLIs with studio's own command lines, stop,
  kick (typing text only into agent CLIs, never into a shell or another program);
- `all`: also arbitrary command lines, shell agents and text typed into them;
- `none`: nothing but listing (and peeking, see below).

`remote_peek` (default on) lets other nodes read an agent's screen; a screen can show mail
that agent has printed, which is why it can be turned off.
"""

from __future__ import annotations

from broker.control import ControlRequest, KickRequest, SpawnRequest, Verb
from broker.models import AgentKind
from broker.names import AgentId, is_valid_id
from broker.settings import Settings

AGENT_CLIS = frozenset({AgentKind.claude, AgentKind.codex, AgentKind.opencode})


def refusal(
    settings: Settings,
    requester: str,
    verb: Verb,
    request: ControlRequest,
    target_kind: AgentKind | None = None,
) -> str | None:
    """Why `requester` may not do this here, or None when it may."""
    if requester == settings.node or verb == Verb.list:
        return None
    here = f"node {settings.node}"
    if verb == Verb.peek:
        if settings.remote_peek:
            return None
        return f"{here} does not show its screens to other nodes (remote_peek = false)"
    mode = settings.remote_control
    if mode == "all":
        return None
    if mode == "none":
        return f"{here} takes no {verb.value} requests from other nodes (remote_control = none)"
    if isinstance(request, SpawnRequest) and (
        request.kind not in AGENT_CLIS or request.command or request.env
    ):
        return (
            f"{here} starts only claude, codex or opencode with studio's own command lines "
            f"for other nodes; a shell, a command line or environment variables must be "
            f'asked for on {settings.node} itself (or set remote_control = "all" there)'
        )
    if isinstance(request, KickRequest) and request.text and target_kind not in AGENT_CLIS:
        return (
            f"{here} types text only into agent CLIs for other nodes; a shell or program "
            f"agent takes typed text only from {settings.node} itself"
        )
    return None


def requested_by(request: ControlRequest, requester: str) -> str:
    """Who asked, for messages and events: the agent the request names when it is one of
    the requesting node's own, else the node itself."""
    claimed = request.requested_by
    if is_valid_id(claimed) and AgentId.parse(claimed).node == requester:
        return claimed
    return f"{requester}.cli"
