"""Deployment files without namespaces (no root needed): cluster configs that nats-server
accepts, credentials and permissions, TLS certificates, and auth reloaded with SIGHUP on a
real loopback server."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import subprocess
import time
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID
from nats.js import api

from broker import agents, messages
from broker.connection import client_tls, connect
from broker.errors import BrokerUnavailable, InvalidInput, PermissionDenied
from broker.models import Message
from broker.names import AgentId
from broker.provision import ensure_node_inbox, ensure_team
from broker.settings import load_settings
from studio_cli.main import main as studio
from studio_cli.ops import auth, cluster_config
from studio_cli.ops.server import nats_server_binary, single_node

HOSTS = ["--host-of", "a=10.9.0.1", "--host-of", "b=10.9.0.2", "--host-of", "c=10.9.0.3"]


def generate(out: Path, *extra: str) -> cluster_config.ClusterPlan:
    argv = ["--team", "demo", "broker", "cluster-config", "--nodes", "a,b,c", *HOSTS]
    assert studio([*argv, "--out", str(out), "--install-dir", str(out), *extra]) == 0
    plan = cluster_config.load_plan(out)
    assert plan is not None
    return plan


def test_cluster_config_is_valid_and_locked_down(tmp_path, capsys):
    plan = generate(tmp_path, "--tls", "--store-root", str(tmp_path / "data"))
    texts = {n: (tmp_path / f"nats-{n}.conf").read_text() for n in "abc"}
    for name, text in texts.items():
        # nats-server itself accepts it (auth.conf included, certificates found)
        check = subprocess.run(
            [nats_server_binary(), "-t", "-c", str(tmp_path / f"nats-{name}.conf")],
            capture_output=True,
            text=True,
        )
        assert check.returncode == 0, check.stdout + check.stderr
        assert f'server_name: "{name}"' in text
        assert f'store_dir: "{tmp_path / "data" / name}"' in text
        assert 'http: "127.0.0.1:8222"' in text  # monitoring stays on loopback
        assert 'include "auth.conf"' in text and "authorization {" in text  # clients, routes
        for peer in plan.nodes:
            assert f"@{peer.host}:6222" in text  # every route, with the route password
        assert text.count("tls {") == 2  # clients and routes
    assert len({t.split("\n", 1)[0] for t in texts.values()}) == 3
    # each node's client settings list its own server first
    node_b = (tmp_path / "studio-b.toml").read_text()
    assert 'nats_url = ["tls://10.9.0.2:4222", "tls://10.9.0.1:4222"' in node_b
    assert f'creds = "{tmp_path / "creds" / "node-b.nk"}"' in node_b
    assert "tls_ca" in node_b
    # the seeds are private
    assert (tmp_path / "creds" / "node-a.nk").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "tls" / "ca-key.pem").stat().st_mode & 0o777 == 0o600

    # running again keeps keys and the route password (nobody is locked out)
    keys = (tmp_path / "auth.json").read_text()
    again = generate(tmp_path, "--tls", "--store-root", str(tmp_path / "data"))
    assert again.route_password == plan.route_password
    assert (tmp_path / "auth.json").read_text() == keys


def test_exposed_servers_require_credentials(tmp_path, capsys):
    argv = ["broker", "cluster-config", "--nodes", "a,b", "--host-of", "a=10.9.0.1"]
    assert studio([*argv, "--out", str(tmp_path / "x"), "--no-auth"]) == 1
    assert "refusing to write configs without credentials" in capsys.readouterr().err
    # loopback only: allowed, and then truly without an authorization block
    local = ["--host-of", "a=127.0.0.1", "--host-of", "b=127.0.0.2", "--no-auth"]
    assert studio([*argv[:4], *local, "--out", str(tmp_path / "y")]) == 0
    assert "authorization" not in (tmp_path / "y" / "nats-a.conf").read_text()
    with pytest.raises(InvalidInput, match="unique"):
        cluster_config.plan_cluster(["a", "a"], team="t")
    with pytest.raises(InvalidInput, match="both listen"):
        cluster_config.plan_cluster(["a", "b"], team="t", hosts={"a": "h", "b": "h"})


def test_node_permissions_pin_identity_to_the_node():
    perms = auth.node_permissions("t", "n1")
    assert "studio.t.msg.*.*.n1.*" in perms.publish  # sender must be this node
    assert "studio.t.node.*.ctl.*.n1" in perms.publish  # requests name their node
    assert "studio.t.event.n1.*" in perms.publish
    assert "studio.t.flow.n1" in perms.publish  # message-flow notices under its own name only
    assert not [p for p in perms.publish if p.startswith("studio.t.flow.") and p.endswith(">")]
    assert not [p for p in perms.publish if p.startswith("studio.t.msg.") and ".n1." not in p]
    assert "$KV.studio_t_agents.n1.*" in perms.publish
    assert "$KV.studio_t_registry.n1.*" in perms.publish
    assert not [p for p in perms.publish if "STREAM.CREATE" in p or "STREAM.UPDATE" in p]
    inbox_reads = [p for p in perms.publish if "INBOX_" in p]
    assert inbox_reads and all("STUDIO_T_INBOX_N1" in p for p in inbox_reads)
    assert perms.subscribe == [
        "_INBOX_t_n1.>",
        "studio.t.node.n1.ctl.>",
        "studio.t.flow.>",  # who wrote to whom, team-wide; never a body
        "studio.t.msg.n1.>",
    ]


def test_add_node_keeps_keys_and_refuses_bad_names(tmp_path, capsys):
    _, seed = auth.add_user(tmp_path, "t", "laptop")
    first = seed.read_text()
    _, again = auth.add_user(tmp_path, "t", "laptop")
    assert again == seed and seed.read_text() == first
    config = auth.load_auth(tmp_path)
    assert {u.name: u.role for u in config.users} == {"admin": "admin", "laptop": "node"}
    assert config.user("laptop").nkey == auth.public_key_of(first)
    with pytest.raises(InvalidInput, match="provisioning user"):
        auth.add_user(tmp_path, "t", "admin")
    with pytest.raises(InvalidInput, match="team 't'"):
        auth.add_user(tmp_path, "other", "x")
    assert studio(["--team", "t", "broker", "add-node", "Bad.Name", "--dir", str(tmp_path)]) == 1
    assert "invalid node name" in capsys.readouterr().err


def test_tls_init_issues_server_certs_from_one_ca(tmp_path):
    argv = ["broker", "tls-init", "--nodes", "a,b", "--host-of", "a=10.9.0.1"]
    assert studio([*argv, "--out", str(tmp_path)]) == 0
    ca = x509.load_pem_x509_certificate((tmp_path / "ca.pem").read_bytes())
    cert = x509.load_pem_x509_certificate((tmp_path / "a.pem").read_bytes())
    cert.verify_directly_issued_by(ca)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert ipaddress.ip_address("10.9.0.1") in san.get_values_for_type(x509.IPAddress)
    assert "a" in san.get_values_for_type(x509.DNSName)
    usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH} <= set(usage)
    # a second run keeps the CA, so certificates issued before stay trusted
    assert studio([*argv, "--out", str(tmp_path)]) == 0
    assert (tmp_path / "ca.pem").read_bytes() == ca.public_bytes(Encoding.PEM)
    with pytest.raises(InvalidInput, match="CA certificate"):
        client_tls(tmp_path / "missing.pem")


async def test_add_node_then_sighup_lets_it_in_and_denials_are_fast(tmp_path):
    """One loopback server with auth: a node added after start gets in after SIGHUP, and
    what it may not do fails fast with PermissionDenied."""
    authdir = tmp_path / "auth"
    auth.add_user(authdir, "t", "n1")
    server = single_node(tmp_path / "srv")
    (tmp_path / "srv").mkdir(parents=True, exist_ok=True)
    (tmp_path / "srv" / "auth.conf").symlink_to(authdir / "auth.conf")
    server.spec.extra = 'include "auth.conf"'
    server.start()

    def settings(node: str, user: str):
        return load_settings(
            env={},
            nats_url=server.spec.url,
            team="t",
            node=node,
            home=tmp_path,
            creds=str(auth.seed_path(authdir, user)),
        )

    try:
        admin = await connect(settings("n1", "admin"))
        await ensure_team(admin)
        for node in ("n1", "n2"):
            await ensure_node_inbox(admin, node)
        n1 = await connect(settings("n1", "n1"))
        await agents.register(n1, AgentId("n1", "a"))

        assert studio(["--team", "t", "broker", "add-node", "n2", "--dir", str(authdir)]) == 0
        with pytest.raises(BrokerUnavailable, match="refused these credentials"):
            await connect(settings("n2", "n2"))
        assert studio(
            ["--team", "t", "broker", "add-node", "n2", "--dir", str(authdir),
             "--reload-pid", str(server.pid)]
        ) == 0  # fmt: skip
        n2 = None
        for _ in range(50):  # the reload is asynchronous
            try:
                n2 = await connect(settings("n2", "n2"))
                break
            except BrokerUnavailable:
                await asyncio.sleep(0.1)
        assert n2 is not None
        await agents.register(n2, AgentId("n2", "b"))
        await messages.send(n1, AgentId("n1", "a"), "n2.b", "welcome")

        started = time.monotonic()
        with pytest.raises(PermissionDenied, match=r"permission denied: .*studio\.t\.msg"):
            await messages.send(n1, AgentId("n2", "b"), "n1.a", "forged")
        with pytest.raises(PermissionDenied):
            await messages.fetch(n1, AgentId("n2", "b"))
        assert time.monotonic() - started < 2

        # A push consumer cannot be aimed at another node's inbox subject to plant a message
        # "from" someone else: the server does not deliver it there.
        forged = Message(sender="n2.x", to="n1.a", body="planted")
        await n1.nc.publish("studio.t.event.plant", forged.model_dump_json().encode())
        await n1.js.add_consumer(
            n1.names.events_stream,
            api.ConsumerConfig(
                deliver_subject="studio.t.msg.n1.a.n2.x",
                filter_subject="studio.t.event.plant",
                ack_policy=api.AckPolicy.NONE,
            ),
        )
        await asyncio.sleep(0.5)
        got = await messages.fetch(n2, AgentId("n2", "b"), wait_s=2)
        assert [d.message.body for d in got] == ["welcome"]
        assert await messages.fetch(n1, AgentId("n1", "a")) == []
        for b in (admin, n1, n2):
            await b.close()
    finally:
        server.stop()
    log = (tmp_path / "srv" / "nats.log").read_text()
    assert "Reloaded" in log or "reloaded" in log, json.dumps(log[-500:])
