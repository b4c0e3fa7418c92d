"""Idempotent creation of the team's streams and KV buckets.

The processes that own a team provision it (`studio up`'s daemon, `studio broker provision`;
see connection.connect), so this must be cheap when everything exists and must converge when
configs differ (a changed setting updates the stream instead of failing).
KV buckets are declared as streams here rather than through `create_key_value`, so that an
existing bucket with another config is updated too, and so the leases bucket never gets limit
markers (with markers an expired key blocks `kv.create` until the marker itself expires).
"""

from __future__ import annotations

import asyncio
import time

from nats.js import api
from nats.js.errors import APIError, BucketNotFoundError, NotFoundError
from nats.js.kv import KeyValue

from broker.connection import Broker
from broker.errors import PermissionDenied, TeamNotFound
from broker.publish import retryable

STREAM_NAME_IN_USE = 10058
NO_SUITABLE_PEERS = 10005


async def ensure_stream(broker: Broker, config: api.StreamConfig) -> api.StreamInfo:
    """Create, or update when the existing config differs; retried while the cluster has no
    leader (just started, or failing over)."""
    deadline = time.monotonic() + broker.settings.publish_retry_s
    while True:
        try:
            try:
                return await broker.js.add_stream(config)
            except APIError as exc:
                if exc.err_code != STREAM_NAME_IN_USE:
                    raise
            return await broker.js.update_stream(config)
        except PermissionDenied:
            # Node credentials may not create or change streams (a node that could edit its
            # inbox stream's subjects could capture other nodes' mail): the admin provisions
            # them (`studio broker provision`), and a node uses them as they are.
            return await _existing_stream(broker, config.name or "")
        except Exception as exc:
            # A cluster that just started may not know all its peers yet (10005: "no
            # suitable peers for placement"): as transient as a leader election.
            peers_pending = isinstance(exc, APIError) and exc.err_code == NO_SUITABLE_PEERS
            if not (retryable(exc) or peers_pending) or time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


async def _existing_stream(broker: Broker, name: str) -> api.StreamInfo:
    try:
        return await broker.js.stream_info(name)
    except NotFoundError:
        raise PermissionDenied(
            f"permission denied: stream {name} does not exist and node {broker.settings.node!r} "
            "may not create it; provision it with the admin credentials "
            "(`studio broker provision --nodes NODE,...`)"
        ) from None


def _kv_stream(
    broker: Broker, bucket: str, history: int = 1, *, any_replica: bool = True
) -> api.StreamConfig:
    """`any_replica`: reads may be answered by any replica (direct gets), which may lag the
    leader by a moment. Buckets whose reads decide a compare-and-set (tasks, leases) read
    from the leader instead, so a claim right after a create sees the task."""
    return api.StreamConfig(
        name=f"KV_{bucket}",
        subjects=[f"$KV.{bucket}.>"],
        allow_direct=any_replica,
        # A rollup header would let a writer of one key wipe every other key of the bucket.
        allow_rollup_hdrs=False,
        allow_msg_ttl=True,
        max_msg_size=record_cap(broker),
        deny_delete=True,
        discard=api.DiscardPolicy.NEW,
        duplicate_window=min(broker.settings.duplicate_window_s, 120.0),
        max_msgs_per_subject=history,
        max_msgs=-1,
        max_consumers=-1,
        num_replicas=broker.replicas,
        storage=api.StorageType.FILE,
    )


def record_cap(broker: Broker) -> int:
    """The largest record any studio stream takes, enforced by the broker itself: a body at
    the cap, JSON-escaped in the worst case, plus the fields around it."""
    return 8 * broker.settings.max_body_bytes + 64 * 1024


def inbox_stream_config(broker: Broker, node: str) -> api.StreamConfig:
    s = broker.settings
    return api.StreamConfig(
        name=broker.names.inbox_stream(node),
        subjects=[broker.names.node_inbox_subjects(node)],
        retention=api.RetentionPolicy.LIMITS,
        # At its byte limit an inbox refuses new mail (the sender is told) rather than drop
        # mail nobody has read; old mail still expires by age.
        discard=api.DiscardPolicy.NEW,
        max_bytes=s.inbox_max_bytes,
        max_msg_size=record_cap(broker),
        max_age=s.inbox_max_age_days * 86400,
        max_msgs_per_subject=s.inbox_max_msgs_per_subject,
        duplicate_window=s.duplicate_window_s,
        num_replicas=broker.replicas,
        storage=api.StorageType.FILE,
        allow_direct=True,
    )


async def ensure_team(broker: Broker) -> None:
    names, s = broker.names, broker.settings
    await ensure_stream(
        broker,
        api.StreamConfig(
            name=names.notes_stream,
            subjects=[f"{names.prefix}.note.>"],
            max_age=s.inbox_max_age_days * 86400,
            max_msg_size=record_cap(broker),
            duplicate_window=s.duplicate_window_s,
            num_replicas=broker.replicas,
            storage=api.StorageType.FILE,
        ),
    )
    await ensure_stream(
        broker,
        api.StreamConfig(
            name=names.events_stream,
            subjects=[f"{names.prefix}.event.>"],
            max_age=s.events_max_age_s,
            max_msgs=s.events_max_msgs,
            max_msg_size=record_cap(broker),
            discard=api.DiscardPolicy.OLD,
            duplicate_window=min(s.duplicate_window_s, s.events_max_age_s),
            num_replicas=broker.replicas,
            storage=api.StorageType.FILE,
        ),
    )
    await ensure_stream(
        broker, _kv_stream(broker, names.tasks_bucket, history=8, any_replica=False)
    )
    await ensure_stream(broker, _kv_stream(broker, names.registry_bucket))
    # Presence expires by per-message TTL. No expiry markers: the server needs rollup
    # headers allowed for those, and a rollup would let any node wipe everyone's presence.
    await ensure_stream(broker, _kv_stream(broker, names.agents_bucket))
    await ensure_stream(broker, _kv_stream(broker, names.leases_bucket, any_replica=False))
    await ensure_stream(broker, _kv_stream(broker, names.cursors_bucket))


async def ensure_node_inbox(broker: Broker, node: str) -> None:
    if node in broker.provisioned_nodes:
        return
    await ensure_stream(broker, inbox_stream_config(broker, node))
    broker.provisioned_nodes.add(node)


async def inbox_exists(broker: Broker, node: str) -> bool:
    if node in broker.provisioned_nodes:
        return True
    try:
        await broker.js.stream_info(broker.names.inbox_stream(node))
    except NotFoundError:
        return False
    broker.provisioned_nodes.add(node)
    return True


async def bucket(broker: Broker, name: str) -> KeyValue:
    kv = broker.buckets.get(name)
    if kv is None:
        try:
            kv = await broker.js.key_value(name)
        except BucketNotFoundError:
            raise TeamNotFound(
                f"team {broker.team!r} does not exist on this broker (no {name} bucket): check "
                "the team name (--team, STUDIO_TEAM); `studio up` or `studio broker provision` "
                "creates a team"
            ) from None
        broker.buckets[name] = kv
    return kv
