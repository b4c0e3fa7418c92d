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

from broker.server import free_port
from mcp_gateway.gateway import AGENT_HEADER
from mcp_gateway.http import BearerToken, check_exposure


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
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), 10)


async def test_agents_by_path_and_header_share_one_gateway(http_gateway):
    async with (
        Client(f"{http_gateway}/agents/alice/mcp", mode="legacy") as alice,
        Client(f"{http_gateway}/agents/bob/mcp") as bob,
        httpx2.AsyncClient(headers={AGENT_HEADER: "carol"}) as carol_http,
        Client(streamable_http_client(f"{http_gateway}/mcp", http_client=carol_http)) as carol,
        Client(f"{http_gateway}/mcp") as nobody,
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


async def test_dns_rebinding_is_refused_on_loopback(http_gateway):
    async with httpx2.AsyncClient() as http:
        response = await http.post(
            f"{http_gateway}/agents/alice/mcp",
            headers={"Host": "evil.example:80", "Content-Type": "application/json"},
            content=b"{}",
        )
    assert response.status_code in (403, 421)


def test_non_loopback_needs_credentials():
    check_exposure("127.0.0.1", None)
    check_exposure("0.0.0.0", "secret")
    with pytest.raises(Exception, match="without credentials"):
        check_exposure("0.0.0.0", None)
    result = subprocess.run(
        [STUDIO, "mcp", "--http", "--host", "0.0.0.0"],
        capture_output=True,
        text=True,
        timeout=60,
        env={k: v for k, v in os.environ.items() if k != "STUDIO_MCP_TOKEN"},
    )
    assert result.returncode == 1 and "without credentials" in result.stderr


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
