"""Reading records other processes wrote: a bad one is skipped and reported, never fatal.

Any node may write the shared buckets and streams, so one non-JSON value, or one whose body
disagrees with the key the broker let its writer use, must cost its own record and nothing
else: listings, heartbeats, broadcast and the board keep working. Each bad record is logged
once per process, so a poisoned key does not flood the logs on every read.
"""

from __future__ import annotations

from typing import TypeVar

import structlog
from pydantic import BaseModel, ValidationError

from broker.connection import Broker

log = structlog.get_logger(__name__)
M = TypeVar("M", bound=BaseModel)


def parse(broker: Broker, model: type[M], data: bytes | None, *, where: str) -> M | None:
    """`data` as `model`, or None (logged once per `where`) when it is not one."""
    try:
        return model.model_validate_json(data or b"")
    except ValidationError as exc:
        skipped(broker, where, f"not a valid {model.__name__}: {exc.errors()[0]['msg']}")
        return None


def skipped(broker: Broker, where: str, why: str) -> None:
    warn_once(broker, where, "bad_record_skipped", why=why)


def warn_once(broker: Broker, where: str, event: str, **fields: object) -> None:
    """Log `event` about the record at `where` the first time this process meets it."""
    if where not in broker.bad_records:
        broker.bad_records.add(where)
        log.warning(event, where=where, **fields)
