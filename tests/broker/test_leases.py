import asyncio

import pytest

from broker import leases
from broker.errors import InvalidInput, LeaseConflict
from broker.names import AgentId

A, B = AgentId("n1", "a"), AgentId("n2", "b")


async def test_exclusive_conflict_names_holder_and_expiry(broker):
    await leases.acquire(broker, A, ["src/app.py"], reason="refactor")
    with pytest.raises(LeaseConflict) as err:
        await leases.acquire(broker, B, ["src/app.py", "README.md"])
    assert "n1.a" in str(err.value) and "refactor" in str(err.value)
    assert err.value.conflicts[0].expires_at
    # All or nothing: B got no lease on README.md either.
    assert [lease.path for lease in await leases.list_leases(broker)] == ["src/app.py"]


async def test_directory_lease_covers_files_below(broker):
    await leases.acquire(broker, A, ["src/ui/"])
    with pytest.raises(LeaseConflict):
        await leases.acquire(broker, B, ["src/ui/Sidebar.jsx"])
    with pytest.raises(LeaseConflict):
        await leases.acquire(broker, B, ["src/"])
    await leases.acquire(broker, B, ["src/api/"])


async def test_shared_leases_coexist_but_block_exclusive(broker):
    await leases.acquire(broker, A, ["docs/x.md"], exclusive=False)
    await leases.acquire(broker, B, ["docs/x.md"], exclusive=False)
    [lease] = await leases.list_leases(broker)
    assert sorted(h.agent for h in lease.holders) == ["n1.a", "n2.b"]
    with pytest.raises(LeaseConflict):
        await leases.acquire(broker, AgentId("n3", "c"), ["docs/x.md"], exclusive=True)


async def test_renew_release_and_expiry(broker):
    await leases.acquire(broker, A, ["a.py", "b.py"], ttl_s=1)
    await leases.renew(broker, A, ["a.py"], ttl_s=30)
    with pytest.raises(InvalidInput, match="no lease"):
        await leases.renew(broker, B, ["a.py"])
    await asyncio.sleep(2.2)
    # b.py expired by itself and is free again; a.py was renewed.
    assert [lease.path for lease in await leases.list_leases(broker)] == ["a.py"]
    await leases.acquire(broker, B, ["b.py"])
    assert await leases.release(broker, A) == ["a.py"]
    await leases.acquire(broker, B, ["a.py"])


async def test_bad_lease_input(broker):
    for paths in ([], ["/"], ["."], [""]):
        with pytest.raises(InvalidInput):
            await leases.acquire(broker, A, paths)
    with pytest.raises(InvalidInput, match="ttl_s"):
        await leases.acquire(broker, A, ["x"], ttl_s=0)
    assert await leases.list_leases(broker) == []


@pytest.mark.parametrize("path", ["/etc/passwd", "../x.py", "a/../../x.py", ".."])
async def test_lease_paths_stay_inside_the_repository(broker, path):
    """Whatever the caller (CLI, gateway, HTTP), a lease names a file relative to the root."""
    with pytest.raises(InvalidInput, match="relative to the repository's root"):
        await leases.acquire(broker, A, [path])
    assert leases.normalize("a/./b/../x.py") == "a/x.py"
