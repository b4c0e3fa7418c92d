"""node_agent/tmux.py on a real, private tmux server: the plain `studio` window has the
running `studio` on its PATH (whatever PATH the tmux server has), and a session records
the STUDIO_HOME that owns it, refusing another home."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import libtmux
import pytest

from node_agent import tmux

_sockets = itertools.count(1)


@pytest.fixture
def srv(tmp_path: Path) -> Iterator[libtmux.Server]:
    server = tmux.server(f"studio-tmux-test-{os.getpid()}-{next(_sockets)}")
    try:
        yield server
    finally:
        subprocess.run(["tmux", "-L", server.socket_name or "", "kill-server"], capture_output=True)
        tmux_dir = Path(os.environ.get("TMUX_TMPDIR") or "/tmp") / f"tmux-{os.getuid()}"
        (tmux_dir / (server.socket_name or "")).unlink(missing_ok=True)


def test_the_studio_window_has_studio_on_path(srv, tmp_path, monkeypatch):
    # A PATH without the venv, as a daemon run by systemd or from an unactivated venv has;
    # an rc file resetting PATH is what a login shell's /etc/profile does.
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    monkeypatch.setenv("SHELL", "/bin/sh")
    tmux.ensure_session(srv, "studio-t", home=str(tmp_path))
    out = tmp_path / "which.txt"
    srv.cmd("send-keys", "-t", "=studio-t:studio", f"command -v studio > {out}", "Enter")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not (out.exists() and out.read_text()):
        time.sleep(0.05)
    assert out.read_text().strip() == str(Path(sys.executable).parent / "studio")


def test_a_session_belongs_to_one_home(srv, tmp_path):
    one, two = str(tmp_path / "one"), str(tmp_path / "two")
    tmux.ensure_session(srv, "studio-t", home=one)
    assert tmux.session_home(srv, "studio-t") == one
    tmux.ensure_session(srv, "studio-t", home=one)  # its own: fine
    with pytest.raises(tmux.SessionTaken, match=f"STUDIO_HOME={one}, not this one"):
        tmux.ensure_session(srv, "studio-t", home=two)
    # A session made before homes were recorded is taken over by the first to claim it.
    srv.new_session(session_name="studio-old", attach=False)
    tmux.ensure_session(srv, "studio-old", home=two)
    assert tmux.session_home(srv, "studio-old") == two
    assert tmux.session_home(srv, "no-such-session") == ""
