"""Identities and every NATS name the studio uses, built in one place.

Names reach NATS subjects, so validation here is what keeps `.`, `*`, `>` and spaces
out of the subject space: a name that passes can never widen a subscription or a
permission.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass

from broker.errors import InvalidName, StudioError

NAME_RULE = "1-32 characters: lowercase letters, digits and '-', starting with a letter or digit"
_NAME_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,31}")
_TASK_RE = re.compile(r"T-([1-9][0-9]{0,9})")


def subject_matches(pattern: str, subject: str) -> bool:
    """NATS wildcard matching (`*` one token, `>` the rest), for subjects and KV keys alike."""
    want, have = pattern.split("."), subject.split(".")
    for i, token in enumerate(want):
        if token == ">":
            return len(have) > i
        if i >= len(have) or (token != "*" and token != have[i]):
            return False
    return len(want) == len(have)


def inbox_prefix(team: str, node: str) -> str:
    """Where a node's request replies arrive (nats-py `inbox_prefix=`); only it may subscribe."""
    return f"_INBOX_{team}_{node}"


def validate_name(value: str, what: str = "name") -> str:
    """Return `value` if it is a valid team, node or agent name, else raise InvalidName."""
    if not isinstance(value, str) or not _NAME_RE.fullmatch(value):
        raise InvalidName(f"invalid {what} {value!r}: must be {NAME_RULE}")
    return value


@dataclass(frozen=True, order=True)
class AgentId:
    """`node.name`: node names are unique per team, so ids never collide across machines."""

    node: str
    name: str

    def __post_init__(self) -> None:
        validate_name(self.node, "node name")
        validate_name(self.name, "agent name")

    def __str__(self) -> str:
        return f"{self.node}.{self.name}"

    @property
    def token(self) -> str:
        """A form usable as a consumer or durable name (no dots); '_' is not a name character."""
        return f"{self.node}_{self.name}"

    @classmethod
    def parse(cls, value: str) -> AgentId:
        if not isinstance(value, str) or value.count(".") != 1:
            raise InvalidName(f"invalid agent id {value!r}: expected NODE.NAME, each {NAME_RULE}")
        node, name = value.split(".")
        return cls(node, name)


def is_full_id(value: str) -> bool:
    """Written as `node.name` (not checked further: see `is_valid_id`)."""
    return isinstance(value, str) and "." in value


def is_valid_id(value: str) -> bool:
    """A well-formed agent id, safe to show or type anywhere."""
    try:
        AgentId.parse(value)
    except StudioError:
        return False
    return True


def parse_task_id(value: str) -> int:
    """`T-12` → 12. Task ids are short so a human (or model) can type them."""
    match = _TASK_RE.fullmatch(value.strip()) if isinstance(value, str) else None
    if not match:
        raise InvalidName(f"invalid task id {value!r}: expected T-<number>, e.g. T-12")
    return int(match.group(1))


def task_id(number: int) -> str:
    return f"T-{number}"


def encode_path(path: str) -> str:
    """A file path as a single KV key token (paths carry '.' and '/', which KV keys split on)."""
    return base64.urlsafe_b64encode(path.encode()).decode().rstrip("=") or "_"


