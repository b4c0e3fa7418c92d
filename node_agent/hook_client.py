"""`studio hook EVENT`: what Claude Code and Codex run on every hook event.

It runs on every tool use, so it is as small as a Python program gets: no json, pathlib or
socket module (their imports cost more than the round trip), one exchange over a unix socket
with the node daemon, which holds all the state. If the daemon is not there the hook prints
nothing and exits 0: a studio problem must never stall an agent.

Wire format, so this side needs no parsing: the request is a line `EVENT AGENT` followed by
the hook's raw JSON; the reply is a line with the exit code followed by the text to print.
"""

from __future__ import annotations

import _socket
import os
import sys

TIMEOUT_S = 2.0
# Every event the daemon handles (node_agent.hooks): Claude Code's and Codex's hook names, the
# OpenCode plugin's own, and the gateway's `mcp-ready`. Anything else is a typo, refused with
# a non-zero exit, never sent.
EVENTS = frozenset(
    {
        "SessionStart",
        "UserPromptSubmit",
        "PreToolUse",
        "PostToolUse",
        "PermissionRequest",
        "Notification",
        "Stop",
        "StopFailure",
        "Interrupt",
        "resumed",
        "turn-failed",
        "permission",
        "mcp-ready",
    }
)
USAGE = (
    "usage: studio hook EVENT   (reads the hook's JSON on stdin)\n"
    "Called by the hooks studio configures for Claude Code and Codex; tells this node's\n"
    "daemon about the agent's turn (STUDIO_AGENT_ID) and prints its answer.\n"
    "EVENT: " + ", ".join(sorted(EVENTS, key=str.lower)) + "\n"
)


def socket_path(home: str, team: str) -> str:
    return os.path.join(home, "run", f"{team}.sock")


def run(argv: list[str]) -> int:
    if argv[:1] in (["-h"], ["--help"]):
        sys.stdout.write(USAGE)
        return 0
    if len(argv) != 1 or argv[0] not in EVENTS:
        wrong = f"unknown event {argv[0]!r}; " if argv and argv[0] not in EVENTS else ""
        sys.stderr.write(f"studio hook: {wrong}{USAGE}")
        return 2
    event, agent = argv[0], os.environ.get("STUDIO_AGENT_ID", "")
    if not agent:
        return 0  # not a studio-managed session
    payload = sys.stdin.buffer.read() if not sys.stdin.isatty() else b""
    home = os.environ.get("STUDIO_HOME") or os.path.join(os.path.expanduser("~"), ".studio")
    path = socket_path(home, os.environ.get("STUDIO_TEAM", "main"))
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        sock.settimeout(TIMEOUT_S)
        sock.connect(path)
        sock.sendall(f"{event} {agent}\n".encode() + payload)
        sock.shutdown(_socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    except OSError:
        return 0
    finally:
        sock.close()
    code, _, output = b"".join(chunks).partition(b"\n")
    if output:
        sys.stdout.buffer.write(output)
        sys.stdout.flush()
    try:
        return int(code or 0)
    except ValueError:
        return 0


if __name__ == "__main__":
    # Injected hook commands run this file directly with `python -S`: no site-packages scan.
    sys.exit(run(sys.argv[1:]))
