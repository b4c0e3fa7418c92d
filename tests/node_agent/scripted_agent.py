"""A stand-in for an agent CLI (Claude Code with the model replaced by a script).

It behaves like one in a tmux pane: shows a prompt, runs a turn for each line typed, is busy
for a while (with the same "esc to interrupt" marker), calls the studio tools through a real
`studio mcp` stdio subprocess, and calls `studio hook` at the same points Claude Code does.
Everything it does goes to a JSONL log the tests read.

Lines it understands: anything (check the inbox), `busy SECONDS`, `send TO TEXT`,
`edit PATH TEXT` (PreToolUse hook, then write the file), `claim T-N` (claim_task),
`task T-N STATUS [NOTE]` (update_task).
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time

STUDIO = os.environ.get("SCRIPTED_STUDIO", "studio")
LOG = os.environ["SCRIPTED_LOG"]
BUSY_S = float(os.environ.get("SCRIPTED_BUSY_S", "0.2"))
# Several agents may share one log: each line names who wrote it.
AGENT = os.environ.get("STUDIO_AGENT_ID", "")


def log(kind: str, **data) -> None:
    with open(LOG, "a") as out:
        out.write(json.dumps({"t": time.time(), "kind": kind, "agent": AGENT, **data}) + "\n")


def hook(event: str, payload: dict) -> dict:
    done = subprocess.run(
        [STUDIO, "hook", event], input=json.dumps(payload), capture_output=True, text=True
    )
    reply = json.loads(done.stdout) if done.stdout.strip() else {}
    log("hook", event=event, reply=reply)
    return reply


class Mcp:
    """Newline-delimited JSON-RPC over the gateway's stdio, as an MCP client speaks it."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [STUDIO, "mcp"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        self.next_id = 0
        self.call_raw(
            "initialize",
            {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "scripted-agent", "version": "1"},
            },
        )
        self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})

    def send(self, message: dict) -> None:
        self.proc.stdin.write(json.dumps(message) + "\n")
        self.proc.stdin.flush()

    def call_raw(self, method: str, params: dict) -> dict:
        self.next_id += 1
        self.send({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params})
        while True:
            reply = json.loads(self.proc.stdout.readline())
            if reply.get("id") == self.next_id:
                return reply

    def tool(self, name: str, **arguments) -> str:
        reply = self.call_raw("tools/call", {"name": name, "arguments": arguments})
        result = reply.get("result", {})
        text = "\n".join(c.get("text", "") for c in result.get("content", []))
        log("tool", name=name, arguments=arguments, text=text, error=result.get("isError", False))
        return text


def busy(seconds: float) -> None:
    """Look busy; record every byte typed meanwhile (nothing should be)."""
    print("working… (esc to interrupt)", flush=True)
    deadline = time.time() + seconds
    while (left := deadline - time.time()) > 0:
        ready, _, _ = select.select([sys.stdin], [], [], left)
        if ready:
            data = os.read(sys.stdin.fileno(), 4096)
            log("keys_while_busy", data=data.decode(errors="replace"))


def turn(mcp: Mcp, line: str) -> None:
    log("turn_start", line=line)
    hook("UserPromptSubmit", {"prompt": line})
    words = line.split(" ", 2)
    busy(float(words[1]) if words[0] == "busy" and len(words) > 1 else BUSY_S)
    if words[0] == "busy":
        pass  # a long turn with no tool calls: mail can only reach it through its hooks
    elif words[0] == "send" and len(words) == 3:
        mcp.tool("send_message", to=words[1], body=words[2])
    elif words[0] == "claim" and len(words) == 2:
        mcp.tool("claim_task", task_id=words[1])
    elif words[0] == "task" and len(words) == 3:
        status, _, note = words[2].partition(" ")
        mcp.tool("update_task", task_id=words[1], status=status, **({"note": note} if note else {}))
    elif words[0] == "edit" and len(words) == 3:
        reply = hook("PreToolUse", {"tool_name": "Edit", "tool_input": {"file_path": words[1]}})
        decision = reply.get("hookSpecificOutput", {}).get("permissionDecision")
        if decision != "deny":
            with open(words[1], "a") as out:
                out.write(words[2] + "\n")
    else:
        print(mcp.tool("check_inbox"), flush=True)
    hook("PostToolUse", {"tool_name": "mcp__studio__check_inbox"})
    stop = hook("Stop", {"stop_hook_active": False})
    if stop.get("decision") == "block":
        log("stop_blocked", reason=stop.get("reason", ""))
        print(mcp.tool("check_inbox"), flush=True)
        hook("Stop", {"stop_hook_active": True})
    log("turn_end")


def main() -> None:
    mcp = Mcp()
    log("ready")
    while True:
        print("agent> ", end="", flush=True)
        line = sys.stdin.readline()
        if not line:
            return
        if line.strip():
            turn(mcp, line.strip())


if __name__ == "__main__":
    main()
