"""`studio mcp --http`: one gateway process for the node, agents told apart by URL or header."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from rawstdio import STUDIO

from mcp_gateway.gateway import AGENT_HEADER
from mcp_gateway.http import BearerToken
from studio_cli.ops.server import free_port


@pytest.fixture
async def http_gateway(broker, tmp_path):
    port = free_port()
    env = {
        **os.environ,
        "STUDIO_NATS_URL": ",".join(broker.settings.nats_url),
        "STUDIO_TEAM": broker.team,
        "STUDIO_NODE": "n1",
        "STUDIO_HOME": str(tmp_path),
    }
    process = await asyncio.create_subprocess_exec(
        STUDIO,
        "mcp",
        "--http",
        "--port",
        str(port),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(300):
            assert process.returncode is None, "the HTTP gateway exited"
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            await asyncio.sleep(0.05)
        token = (tmp_path / "mcp-token").read_text().strip()
        assert ((tmp_path / "mcp-token").stat().st_mode & 0o777) == 0o600
        yield f"http://127.0.0.1:{port}", token
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), 10)


def client(url: str, token: str, **headers: str) -> Client:
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}", **headers})
    return Client(streamable_http_client(url, http_client=http))


async def test_agents_by_path_and_header_share_one_gateway(http_gateway):
    url, token = http_gateway
    async with (
        client(f"{url}/agents/alice/mcp", token) as alice,
        client(f"{url}/agents/bob/mcp", token) as bob,
        client(f"{url}/mcp", token, **{AGENT_HEADER: "carol"}) as carol,
        client(f"{url}/mcp", token) as nobody,
    ):
        who = await alice.call_tool("whoami", {})
        assert "You are n1.alice" in who.content[0].text
        await bob.call_tool("whoami", {})
        assert "You are n1.carol" in (await carol.call_tool("whoami", {})).content[0].text

        sent = await alice.call_tool("send_message", {"to": "bob", "body": "over http"})
        assert not sent.is_error, sent.content[0].text
        await carol.call_tool("send_message", {"to": "n1.bob", "body": "me too"})
        inbox = await bob.call_tool("check_inbox", {})
        assert "over http" in inbox.content[0].text and "From n1.carol" in inbox.content[0].text

        refused = await alice.call_tool("register", {"name": "mallory"})
        assert refused.is_error and "this session is n1.alice" in refused.content[0].text
        anonymous = await nobody.call_tool("check_inbox", {})
        assert anonymous.is_error and "/agents/<name>/mcp" in anonymous.content[0].text
        unbound = await nobody.call_tool("register", {"name": "eve"})
        assert unbound.is_error and "X-Studio-Agent" in unbound.content[0].text


async def test_every_request_needs_the_token_even_on_loopback(http_gateway):
    url, token = http_gateway
    body = b'{"jsonrpc": "2.0", "id": 1, "method": "tools/list"}'
    kinds = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
    async with httpx2.AsyncClient() as http:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {AGENT_HEADER: "alice"}):
            response = await http.post(
                f"{url}/agents/alice/mcp", headers=kinds | headers, content=body
            )
            assert response.status_code == 401
        # A page that rebinds a name to 127.0.0.1 is refused even with the token.
        response = await http.post(
            f"{url}/agents/alice/mcp",
            headers=kinds | {"Host": "evil.example:80", "Authorization": f"Bearer {token}"},
            content=body,
        )
    assert response.status_code in (403, 421)


async def test_bearer_token_guard():
    seen = []

    async def app(scope, receive, send):
        seen.append(scope["path"])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    guarded = BearerToken(app, "s3cret")
    transport = httpx2.ASGITransport(app=guarded)
    async with httpx2.AsyncClient(transport=transport, base_url="http://gw") as http:
        assert (await http.get("/mcp")).status_code == 401
        wrong = {"Authorization": "Bearer nope"}
        assert (await http.get("/mcp", headers=wrong)).status_code == 401
        right = {"Authorization": "Bearer s3cret"}
        assert (await http.get("/mcp", headers=right)).status_code == 200
    assert seen == ["/mcp"]
