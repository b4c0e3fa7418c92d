"""`studio hook EVENT`: what Claude Code / Codex run on every hook event.

It runs on every tool use, so it imports only the standard library and does one round trip
over a unix socket to the node daemon, which holds all the state. If the daemon is not there
the hook prints nothing and exits 0: a studio problem must never stall an agent.
"""

from __future__ import annotations

import json
import os
import socket
import sys
from pathlib import Path

TIMEOUT_S = 2.0


def socket_path(home: str, team: str) -> str:
    return str(Path(home) / "run" / f"{team}.sock")


def _home() -> str:
    return os.environ.get("STUDIO_HOME") or str(Path.home() / ".studio")


def run(argv: list[str]) -> int:
    if not argv:
        print("usage: studio hook EVENT  (reads the hook's JSON on stdin)", file=sys.stderr)
        return 2
    event, agent = argv[0], os.environ.get("STUDIO_AGENT_ID", "")
    if not agent:
        return 0  # not a studio-managed session
    raw = sys.stdin.read() if not sys.stdin.isatty() else ""
    # Codex's notify passes its JSON as the last argument instead of stdin.
    if not raw and len(argv) > 1:
        raw = argv[-1]
    try:
        payload = json.loads(raw) if raw.strip() else {}
    except ValueError:
        payload = {}
    request = json.dumps({"event": event, "agent": agent, "input": payload}) + "\n"
    path = socket_path(_home(), os.environ.get("STUDIO_TEAM", "main"))
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(TIMEOUT_S)
            sock.connect(path)
            sock.sendall(request.encode())
            chunks = []
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
                if chunk.endswith(b"\n"):
                    break
        reply = json.loads(b"".join(chunks) or b"{}")
    except (OSError, ValueError):
        return 0
    if reply.get("stdout"):
        sys.stdout.write(reply["stdout"])
        sys.stdout.flush()
    return int(reply.get("exit", 0))


if __name__ == "__main__":
    # Injected hook commands run this file directly with `python -S`: no site-packages scan,
    # which halves the start-up time of a hook that runs on every tool use.
    sys.exit(run(sys.argv[1:]))
