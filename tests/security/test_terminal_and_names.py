"""Nothing a message contains reaches a terminal as keystrokes or escape sequences, and no
name can widen a subject. Hypothesis throws arbitrary text at every place it could enter."""

from __future__ import annotations

import io
import re

from hypothesis import given
from hypothesis import strategies as st

from broker.errors import StudioError
from broker.models import AgentKind, Message
from broker.names import AgentId, Names, encode_path
from broker.text import terminal_safe
from node_agent.wake import pointer_text
from studio_cli.output import TerminalSafe, message_block

CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
POINTER = re.compile(
    r"\[studio\] \d+ new messages?( from [a-z0-9-]+\.[a-z0-9-]+(, [a-z0-9-]+\.[a-z0-9-]+)*)?"
    r" — call check_inbox to read them"
)
hostile = st.text(
    alphabet=st.sampled_from(list("ab ;|&$`'\"\n\r\t\x1b[]0123456789;mHJ\x07\x9b\x00\x7fc.-_")),
    max_size=80,
) | st.text(max_size=80)


@given(hostile)
def test_terminal_safe_leaves_no_control_characters(text: str) -> None:
    multi = terminal_safe(text)
    assert not CONTROL.search(multi) and "\x1b" not in multi
    one = terminal_safe(text, multiline=False)
    assert not CONTROL.search(one) and "\n" not in one and "\t" not in one


@given(hostile, hostile, hostile)
def test_printed_messages_are_terminal_safe(sender: str, subject: str, body: str) -> None:
    out = io.StringIO()
    m = Message(sender=sender or "x", to="a.b", subject=subject, body=body or "x")
    TerminalSafe(out).write(message_block(m) + "\n")
    assert not CONTROL.search(out.getvalue())


@given(st.lists(hostile, min_size=1, max_size=5))
def test_the_wake_pointer_holds_only_fixed_words_and_valid_ids(senders: list[str]) -> None:
    mail = [Message(sender=s or "x", to="a.b", body="hi") for s in senders]
    for kind in (AgentKind.claude, AgentKind.codex, AgentKind.opencode, AgentKind.other):
        assert POINTER.fullmatch(pointer_text(kind, mail, len(mail)))
    assert pointer_text(AgentKind.shell, mail, len(mail)) == "studio inbox --new"


@given(hostile, hostile)
def test_names_never_widen_a_subject(node: str, name: str) -> None:
    try:
        agent = AgentId(node, name)
    except StudioError:
        return
    subject = Names("t").msg_subject(agent, agent)
    assert not set(subject) & set(" *>\t\n\r") and subject.count(".") == 6


@given(hostile)
def test_lease_paths_become_plain_kv_keys(path: str) -> None:
    key = encode_path(path)
    assert re.fullmatch(r"[A-Za-z0-9_=-]+", key), key
