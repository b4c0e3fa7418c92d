"""Another Unix user on the machine that runs `studio up` can do nothing: not read the home,
the credentials, the token or the hook socket, not use the broker, not use the HTTP gateway.

Needs root, to create and remove that user; elsewhere it skips and says so. The intruder
runs the system Python with only the standard library, as a real second user would."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from studio_cli.ops.server import free_port

STUDIO = str(Path(sys.executable).parent / "studio")
INTRUDER = r"""
import json, os, socket, sys, urllib.error, urllib.request
home, port, gateway = sys.argv[1], int(sys.argv[2]), sys.argv[3]
found = {}
for name in ("broker/broker.json", "broker/local.nk", "mcp-token", "studio.toml"):
    try:
        open(os.path.join(home, name)).read()
        found[name] = "read"
    except OSError as exc:
        found[name] = type(exc).__name__
try:
    s = socket.socket(socket.AF_UNIX)
    s.connect(os.path.join(home, "run", "main.sock"))
    found["hook socket"] = "connected"
except OSError as exc:
    found["hook socket"] = type(exc).__name__
with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
    s.recv(4096)  # INFO
    s.sendall(b'CONNECT {"verbose":false,"pedantic":false}\r\nPING\r\n')
    found["broker"] = s.recv(4096).decode(errors="replace").strip()
request = urllib.request.Request(
    gateway, data=b'{"jsonrpc":"2.0","id":1,"method":"tools/list"}',
    headers={"Content-Type": "application/json", "Accept": "application/json, text/event-stream"},
)
try:
    found["gateway"] = urllib.request.urlopen(request, timeout=5).status
except urllib.error.HTTPError as exc:
    found["gateway"] = exc.code
print(json.dumps(found))
"""


def _unavailable() -> str | None:
    if os.geteuid() != 0:
        return "needs root to create a second local user"
    if not shutil.which("useradd") or not shutil.which("setpriv"):
        return "needs useradd and setpriv"
    if not Path("/usr/bin/python3").exists():
        return "needs /usr/bin/python3 for the second user"
    return None


@pytest.fixture
def intruder() -> Iterator[str]:
    reason = _unavailable()
    if reason:
        pytest.skip(reason)
    name = f"stx{os.getpid()}"
    subprocess.run(["useradd", "-M", "-s", "/usr/sbin/nologin", name], check=True)
    try:
        yield name
    finally:
        subprocess.run(["userdel", name], capture_output=True)


@pytest.fixture
def world_readable_base() -> Iterator[Path]:
    """A parent any user may enter (pytest's tmp dirs are 0700, which would hide too much)."""
    base = Path(f"/tmp/studio-sec-{os.getpid()}")
    base.mkdir(mode=0o755, exist_ok=True)
    base.chmod(0o755)
    try:
        yield base
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_another_local_user_gets_nothing(intruder: str, world_readable_base: Path) -> None:
    home = world_readable_base / "home"
    socket_name = f"studio-sec-{os.getpid()}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("STUDIO_")}
    env.update(STUDIO_HOME=str(home), STUDIO_TMUX_SOCKET=socket_name, STUDIO_NODE="box")
    subprocess.run(
        [STUDIO, "up", "--agents", "0", "--lead", "none"], env=env, check=True, timeout=120,
        capture_output=True,
    )  # fmt: skip
    port = free_port()
    gateway = subprocess.Popen(
        [STUDIO, "mcp", "--http", "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        assert (home.stat().st_mode & 0o777) == 0o700
        assert ((home / "broker" / "local.nk").stat().st_mode & 0o777) == 0o600
        broker_port = int(
            json.loads((home / "broker" / "broker.json").read_text())["url"].rsplit(":", 1)[1]
        )
        url = f"http://127.0.0.1:{port}/agents/lead/mcp"
        for _ in range(100):
            try:
                urllib.request.urlopen(url, timeout=1)
            except urllib.error.HTTPError:
                break  # it answers (401 without the token)
            except OSError:
                time.sleep(0.1)
        assert "http:" not in (home / "broker" / "nats.conf").read_text(), "no monitoring port"
        done = subprocess.run(
            ["setpriv", f"--reuid={intruder}", f"--regid={intruder}", "--clear-groups",
             "/usr/bin/python3", "-c", INTRUDER, str(home), str(broker_port), url],
            capture_output=True, text=True, timeout=60, cwd="/",
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        found = json.loads(done.stdout)
        for name in ("broker/broker.json", "broker/local.nk", "mcp-token", "hook socket"):
            assert found[name] == "PermissionError", found
        assert "Authorization Violation" in found["broker"], found
        assert found["gateway"] == 401, found
    finally:
        gateway.terminate()
        gateway.wait(10)
        subprocess.run([STUDIO, "down"], env=env, capture_output=True, timeout=60)
