"""studio_cli/broker_cmd.py: `add-node` refuses to invent a cluster, and `remove-node`
revokes a node on a real loopback nats-server with per-node credentials (its key refused
after the reload, the others unaffected)."""

from __future__ import annotations

import asyncio

from broker.connection import connect
from broker.errors import BrokerUnavailable
from studio_cli.main import main as studio
from studio_cli.ops import auth
from tests.studio_cli.conftest import TEAM, as_user


def test_add_node_without_a_cluster_is_refused(tmp_path, capsys):
    assert studio(["broker", "add-node", "e", "--dir", str(tmp_path / "nothing")]) == 1
    err = capsys.readouterr().err
    assert "no cluster in" in err and "studio broker cluster-config" in err
    assert not (tmp_path / "nothing").exists()  # no admin key, no auth.json for team main


async def eventually(check, within: float = 5.0) -> bool:
    """Poll an async `check` (the server reloads asynchronously)."""
    deadline = asyncio.get_running_loop().time() + within
    while asyncio.get_running_loop().time() < deadline:
        if await check():
            return True
        await asyncio.sleep(0.1)
    return False


async def test_remove_node_revokes_it(authed_server, capsys):
    server, authdir = authed_server
    seed = auth.seed_path(authdir, "n2")
    kept = authdir.parent / "kept-n2.nk"  # the seed a revoked host still holds
    kept.write_text(seed.read_text())
    kept.chmod(0o600)
    revoked = as_user(server, authdir, "n2", "n2")
    revoked.creds = str(kept)
    live = await connect(revoked)  # n2 is in before

    argv = ["--team", TEAM, "broker", "remove-node", "n2", "--dir", str(authdir)]
    assert studio([*argv, "--reload-pid", str(server.pid)]) == 0
    out = capsys.readouterr().out
    assert "node 'n2' removed" in out and f"sent SIGHUP to {server.pid}" in out
    assert not seed.exists()
    loaded = auth.load_auth(authdir)
    assert loaded is not None and loaded.user("n2") is None and loaded.user("n1")
    assert "node n2" not in (authdir / "auth.conf").read_text()

    async def refused() -> bool:
        try:
            broker = await connect(revoked)
        except BrokerUnavailable as exc:
            return "refused these credentials" in str(exc)
        await broker.close()
        return False

    async def dropped() -> bool:
        return not live.nc.is_connected

    assert await eventually(refused)  # its key no longer gets in
    assert await eventually(dropped)  # and the connection it had is closed
    await live.nc.close()  # (it is reconnecting in vain: no drain)
    other = await connect(as_user(server, authdir, "n1", "n1"))
    await other.close()  # n1 is unaffected

    # Refusals: the admin, a node with no credentials.
    assert studio(["--team", TEAM, "broker", "remove-node", "admin", "--dir", str(authdir)]) == 1
    assert "cannot be removed" in capsys.readouterr().err
    assert studio([*argv]) == 1
    assert "no credentials" in (err := capsys.readouterr().err) and "nodes: n1" in err
