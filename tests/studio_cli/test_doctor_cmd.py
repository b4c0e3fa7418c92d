"""studio_cli/doctor_cmd.py under per-node credentials (a real loopback server with auth): a
correctly set-up node passes, even though its credentials may not ask for the account's
JetStream summary; a node the admin did not provision, or credentials of another node, get
the advice that fixes them, never "enable JetStream"."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from studio_cli.ops import auth
from tests.node_agent.conftest import STUDIO
from tests.studio_cli.conftest import TEAM


def doctor(server, authdir: Path, node: str, user: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STUDIO_")}
    env.update(
        STUDIO_NATS_URL=server.spec.url,
        STUDIO_TEAM=TEAM,
        STUDIO_NODE=node,
        STUDIO_HOME=str(authdir.parent / f"home-{node}"),
        STUDIO_CREDS=str(auth.seed_path(authdir, user)),
    )
    if user == auth.ADMIN:
        return subprocess.run(
            [STUDIO, "broker", "provision", "--nodes", node],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    return subprocess.run([STUDIO, "doctor"], env=env, capture_output=True, text=True, timeout=60)


def test_doctor_under_node_credentials(authed_server):
    server, authdir = authed_server
    provisioned = doctor(server, authdir, "n1", auth.ADMIN)
    assert provisioned.returncode == 0, provisioned.stderr

    ok = doctor(server, authdir, "n1", "n1")
    assert ok.returncode == 0, ok.stdout
    assert "✓ jetstream" in ok.stdout and "inbox is provisioned" in ok.stdout
    assert "! daemon" in ok.stdout  # a warning only: no daemon runs in this test
    assert "enable JetStream" not in ok.stdout and "permission denied" not in ok.stdout

    unprovisioned = doctor(server, authdir, "n2", "n2")
    assert unprovisioned.returncode == 1
    assert "✗ jetstream" in unprovisioned.stdout
    assert "studio broker provision --nodes n2" in unprovisioned.stdout
    assert "enable JetStream" not in unprovisioned.stdout

    mismatched = doctor(server, authdir, "n2", "n1")  # n1's seed, STUDIO_NODE=n2
    assert mismatched.returncode == 1
    assert "may not read node 'n2'" in mismatched.stdout and "STUDIO_NODE" in mismatched.stdout
