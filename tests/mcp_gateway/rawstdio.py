"""A minimal JSON-RPC client over a gateway subprocess's pipes, written by hand: what a CLI
such as Claude Code does, byte for byte, with nothing of the SDK in between. Used where tests
need the raw wire (channel notifications, SIGKILL at a precise moment)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

STUDIO = str(Path(sys.executable).parent / "studio")
PROTOCOL = "2025-06-18"


@dataclass
class RawGateway:
    process: asyncio.subprocess.Process
    notifications: list[dict[str, Any]] = field(default_factory=list)
    _next_id: int = 0

    @classmethod
    async def start(
        cls, env: dict[str, str], *args: str, command: list[str] | None = None
    ) -> RawGateway:
        """`studio mcp ARGS` (or `command`) with `env` over the current environment."""
        process = await asyncio.create_subprocess_exec(
            *(command or [STUDIO, "mcp"]),
            *args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            env={**os.environ, **env},
            limit=4 * 1024 * 1024,
        )
        return cls(process)

    async def send(self, message: dict[str, Any]) -> None:
        assert self.process.stdin
        self.process.stdin.write(json.dumps({"jsonrpc": "2.0", **message}).encode() + b"\n")
        await self.process.stdin.drain()

    async def read(self, wait_s: float = 20) -> dict[str, Any]:
        assert self.process.stdout
        line = await asyncio.wait_for(self.process.stdout.readline(), wait_s)
        if not line:
            raise EOFError("gateway closed stdout")
        return json.loads(line)

    async def request(self, method: str, params: dict[str, Any], wait_s: float = 20) -> Any:
        self._next_id += 1
        await self.send({"id": self._next_id, "method": method, "params": params})
        while True:
            message = await self.read(wait_s)
            if message.get("id") == self._next_id:
                if "error" in message:
                    raise RuntimeError(message["error"])
                return message["result"]
            self.notifications.append(message)

    async def initialize(self) -> dict[str, Any]:
        result = await self.request(
            "initialize",
            {
                "protocolVersion": PROTOCOL,
                "capabilities": {},
                "clientInfo": {"name": "claude-code", "version": "test"},
            },
        )
        await self.send({"method": "notifications/initialized"})
        return result

    async def call(self, tool: str, **arguments: Any) -> dict[str, Any]:
        return await self.request("tools/call", {"name": tool, "arguments": arguments})

    async def next_notification(self, method: str, wait_s: float = 20) -> dict[str, Any]:
        for i, message in enumerate(self.notifications):
            if message.get("method") == method:
                return self.notifications.pop(i)
        while True:
            message = await self.read(wait_s)
            if message.get("method") == method:
                return message
            self.notifications.append(message)

    async def close(self) -> None:
        if self.process.returncode is None:
            if self.process.stdin:
                self.process.stdin.close()
            try:
                await asyncio.wait_for(self.process.wait(), 5)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()


def text(result: dict[str, Any]) -> str:
    return "\n".join(block["text"] for block in result["content"] if block["type"] == "text")
