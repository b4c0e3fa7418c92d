import pytest

from broker.errors import InvalidInput
from broker.settings import default_node, load_settings


def test_env_overrides_toml(tmp_path):
    (tmp_path / "studio.toml").write_text(
        'team = "fromtoml"\nnode = "tomlnode"\nheartbeat_s = 2.5\n'
    )
    s = load_settings(env={"STUDIO_HOME": str(tmp_path), "STUDIO_TEAM": "fromenv"})
    assert (s.team, s.node, s.heartbeat_s) == ("fromenv", "tomlnode", 2.5)


def test_urls_are_comma_separated(tmp_path):
    s = load_settings(
        env={"STUDIO_NATS_URL": "nats://a:1, nats://b:2,", "STUDIO_HOME": str(tmp_path)}
    )
    assert s.nats_url == ["nats://a:1", "nats://b:2"]
    assert s.servers() == ["nats://a:1", "nats://b:2"]


def test_bad_values_name_the_field(tmp_path):
    with pytest.raises(InvalidInput, match="team"):
        load_settings(env={"STUDIO_TEAM": "Bad Team", "STUDIO_HOME": str(tmp_path)})
    with pytest.raises(InvalidInput, match="agent id"):
        load_settings(env={"STUDIO_AGENT_ID": "nodot", "STUDIO_HOME": str(tmp_path)})


def test_bad_toml_is_reported(tmp_path):
    (tmp_path / "studio.toml").write_text("team = \n")
    with pytest.raises(InvalidInput, match="cannot parse"):
        load_settings(env={"STUDIO_HOME": str(tmp_path)})


def test_no_broker_configured_says_how_to_start_one(tmp_path):
    s = load_settings(env={"STUDIO_HOME": str(tmp_path)})
    with pytest.raises(InvalidInput, match="studio up"):
        s.servers()


def test_default_node_is_a_valid_name():
    from broker.names import validate_name

    assert validate_name(default_node())