@dataclass(frozen=True)
class Names:
    """Subjects, streams and buckets of one team."""

    team: str

    def __post_init__(self) -> None:
        validate_name(self.team, "team name")

    @property
    def prefix(self) -> str:
        return f"studio.{self.team}"

    @property
    def _upper(self) -> str:
        return self.team.upper().replace("-", "_")

    # messages
    def msg_subject(self, to: AgentId, sender: AgentId) -> str:
        return f"{self.prefix}.msg.{to.node}.{to.name}.{sender.node}.{sender.name}"

    def msg_parties(self, subject: str) -> tuple[AgentId, AgentId] | None:
        """(recipient, sender) named by a message's subject: the broker lets a node publish
        only with its own agents as the sender there, so this, not the body, says who sent
        it. None for a subject that is not a message's."""
        head = f"{self.prefix}.msg."
        tokens = subject[len(head) :].split(".") if subject.startswith(head) else []
        if len(tokens) != 4:
            return None
        try:
            return AgentId(tokens[0], tokens[1]), AgentId(tokens[2], tokens[3])
        except StudioError:
            return None

    def inbox_filter(self, agent: AgentId) -> str:
        return f"{self.prefix}.msg.{agent.node}.{agent.name}.>"

    def node_inbox_subjects(self, node: str) -> str:
        return f"{self.prefix}.msg.{node}.>"

    def inbox_stream(self, node: str) -> str:
        return f"STUDIO_{self._upper}_INBOX_{node.upper().replace('-', '_')}"

    # notes and events
    def note_subject(self, sender: AgentId) -> str:
        return f"{self.prefix}.note.{sender.node}.{sender.name}"

    def note_sender(self, subject: str) -> AgentId | None:
        """The author a note's subject names (enforced per node, like a message's sender)."""
        head = f"{self.prefix}.note."
        tokens = subject[len(head) :].split(".") if subject.startswith(head) else []
        try:
            return AgentId(tokens[0], tokens[1]) if len(tokens) == 2 else None
        except StudioError:
            return None

    @property
    def notes_stream(self) -> str:
        return f"STUDIO_{self._upper}_NOTES"

    def event_subject(self, node: str, kind: str) -> str:
        """`node` is the emitter: a node may publish events only under its own name."""
        return f"{self.prefix}.event.{node}.{kind}"

    def flow_subject(self, node: str) -> str:
        """Notices of who wrote to whom (broker.messages.flow): `node` is the sender's, the
        only one its credentials may publish under. No stream stores them."""
        return f"{self.prefix}.flow.{node}"

    def flow_node(self, subject: str) -> str | None:
        head = f"{self.prefix}.flow."
        tail = subject[len(head) :] if subject.startswith(head) else ""
        return tail if tail and "." not in tail else None

    def event_filter(self, kind: str | None) -> str:
        return f"{self.prefix}.event.*.{kind}" if kind else f"{self.prefix}.event.>"

    def event_node(self, subject: str) -> str | None:
        head = f"{self.prefix}.event."
        tokens = subject[len(head) :].split(".") if subject.startswith(head) else []
        return tokens[0] if len(tokens) == 2 else None

    @property
    def events_stream(self) -> str:
        return f"STUDIO_{self._upper}_EVENTS"

    # buckets
    @property
    def tasks_bucket(self) -> str:
        return f"studio_{self.team.replace('-', '_')}_tasks"

    @property
    def agents_bucket(self) -> str:
        """Presence: per-key TTL, so an agent whose heartbeats stop disappears."""
        return f"studio_{self.team.replace('-', '_')}_agents"

    @property
    def registry_bucket(self) -> str:
        """Registered agents: durable, so an offline agent still has an address and an inbox."""
        return f"studio_{self.team.replace('-', '_')}_registry"

    @property
    def cursors_bucket(self) -> str:
        """Per-agent read positions in shared streams (notes): each node writes only its own."""
        return f"studio_{self.team.replace('-', '_')}_cursors"

    @property
    def leases_bucket(self) -> str:
        return f"studio_{self.team.replace('-', '_')}_leases"

    # node control
    def control_subject(self, node: str, verb: str, requester: str) -> str:
        """A request to `node`'s daemon. The last token is the requesting node: a node may
        publish control requests only under its own name, so the daemon reads who asks from
        here (a reply subject, by contrast, is whatever the requester sets)."""
        return f"{self.prefix}.node.{node}.ctl.{verb}.{requester}"

    def control_requester(self, subject: str, node: str) -> tuple[str, str] | None:
        """(verb, requesting node) of a request to `node`'s control service."""
        head = f"{self.prefix}.node.{node}.ctl."
        tokens = subject[len(head) :].split(".") if subject.startswith(head) else []
        return (tokens[0], tokens[1]) if len(tokens) == 2 else None
