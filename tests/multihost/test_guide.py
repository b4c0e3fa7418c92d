"""deploy/README.md's steps 5 and 7, as written: the real `studio` CLI on each host with the
generated settings (provision as admin, a message from host a to host b, and the refusal
when host a tries to act as one of b's agents)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.multihost.netlab import Deployment

STUDIO = str(Path(sys.executable).with_name("studio"))


def studio(deployment: Deployment, host: str, *argv: str, user: str = "", **env: str):
    environment = {k: v for k, v in os.environ.items() if not k.startswith("STUDIO_")}
    environment.update(
        STUDIO_CONFIG=str(deployment.directory / f"studio-{user or host}.toml"),
        STUDIO_HOME=str(deployment.directory / f"guide-home-{host}"),
        **env,
    )
    return subprocess.run(
        [*deployment.lab.exec_prefix(host), STUDIO, *argv],
        capture_output=True,
        text=True,
        env=environment,
        timeout=60,
    )


def test_deploy_guide_cli_steps(shared_deployment: Deployment):
    dep = shared_deployment
    done = studio(dep, "a", "broker", "provision", "--nodes", "a,b,c", user="admin")
    assert done.returncode == 0, done.stderr
    assert "provisioned (replicas 3)" in done.stdout

    assert studio(dep, "b", "inbox").returncode == 0  # registers b.cli
    sent = studio(dep, "a", "send", "b.cli", "hello from a")
    assert sent.returncode == 0, sent.stderr
    got = studio(dep, "b", "inbox", "--new")
    assert got.returncode == 0 and "hello from a" in got.stdout and "a.cli" in got.stdout

    forged = studio(dep, "a", "send", "a.cli", "x", STUDIO_AGENT_ID="b.cli")
    assert forged.returncode == 1
    assert forged.stderr.startswith("studio: permission denied: ")
    assert f"studio.{dep.team}.msg.a.cli.b.cli" in forged.stderr
