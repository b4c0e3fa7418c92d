"""deploy/README.md, as written: the real `studio` CLI with the generated settings.

- Steps 5-8 on three hosts (network namespaces): provision as admin, `studio doctor` passing
  on a node, a message from host a to host b, the refusal when host a acts as b's agent.
- The one-server walk-through on loopback (no root needed): a TLS server, provisioning,
  doctor, a laptop added with `add-node`, mail both ways, and `remove-node` revoking it.
- The files: every `studio` line of the guide parses, the units pass `systemd-analyze
  verify`, credential files have one name everywhere, compose keeps secrets out of the tree.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from studio_cli.main import build_parser
from studio_cli.ops import cluster_config
from studio_cli.ops.server import ServerProcess, free_port
from tests.multihost.netlab import Deployment

STUDIO = str(Path(sys.executable).with_name("studio"))
REPO = Path(__file__).resolve().parents[2]
GUIDE = (REPO / "deploy" / "README.md").read_text()
SHELL_BLOCK = re.compile(r"```sh\n(.*?)```", re.S)


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

    doctor = studio(dep, "b", "doctor")  # step 6: passes before the daemon runs (a warning)
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert "✓ jetstream" in doctor.stdout and "✓ credentials" in doctor.stdout

    assert studio(dep, "b", "inbox").returncode == 0  # registers b.cli
    sent = studio(dep, "a", "send", "b.cli", "hello from a")
    assert sent.returncode == 0, sent.stderr
    got = studio(dep, "b", "inbox", "--new")
    assert got.returncode == 0 and "hello from a" in got.stdout and "a.cli" in got.stdout

    forged = studio(dep, "a", "send", "a.cli", "x", STUDIO_AGENT_ID="b.cli")
    assert forged.returncode == 1
    assert forged.stderr.startswith("studio: permission denied: ")
    assert f"studio.{dep.team}.msg.a.cli.b.cli" in forged.stderr


# ---------------------------------------------------------------- one server, on loopback


class OneServer:
    """The one-server section, with 127.0.0.1 for 10.0.0.11 and the output directory as
    /etc/studio (the install steps are copies, which the test skips)."""

    def __init__(self, out: Path) -> None:
        self.out = out
        argv = ["--team", "acme", "broker", "cluster-config", "--nodes", "s"]
        argv += ["--host-of", "s=127.0.0.1", "--tls", "--out", str(out)]
        argv += ["--install-dir", str(out), "--store-root", str(out / "store")]
        argv += ["--port", str(free_port()), "--cluster-port", str(free_port())]
        argv += ["--monitor-port", str(free_port())]
        self.run_ok(None, *argv)
        plan = cluster_config.load_plan(out)
        assert plan is not None
        self.server = ServerProcess(
            spec=cluster_config.node_spec(plan, "s"),
            config_path=out / "nats-s.conf",
            log_path=out / "nats-s.log",
        )

    def run(self, user: str | None, *argv: str) -> subprocess.CompletedProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith("STUDIO_")}
        env["STUDIO_HOME"] = str(self.out / f"home-{user or 'none'}")
        if user:
            env["STUDIO_CONFIG"] = str(self.out / f"studio-{user}.toml")
        return subprocess.run([STUDIO, *argv], env=env, capture_output=True, text=True, timeout=60)

    def run_ok(self, user: str | None, *argv: str) -> str:
        done = self.run(user, *argv)
        assert done.returncode == 0, f"studio {argv}:\n{done.stdout}\n{done.stderr}"
        return done.stdout


@pytest.fixture
def one_server(tmp_path: Path) -> Iterator[OneServer]:
    setup = OneServer(tmp_path / "studio-cluster")
    setup.server.start()
    try:
        yield setup
    finally:
        setup.server.stop()


def test_one_server_walk_through(one_server: OneServer):
    s, pid = one_server, str(one_server.server.pid)
    assert "provisioned (replicas 1)" in s.run_ok("admin", "broker", "provision", "--nodes", "s")
    doctor = s.run("s", "doctor")
    assert doctor.returncode == 0 and "✓ jetstream" in doctor.stdout, doctor.stdout
    s.run_ok("s", "inbox")  # registers s.cli

    # a laptop: add-node, reload, provision, then it works from its own settings
    added = s.run_ok(None, "broker", "add-node", "laptop", "--dir", str(s.out), "--reload-pid", pid)
    assert "creds/node-laptop.nk" in added and "studio-laptop.toml" in added
    assert "creds = " in (s.out / "studio-laptop.toml").read_text()
    s.run_ok("admin", "broker", "provision", "--nodes", "laptop")
    assert "sent to s.cli" in s.run_ok("laptop", "send", "s.cli", "hello from the laptop")
    assert "hello from the laptop" in s.run_ok("s", "inbox", "--new")

    # remove-node: the laptop's key is refused once the server reloaded auth.conf
    s.run_ok(None, "broker", "remove-node", "laptop", "--dir", str(s.out), "--reload-pid", pid)
    assert not (s.out / "creds" / "node-laptop.nk").exists()
    (s.out / "creds" / "node-laptop.nk").write_text("")  # keep the path valid: the key is gone
    refused = s.run("laptop", "send", "s.cli", "still here?")
    assert refused.returncode == 1 and "studio:" in refused.stderr, refused.stderr


# ---------------------------------------------------------------- the files


def guide_commands() -> list[str]:
    lines = []
    for block in SHELL_BLOCK.findall(GUIDE):
        joined = block.replace("\\\n", " ")
        for line in joined.splitlines():
            line = line.split("  #")[0].strip()
            line = re.sub(r"^STUDIO_CONFIG=\S+ ", "", line)
            if line.startswith("studio "):
                lines.append(line)
    return lines


def test_every_studio_command_of_the_guide_parses():
    parser = build_parser()
    lines = guide_commands()
    assert len(lines) >= 15
    for line in lines:
        args = parser.parse_args(shlex.split(line.replace("~", "/home/me"))[1:])
        assert callable(args.func), line
    assert any(line.startswith("studio broker remove-node") for line in lines)
    assert any(line.startswith("studio up") for line in lines)  # a step starts agents
    assert "ssh -t b" in GUIDE and "mkdir -p -m 700 ~/studio-setup" in GUIDE
    assert "/usr/local/bin/studio" in GUIDE  # `studio` on b's and c's PATH
    assert "[test]" not in GUIDE and "installed-stamp" not in GUIDE  # no test tools on servers


def test_credential_files_have_one_name_everywhere():
    readme = (REPO / "README.md").read_text()
    # Every file name ending in .creds or .nk ("a `.creds` file", a format, names none).
    named = [n for n in re.findall(r"[\w./~<>-]*\.(?:creds|nk)\b", readme + GUIDE) if n[0] != "."]
    assert len(named) >= 10
    for name in named:
        base = name.rsplit("/", 1)[-1]
        assert re.fullmatch(r"node-(<[a-z-]+>|[a-z0-9-]+)\.nk|admin\.nk|local\.nk", base), name
    assert "/etc/studio/creds/node-laptop.nk" in readme


def test_compose_keeps_secrets_outside_the_repository():
    compose = (REPO / "deploy" / "compose" / "compose.yaml").read_text()
    assert "./config" not in compose and "${STUDIO_COMPOSE_CONFIG:?" in compose
    assert compose.count("*config") == 3
    assert "--out deploy/" not in GUIDE
    ignored = (REPO / "deploy" / "compose" / ".gitignore").read_text().split()
    assert "config/" in ignored


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze not installed")
def test_systemd_units_verify(tmp_path: Path):
    """`systemd-analyze verify` on the units, with /opt/studio pointing at this checkout (it
    checks that the programs exist). What it cannot show here (no systemd runs): that a
    restart keeps tmux alive; the unit says KillMode=process for that."""
    units = []
    for source in (REPO / "deploy" / "systemd").glob("*.service"):
        unit = tmp_path / source.name
        unit.write_text(source.read_text().replace("/opt/studio", str(REPO)))
        units.append(str(unit))
    done = subprocess.run(
        ["systemd-analyze", "verify", *units], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0 and not done.stderr.strip(), done.stderr
    node = (REPO / "deploy" / "systemd" / "studio-node.service").read_text()
    assert "KillMode=process" in node
    path = next(line for line in node.splitlines() if line.startswith("Environment=PATH="))
    for directory in ("%h/.npm-global/bin", "%h/.local/bin", "/usr/local/bin"):
        assert directory in path
