"""The retry unit of every write: a repeated publish with the same msg id is stored once,
even when it is a compare-and-set whose first attempt already landed."""

import pytest

from broker.kv import kv_get, kv_write
from broker.provision import bucket
from broker.publish import CasConflict, publish


async def test_retried_cas_is_not_a_conflict_with_itself(broker):
    name = broker.names.tasks_bucket
    first = await kv_write(broker, name, "probe", b"v1", last=0, msg_id="cas-1")
    # The same write again (its ack was lost, publish retries it): it already landed.
    assert await kv_write(broker, name, "probe", b"v1", last=0, msg_id="cas-1") == first
    # A different writer at the same revision is a real conflict.
    with pytest.raises(CasConflict):
        await kv_write(broker, name, "probe", b"v2", last=0)
    entry = await kv_get(await bucket(broker, name), "probe")
    assert entry.value == b"v1"


async def test_same_msg_id_is_stored_once(broker):
    subject = f"{broker.names.prefix}.event.probe"
    first = await publish(broker, subject, b"x", msg_id="evt-1")
    again = await publish(broker, subject, b"x", msg_id="evt-1")
    assert again.duplicate and again.seq == first.seq
