"""The end of a delivery: acknowledging messages once they reached the agent.

Acks wait for the server's confirmation (broker.messages.ack): the unread count read right
after must not still include the message, or the footer would tell the agent to read mail it
has just been shown.
"""

from __future__ import annotations

from broker import messages
from broker.messages import Delivery


async def hand_off(deliveries: list[Delivery]) -> None:
    await messages.ack(deliveries)
