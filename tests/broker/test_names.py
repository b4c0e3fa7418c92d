import pytest

from broker.errors import InvalidName
from broker.names import AgentId, Names, encode_path, parse_task_id, task_id, validate_name


@pytest.mark.parametrize("name", ["a", "backend", "node-1", "9lives", "x" * 32])
def test_valid_names(name):
    assert validate_name(name) == name


@pytest.mark.parametrize(
    "name", ["", "A", "-x", "a.b", "a*", "a>", "a b", "x" * 33, "a_b", "é", "a\n", None, 5]
)
def test_invalid_names_never_reach_a_subject(name):
    with pytest.raises(InvalidName, match="must be 1-32 characters"):
        validate_name(name)


def test_agent_id_round_trip_and_token():
    agent = AgentId.parse("laptop.backend")
    assert (agent.node, agent.name, str(agent)) == ("laptop", "backend", "laptop.backend")
    assert agent.token == "laptop_backend"


@pytest.mark.parametrize("bad", ["laptop", "a.b.c", "a.*", "a.>", ".x", "x.", "a. b"])
def test_bad_agent_ids(bad):
    with pytest.raises(InvalidName):
        AgentId.parse(bad)


def test_subjects_put_sender_in_the_subject():
    names = Names("dev")
    to, sender = AgentId("b", "x"), AgentId("a", "y")
    assert names.msg_subject(to, sender) == "studio.dev.msg.b.x.a.y"
    assert names.inbox_filter(to) == "studio.dev.msg.b.x.>"
    assert names.inbox_stream("my-node") == "STUDIO_DEV_INBOX_MY_NODE"
    assert names.control_subject("b", "spawn", "a") == "studio.dev.node.b.ctl.spawn.a"
    assert names.control_requester("studio.dev.node.b.ctl.spawn.a", "b") == ("spawn", "a")
    assert names.control_requester("studio.dev.node.c.ctl.spawn.a", "b") is None
    assert names.msg_parties("studio.dev.msg.b.x.a.y") == (to, sender)
    assert names.msg_parties("studio.dev.msg.b.x.a") is None
    assert names.note_sender("studio.dev.note.a.y") == sender
    assert names.event_subject("a", "task_claimed") == "studio.dev.event.a.task_claimed"
    assert names.event_node("studio.dev.event.a.task_claimed") == "a"
    assert names.tasks_bucket == "studio_dev_tasks"


def test_task_ids():
    assert parse_task_id("T-12") == 12
    assert parse_task_id(" T-3 ") == 3
    assert task_id(7) == "T-7"
    for bad in ["12", "T-0", "T-", "t-1", "T-1.2", "T-*"]:
        with pytest.raises(InvalidName, match="T-<number>"):
            parse_task_id(bad)


def test_encode_path_is_one_kv_token():
    key = encode_path("src/app/main.py")
    assert "." not in key and "/" not in key
    assert encode_path("a") != encode_path("b")
