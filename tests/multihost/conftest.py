"""Fixtures for tests across hosts: three network namespaces (made once per session, removed
at its end), clusters deployed into them with the real `studio broker cluster-config`, and
agent processes running inside the namespaces. Everything a test starts is stopped in its
teardown, failed or not.

Without root or `ip netns` the namespace tests skip, saying why (CI runs them as root)."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.multihost.netlab import AgentProc, Deployment, NetLab, deploy

_teams = itertools.count(1)
_ports = itertools.count(0)


def new_deployment(lab: NetLab, base: Path, *, tls: bool = False) -> Deployment:
    n = next(_ports)
    return deploy(lab, base / f"deploy{n}", team=f"mh{next(_teams)}", tls=tls, port_base=4300 + n)


@pytest.fixture(scope="module")
def shared_deployment(
    netlab: NetLab, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    """An authenticated cluster for the tests of one module that leave it intact. Per module,
    not per session: a test that cuts a host's link cuts every cluster in the lab."""
    deployment = new_deployment(netlab, tmp_path_factory.mktemp("shared"))
    try:
        yield deployment
    finally:
        deployment.cluster.stop()


class Site:
    """A test's own deployments and agent processes."""

    def __init__(self, lab: NetLab, base: Path) -> None:
        self.lab = lab
        self.base = base
        self.deployments: list[Deployment] = []
        self.procs: list[AgentProc] = []

    def deploy(self, *, tls: bool = False) -> Deployment:
        deployment = new_deployment(self.lab, self.base, tls=tls)
        self.deployments.append(deployment)
        return deployment

    async def agent(
        self, deployment: Deployment, host: str, user: str | None = None, **overrides: Any
    ) -> AgentProc:
        """A client process on `host` with `user`'s credentials (default: the host's own)."""
        user = user or host
        overrides.setdefault("home", str(self.base / f"home-{host}-{len(self.procs)}"))
        proc = await AgentProc.start(
            self.lab,
            host,
            deployment.client_settings(user, **overrides),
            log=self.base / f"agent-{host}-{len(self.procs)}.log",
        )
        self.procs.append(proc)
        return proc

    async def close(self) -> None:
        for proc in self.procs:
            await proc.close()
        for deployment in self.deployments:
            deployment.cluster.stop()


@pytest.fixture
async def site(netlab: NetLab, tmp_path: Path) -> AsyncIterator[Site]:
    current = Site(netlab, tmp_path)
    try:
        yield current
    finally:
        await current.close()
