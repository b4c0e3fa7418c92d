"""The end of a delivery: acknowledging messages once they reached the agent.

Acks here wait for the server's confirmation (a double ack). A plain ack is fire-and-forget:
the unread count read right after could still include the message, and the footer would then
tell the agent to read mail it has just been shown.
"""

from __future__ import annotations

import asyncio

from broker.messages import Delivery


async def hand_off(deliveries: list[Delivery]) -> None:
    await asyncio.gather(*(d.raw.ack_sync() for d in deliveries))
