"""Advisory file leases with TTL. A lease is a KV key per path holding its current holders;
every write carries a per-message TTL equal to the longest holder's remaining time, so a lease
nobody renews disappears by itself. The bucket has no limit markers: an expired key must leave
no trace that would block the next `create`.

Directory leases end in '/' and cover every path below them.
"""

from __future__ import annotations

import posixpath
from datetime import timedelta

from broker import events, records, roster
from broker.connection import Broker
from broker.errors import InvalidInput, LeaseConflict
from broker.kv import kv_delete, kv_read, kv_write
from broker.models import Lease, LeaseConflictInfo, LeaseHolder, utcnow
from broker.names import AgentId, encode_path
from broker.provision import bucket
from broker.publish import CasConflict

MAX_TTL_S = 24 * 3600
MAX_PATHS = 200


def normalize(path: str) -> str:
    if not isinstance(path, str) or not path.strip() or "\x00" in path or len(path) > 1024:
        raise InvalidInput(f"invalid path {path!r}: give a file path or a directory ending in '/'")
    is_dir = path.endswith("/")
    clean = posixpath.normpath(path.strip())
    if clean in (".", "/"):
        raise InvalidInput("refusing to lease the whole tree: name files or subdirectories")
    if clean.startswith("/") or clean == ".." or clean.startswith("../"):
        raise InvalidInput(
            f"invalid path {path!r}: lease paths are relative to the repository's root (as "
            "every teammate names the file), and stay inside it"
        )
    return clean + "/" if is_dir else clean


def overlaps(a: str, b: str) -> bool:
    return a == b or (a.endswith("/") and b.startswith(a)) or (b.endswith("/") and a.startswith(b))


def _live(lease: Lease) -> list[LeaseHolder]:
    now = utcnow()
    return [h for h in lease.holders if h.expires_at > now]


async def list_leases(broker: Broker, *, fresh: bool = False) -> list[Lease]:
    """Every live lease, from this process's watch of the bucket (an edit hook asks on every
    edit: it must not cost a bucket read). `fresh` for decisions: see roster.entries."""
    leases = []
    for entry in await roster.entries(broker, broker.names.leases_bucket, fresh=fresh):
        lease = records.parse(
            broker, Lease, entry.value, where=f"{broker.names.leases_bucket}/{entry.key}"
        )
        if lease is None:
            continue
        lease.holders = _live(lease)
        if lease.holders:
            leases.append(lease)
    return sorted(leases, key=lambda lease: lease.path)


def conflicts_for(
    leases: list[Lease], agent: AgentId, paths: list[str], exclusive: bool
) -> list[LeaseConflictInfo]:
    found = []
    for lease in leases:
        for path in paths:
            if not overlaps(lease.path, path):
                continue
            for holder in _live(lease):
                if holder.agent == str(agent):
                    continue
                if exclusive or holder.exclusive:
                    found.append(
                        LeaseConflictInfo(
                            path=lease.path,
                            holder=holder.agent,
                            exclusive=holder.exclusive,
                            reason=holder.reason,
                            expires_at=holder.expires_at,
                        )
                    )
    return found


def _validate(paths: list[str], ttl_s: float) -> list[str]:
    if not paths or len(paths) > MAX_PATHS:
        raise InvalidInput(f"give 1 to {MAX_PATHS} paths")
    if not 1 <= ttl_s <= MAX_TTL_S:
        raise InvalidInput(f"ttl_s must be between 1 and {MAX_TTL_S} seconds")
    return sorted({normalize(p) for p in paths})


async def _write_holder(
    broker: Broker, path: str, holder: LeaseHolder | None, agent: AgentId
) -> Lease:
    """Replace this agent's holding of `path` (None removes it), by CAS. Returns the lease
    as written (no holders: removed)."""
    kv = await bucket(broker, broker.names.leases_bucket)
    key = encode_path(path)
    while True:
        entry, revision = await kv_read(kv, key)
        stored = (
            records.parse(broker, Lease, entry.value, where=f"{broker.names.leases_bucket}/{key}")
            if entry
            else None
        )
        lease = stored or Lease(path=path)  # an unreadable lease is replaced
        lease.holders = [h for h in _live(lease) if h.agent != str(agent)]
        if holder:
            lease.holders.append(holder)
        try:
            if not lease.holders:
                if entry:
                    await kv_delete(broker, broker.names.leases_bucket, key, last=entry.revision)
                return lease
            longest = max(h.expires_at for h in lease.holders) - utcnow()
            await kv_write(
                broker,
                broker.names.leases_bucket,
                key,
                lease.model_dump_json().encode(),
                last=revision,
                msg_ttl=max(1.0, longest.total_seconds()),
            )
            return lease
        except CasConflict:
            continue


async def acquire(
    broker: Broker,
    agent: AgentId,
    paths: list[str],
    *,
    ttl_s: float = 600,
    exclusive: bool = True,
    reason: str = "",
) -> list[Lease]:
    """Take leases on all paths or none. On conflict, raise LeaseConflict naming each holder
    and expiry. Re-acquiring your own lease renews it."""
    wanted = _validate(paths, ttl_s)
    conflicts = conflicts_for(await list_leases(broker, fresh=True), agent, wanted, exclusive)
    if conflicts:
        await events.emit(
            broker,
            "lease_conflict",
            agent=str(agent),
            paths=wanted,
            holders=sorted({c.holder for c in conflicts}),
        )
        raise LeaseConflict(conflicts)
    expires = utcnow() + timedelta(seconds=ttl_s)
    for path in wanted:
        holder = LeaseHolder(
            agent=str(agent), exclusive=exclusive, reason=reason, expires_at=expires
        )
        await _write_holder(broker, path, holder, agent)
    # Two acquirers can pass the check at once on overlapping (not identical) paths: re-check
    # after writing, and back out if someone else got there too.
    current = await list_leases(broker, fresh=True)
    late = conflicts_for(current, agent, wanted, exclusive)
    if late:
        for path in wanted:
            await _write_holder(broker, path, None, agent)
        raise LeaseConflict(late)
    return [lease for lease in current if lease.path in wanted]


async def renew(
    broker: Broker, agent: AgentId, paths: list[str], ttl_s: float = 600
) -> list[Lease]:
    """Extend this agent's existing leases; paths it does not hold are an error."""
    wanted = _validate(paths, ttl_s)
    held = {
        lease.path: h
        for lease in await list_leases(broker, fresh=True)
        for h in lease.holders
        if h.agent == str(agent)
    }
    missing = [p for p in wanted if p not in held]
    if missing:
        raise InvalidInput(f"you hold no lease on {', '.join(missing)}; use lock_files first")
    expires = utcnow() + timedelta(seconds=ttl_s)
    return [
        await _write_holder(
            broker, path, held[path].model_copy(update={"expires_at": expires}), agent
        )
        for path in wanted
    ]


async def release(broker: Broker, agent: AgentId, paths: list[str] | None = None) -> list[str]:
    """Drop this agent's leases on `paths` (all of them when None). Returns what was released."""
    held = [
        lease.path
        for lease in await list_leases(broker, fresh=True)
        if any(h.agent == str(agent) for h in lease.holders)
    ]
    targets = held if paths is None else [p for p in (normalize(x) for x in paths) if p in held]
    for path in targets:
        await _write_holder(broker, path, None, agent)
    return targets
