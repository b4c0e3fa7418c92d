"""The dashboard without a browser: where it may listen, the Host and Origin checks, and the
state's patches (a heartbeat that changes nothing shown pushes nothing; overlaps)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from broker.errors import InvalidInput
from broker.models import AgentInfo, AgentRecord, AgentState
from broker.settings import load_settings
from studio_cli.dashboard.server import plan_listen
from studio_cli.dashboard.state import TeamState
from studio_cli.ops.tls import issue_server_cert
from tests.studio_cli.dashboard.conftest import Dashboard


def test_a_non_loopback_address_needs_tls(tmp_path):
    settings = load_settings(env={}, home=tmp_path, node="n1")
    assert plan_listen(settings, "127.0.0.1", 0, None).cert is None
    with pytest.raises(InvalidInput, match="needs TLS"):
        plan_listen(settings, "0.0.0.0", 0, None)
    with pytest.raises(InvalidInput, match="tls-init"):
        plan_listen(settings, "0.0.0.0", 0, str(tmp_path / "tls"))
    issue_server_cert(tmp_path / "tls", "n1", ["10.0.0.5"])
    listen = plan_listen(settings, "0.0.0.0", 0, str(tmp_path / "tls"))
    assert listen.scheme == "https" and listen.cert and listen.cert.name == "n1.pem"


def _status(url: str, **headers: str) -> int:
    data = headers.pop("data", None)
    request = urllib.request.Request(url, headers=headers, data=data.encode() if data else None)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


async def test_foreign_host_and_cross_site_posts_are_refused(dashboard: Dashboard) -> None:
    jar_handler = urllib.request.HTTPCookieProcessor()
    urllib.request.build_opener(jar_handler).open(dashboard.url, timeout=10)  # takes the cookie
    cookie = next(iter(jar_handler.cookiejar))
    jar = f"{cookie.name}={cookie.value}"
    port = dashboard.base.rsplit(":", 1)[1].strip("/")
    api = dashboard.base + "api/send"
    body = json.dumps({"to": "x", "body": "y"})
    assert _status(dashboard.base, Cookie=jar) == 200
    assert _status(dashboard.base, Cookie=jar, Host=f"localhost:{port}") == 200
    assert _status(dashboard.base, Cookie=jar, Host=f"evil.example:{port}") == 403
    assert _status(dashboard.base, Cookie=jar + "0") == 401
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    assert _status(api, Cookie=jar, data=body, **form) == 403
    other = {"Content-Type": "application/json", "Origin": "http://evil.example"}
    assert _status(api, Cookie=jar, data=body, **other) == 403
    same = {"Content-Type": "application/json", "Origin": dashboard.base.rstrip("/")}
    assert _status(api, Cookie=jar, data=body, **same) == 400  # reaches the broker: unknown 'x'


def test_heartbeats_that_change_nothing_shown_push_nothing_and_overlaps_are_found():
    state = TeamState(team="t", node="n1", me="n1.cli", window_s=60)
    a = AgentInfo(id="n1.a", node="n1", state=AgentState.busy, repo="r", cwd="/a",
                  changed_files=["x.py"])  # fmt: skip
    assert [p["t"] for p in state.apply_presence("n1.a", a)] == ["agent"]
    again = a.model_copy(update={"last_heartbeat": a.last_heartbeat.replace(year=2100)})
    assert state.apply_presence("n1.a", again) == []
    b = AgentInfo(id="n2.b", node="n2", state=AgentState.idle, repo="r", cwd="/b",
                  changed_files=["x.py", "y.py"])  # fmt: skip
    state.apply_record("n2.b", AgentRecord(id="n2.b"))
    patches = state.apply_presence("n2.b", b)
    assert patches[-1] == {"t": "overlaps", "v": [{"repo": "r", "path": "x.py",
                                                   "agents": ["n1.a", "n2.b"]}]}  # fmt: skip
    gone = state.apply_presence("n2.b", None, reason="no heartbeat for 15s")
    assert gone[0]["v"]["state"] == "offline" and gone[0]["v"]["state_detail"].startswith("no")
    assert gone[-1] == {"t": "overlaps", "v": []}
