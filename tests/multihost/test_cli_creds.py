"""Every multi-host CLI command as a person runs it on a node with its own credentials (three
network namespaces, a TLS-less authenticated cluster from `studio broker cluster-config`):
doctor, status, send, inbox, tasks, notes, locks, and spawn / peek / kick / stop on another
host's daemon. Each is a `studio` subprocess inside its host's namespace, with that host's
generated settings; none may fail on a permission its node does not have."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.multihost.netlab import Deployment
from tests.multihost.test_guide import STUDIO, studio


def ok(done: subprocess.CompletedProcess) -> str:
    assert done.returncode == 0, f"{done.args}:\n{done.stdout}\n{done.stderr}"
    assert "Traceback" not in done.stderr and "permission denied" not in done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def daemon_b(
    shared_deployment: Deployment, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    """The team provisioned, and b's node daemon running under b's credentials, open to
    shells from other nodes (`remote_control = "all"`) so a can spawn one there."""
    dep = shared_deployment
    ok(studio(dep, "a", "broker", "provision", "--nodes", "a,b,c", user="admin"))
    base = tmp_path_factory.mktemp("daemon-b")
    config = base / "studio-b.toml"
    config.write_text((dep.directory / "studio-b.toml").read_text() + '\nremote_control = "all"\n')
    (base / "user").mkdir()
    socket = f"studio-clicreds-{os.getpid()}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("STUDIO_")}
    env.update(
        HOME=str(base / "user"),
        STUDIO_CONFIG=str(config),
        STUDIO_HOME=str(base / "home"),
        STUDIO_TMUX_SOCKET=socket,
    )
    with (base / "daemon.log").open("ab") as log:
        daemon = subprocess.Popen(
            [*dep.lab.exec_prefix("b"), STUDIO, "--log-level", "info", "node", "run"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 30
        while "✓ daemon" not in studio(dep, "b", "doctor").stdout:
            assert daemon.poll() is None, (base / "daemon.log").read_text()[-2000:]
            assert time.monotonic() < deadline, (base / "daemon.log").read_text()[-2000:]
            time.sleep(0.3)
        yield dep
    finally:
        daemon.terminate()
        try:
            daemon.wait(10)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait(5)
        subprocess.run(["tmux", "-L", socket, "kill-server"], capture_output=True)
        tmux_dir = Path(os.environ.get("TMUX_TMPDIR") or "/tmp") / f"tmux-{os.getuid()}"
        (tmux_dir / socket).unlink(missing_ok=True)


def test_doctor_mail_tasks_notes_and_locks_under_node_credentials(daemon_b: Deployment):
    dep = daemon_b
    doctor = ok(studio(dep, "a", "doctor"))
    assert "✓ jetstream" in doctor and "✓ credentials" in doctor

    ok(studio(dep, "b", "inbox"))  # registers b.cli
    assert "sent to b.cli" in ok(studio(dep, "a", "send", "b.cli", "hello", "from", "a"))
    got = ok(studio(dep, "b", "inbox", "--new"))
    assert "hello from a" in got and "a.cli" in got
    # b's mail is b's: a may not read it, and says so in one line
    denied = studio(dep, "a", "inbox", "--agent", "b.cli")
    assert denied.returncode == 1 and denied.stderr.startswith("studio: permission denied")

    assert "dispatched to b.cli" in ok(studio(dep, "a", "tasks", "add", "fix", "it", "-a", "b.cli"))
    task_id = next(w for w in ok(studio(dep, "b", "tasks")).split() if w.startswith("T-"))
    assert "in_progress" in ok(
        studio(dep, "b", "tasks", "update", task_id, "--status", "in_progress")
    )
    assert "done" in ok(studio(dep, "b", "tasks", "done", task_id, "--note", "fixed"))
    assert "fixed" in ok(studio(dep, "a", "tasks", "show", task_id))
    added = ok(studio(dep, "a", "tasks", "add", "review", "it", "--json"))
    open_id = added.split('"id": "')[1].split('"')[0]
    assert "b.cli has" in ok(studio(dep, "b", "tasks", "claim", open_id))
    assert open_id in ok(studio(dep, "c", "tasks", "list", "--assignee", "b.cli"))

    assert "posted note" in ok(studio(dep, "a", "notes", "post", "main", "is", "frozen"))
    assert "a.cli: main is frozen" in ok(studio(dep, "b", "notes"))

    assert "a.cli locked src/x.py" in ok(studio(dep, "a", "locks", "lock", "src/x.py"))
    assert "src/x.py  a.cli  exclusive" in ok(studio(dep, "b", "locks"))
    refused = studio(dep, "b", "locks", "lock", "src/x.py")
    assert refused.returncode == 1 and "held by a.cli" in refused.stderr
    assert "released src/x.py" in ok(studio(dep, "a", "locks", "unlock", "--all"))


def test_spawn_peek_kick_and_stop_on_another_hosts_daemon(daemon_b: Deployment):
    dep = daemon_b
    spawned = ok(studio(dep, "a", "spawn", "worker", "--node", "b", "--agent", "shell"))
    assert "started b.worker (shell)" in spawned
    deadline = time.monotonic() + 20
    while True:  # typed only once the shell is idle
        kicked = studio(dep, "a", "kick", "b.worker", "echo", "kicked-from-a")
        if kicked.returncode == 0:
            break
        assert kicked.returncode == 3 and time.monotonic() < deadline, kicked.stdout
        time.sleep(0.5)
    deadline = time.monotonic() + 10
    while "kicked-from-a" not in (screen := ok(studio(dep, "a", "peek", "b.worker"))):
        assert time.monotonic() < deadline, screen
        time.sleep(0.3)
    assert "stopped b.worker" in ok(studio(dep, "a", "stop", "b.worker", "--force"))


def test_status_under_node_credentials(daemon_b: Deployment):
    dep = daemon_b
    ok(studio(dep, "a", "inbox"))
    shown = ok(studio(dep, "a", "status"))
    assert "a.cli" in shown
    assert '"version": 1' in ok(studio(dep, "c", "status", "--json"))
