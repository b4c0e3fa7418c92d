"""studio_cli/main.py: what happens before any command runs. Start-up cost (`--help` loads
no broker, pydantic or nats module), arguments that are not UTF-8, `--log-level`, Ctrl-C at
any moment, MCP tool names in errors, and the `studio hook` entry point."""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from studio_cli.main import LOG_LEVELS, main
from studio_cli.wording import for_cli
from tests.node_agent.conftest import STUDIO
from tests.studio_cli.conftest import one_line_error

HEAVY = ("pydantic", "nats", "structlog", "rich", "cryptography", "nkeys", "libtmux", "asyncio")
LOADED = (
    "import sys\n"
    "import importlib\n"
    "importlib.import_module(sys.argv[1])\n"
    "print(' '.join(sorted({m.split('.')[0] for m in sys.modules} & set(sys.argv[2:]))))\n"
)
COMMAND_MODULES = [
    "up_cmd",
    "messaging_cmd",
    "tasks_cmd",
    "agents_cmd",
    "locks_cmd",
    "doctor_cmd",
    "install_cmd",
    "mcp_cmd",
    "node_cmd",
    "broker_cmd",
]


def loaded_by(module: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", LOADED, module, *HEAVY], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


@pytest.mark.parametrize("name", ["main", *COMMAND_MODULES])
def test_building_the_parser_loads_no_heavy_module(name):
    """Every module `studio --help` imports stays light: the heavy ones are imported by the
    command that runs."""
    assert loaded_by(f"studio_cli.{name}") == ""


def test_help_loads_no_heavy_module():
    script = (
        "import sys\nfrom studio_cli.main import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r})))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.stdout.strip().endswith("[]"), done.stdout


def test_the_parser_spells_out_the_models_choices():
    """Choices copied into the parsers (so they need no pydantic) match the models."""
    from broker.control import MAX_PEEK_LINES
    from broker.leases import MAX_TTL_S
    from broker.models import Importance, TaskStatus
    from studio_cli import agents_cmd, broker_cmd, locks_cmd, messaging_cmd, tasks_cmd
    from studio_cli.ops.cluster_config import DEFAULT_INSTALL_DIR, DEFAULT_STORE_ROOT

    assert list(messaging_cmd.IMPORTANCE) == [i.value for i in Importance]
    assert [s.value for s in TaskStatus] == tasks_cmd.STATUSES
    assert agents_cmd.MAX_PEEK_LINES == MAX_PEEK_LINES
    assert locks_cmd.MAX_TTL_S == MAX_TTL_S
    assert (broker_cmd.DEFAULT_INSTALL_DIR, broker_cmd.DEFAULT_STORE_ROOT) == (
        DEFAULT_INSTALL_DIR,
        DEFAULT_STORE_ROOT,
    )


@pytest.mark.parametrize(
    "argv",
    [
        ["send", "bob", "caf\udce9"],
        ["notes", "post", "\udcff"],
        ["locks", "lock", "src/\udcff.py"],
        ["tasks", "add", "fix \udcc3("],
        ["--as", "\udcff", "inbox"],
    ],
)
def test_arguments_that_are_not_utf8_are_refused_in_one_line(argv, capsys):
    one_line_error(
        (main(argv), *capsys.readouterr()),
        "is not valid UTF-8",
        "\\xe9" if "caf" in argv[-1] else "",
    )


def test_non_utf8_bytes_from_a_real_shell(tmp_path):
    env = {**os.environ, "STUDIO_HOME": str(tmp_path), "STUDIO_NATS_URL": "nats://127.0.0.1:1"}
    done = subprocess.run(
        [STUDIO, "tasks", "add", b"caf\xe9"], capture_output=True, env=env, timeout=30
    )
    err = done.stderr.decode()
    assert done.returncode == 2 and "caf\\xe9" in err and "not valid UTF-8" in err, err
    assert "Traceback" not in err and "PydanticSerializationError" not in err


def test_stdin_that_is_not_utf8_is_refused(studio, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"caf\xe9\n")))
    one_line_error(studio("send", "n1.cli", "-"), "stdin is not valid UTF-8", "0xe9")


def test_log_level_takes_only_known_levels(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["--log-level", "verbose", "locks"])
    assert exited.value.code == 2
    assert "invalid choice: 'verbose'" in capsys.readouterr().err
    assert LOG_LEVELS == ("debug", "info", "warning")


def test_errors_name_cli_commands_not_mcp_tools(studio):
    one_line_error(studio("tasks", "show", "T-99"), "`studio tasks` shows the board")
    assert for_cli("or check the node name with list_agents").endswith("with `studio status`")
    assert for_cli("use lock_files first") == "use `studio locks lock` first"
    assert for_cli("agents register here") == "agents register here"


def silent_server() -> socket.socket:
    """Accepts TCP connections and never says a word (a stopped or wedged server)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    return sock


@pytest.mark.parametrize("delay", [0.05, 0.15, 0.3, 0.6])
def test_ctrl_c_at_any_moment_of_start_up_prints_no_traceback(tmp_path, delay):
    with silent_server() as server:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("STUDIO_")},
            "STUDIO_HOME": str(tmp_path),
            "STUDIO_NATS_URL": f"nats://127.0.0.1:{server.getsockname()[1]}",
        }
        proc = subprocess.Popen(
            [STUDIO, "send", "bob", "hi"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        time.sleep(delay)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
    assert proc.returncode in (130, -signal.SIGINT), err
    assert b"Traceback" not in err, err.decode()


def test_hook_help_and_unknown_events():
    from node_agent.clis import claude, codex
    from node_agent.hook_client import EVENTS

    assert set(claude.HOOK_EVENTS) <= EVENTS and set(codex.HOOK_EVENTS) <= EVENTS
    env = {k: v for k, v in os.environ.items() if k != "STUDIO_AGENT_ID"}
    helped = subprocess.run([STUDIO, "hook", "--help"], capture_output=True, text=True, env=env)
    assert helped.returncode == 0 and "usage: studio hook EVENT" in helped.stdout
    assert "PostToolUse" in helped.stdout
    bogus = subprocess.run([STUDIO, "hook", "bogus"], capture_output=True, text=True, env=env)
    assert bogus.returncode == 2 and "unknown event 'bogus'" in bogus.stderr
    # A known event outside a studio session is still a quiet no-op (hooks never stall agents).
    quiet = subprocess.run(
        [STUDIO, "hook", "Stop"], input="{}", capture_output=True, text=True, env=env
    )
    assert quiet.returncode == 0 and quiet.stdout == "" and quiet.stderr == ""
