"""Shared fixtures: a real nats-server (and a 3-node cluster) started once per session, and a
connected Broker per test on a team of its own, so tests never see each other's data."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from broker.connection import Broker, connect
from broker.provision import ensure_team
from broker.settings import Settings, load_settings
from studio_cli.ops.server import ServerProcess, single_node
from tests.cluster import LocalCluster
from tests.multihost.netlab import NetLab, unavailable_reason

_teams = itertools.count(1)


@pytest.fixture(scope="session")
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = single_node(tmp_path_factory.mktemp("nats"))
    # Hundreds of test teams each reserve their inboxes' byte limits; nothing near it is used.
    server.spec.max_file_store = "1TB"
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def netlab() -> Iterator[NetLab]:
    """Three network namespaces on a bridge, once per session (tests/multihost, tests/security).
    Without root or `ip netns` the tests that need them skip, saying why."""
    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    try:
        lab = NetLab(["a", "b", "c"]).create()
    except RuntimeError as exc:  # e.g. no veth/bridge support in this kernel or container
        pytest.skip(f"cannot build the namespace network: {exc}")
    try:
        yield lab
    finally:
        lab.destroy()


@pytest.fixture(scope="session")
def nats_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    cluster = LocalCluster.create(tmp_path_factory.mktemp("cluster"), size=3)
    cluster.start()
    yield cluster
    cluster.stop()


def unique_team() -> str:
    return f"t{next(_teams)}"


def make_settings(urls: list[str], home: Path, **overrides) -> Settings:
    values = {"nats_url": ",".join(urls), "team": unique_team(), "node": "n1", "home": home}
    values.update(overrides)
    return load_settings(env={}, **values)


BrokerFactory = Callable[..., Awaitable[Broker]]


@pytest.fixture
async def broker_factory(
    nats_server: ServerProcess, tmp_path: Path
) -> AsyncIterator[BrokerFactory]:
    """Connect Brokers to the single node; all share one team unless told otherwise."""
    opened: list[Broker] = []
    team = unique_team()

    async def make(**overrides) -> Broker:
        overrides.setdefault("team", team)
        b = await connect(make_settings([nats_server.spec.url], tmp_path, **overrides))
        await ensure_team(b)
        opened.append(b)
        return b

    yield make
    for b in opened:
        await b.close()


@pytest.fixture
async def broker(broker_factory: BrokerFactory) -> Broker:
    return await broker_factory()
