"""README.md stays true: its example configuration loads, and every `studio` command line in
its shell examples parses with the real argument parser."""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path

from broker.settings import Settings, load_settings
from studio_cli.main import build_parser

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, re.S)


def test_the_example_studio_toml_is_valid_and_names_only_real_settings(tmp_path):
    (example,) = blocks("toml")
    uncommented = "\n".join(
        line.lstrip("# ") if re.match(r"# [a-z_]+ = ", line) else line
        for line in example.splitlines()
    )
    keys = set(tomllib.loads(uncommented))
    assert keys <= set(Settings.model_fields) - {"home", "agent_id"}, keys
    assert {"heartbeat_s", "wake_cooldown_s", "nats_url", "creds"} <= keys
    config = tmp_path / "studio.toml"
    config.write_text(example)
    settings = load_settings(env={"STUDIO_CONFIG": str(config)})
    assert settings.team == "main" and settings.heartbeat_s == 5.0


def test_every_studio_command_in_the_shell_examples_parses():
    parser = build_parser()
    lines = [
        line.split("  #")[0].strip()
        for block in blocks("bash")
        for line in block.splitlines()
        if re.match(r"(\.venv/bin/)?studio ", line.strip())
    ]
    assert len(lines) >= 8
    for line in lines:
        args = parser.parse_args(shlex.split(line)[1:])
        assert callable(args.func), line
