"""Typed errors. Each message says what was wrong and how to fix it, because the reader is
often a model deciding its next tool call, not a person reading a traceback."""

from __future__ import annotations


class StudioError(Exception):
    """Base of every expected failure; its message is safe and useful to show the caller."""


class InvalidInput(StudioError):
    pass


class TeamNotFound(StudioError):
    """The team's streams are not on this broker: a typo in the team name, or not set up."""


class InvalidName(InvalidInput):
    pass


class UnknownAgent(StudioError):
    def __init__(self, wanted: str, candidates: list[str]) -> None:
        self.wanted = wanted
        self.candidates = candidates
        if candidates:
            known = ", ".join(candidates[:50])
            super().__init__(f"unknown agent {wanted!r}; known agents: {known}")
        else:
            super().__init__(f"unknown agent {wanted!r}; no agents are registered yet")


class AmbiguousAgent(StudioError):
    def __init__(self, wanted: str, candidates: list[str]) -> None:
        self.candidates = candidates
        super().__init__(
            f"agent name {wanted!r} is ambiguous; use the full id, one of: {', '.join(candidates)}"
        )


class MessageTooLarge(StudioError):
    def __init__(self, size: int, cap: int) -> None:
        super().__init__(
            f"message body is {size} bytes, over the cap of {cap} bytes; "
            "shorten it or put the content in a file and send its path"
        )


class StreamFull(StudioError):
    """The stream refused the write: it is at its byte limit (an inbox with that much mail
    unread and unexpired). Nothing stored was dropped to make room."""


class TaskNotFound(StudioError):
    pass


class TaskConflict(StudioError):
    """The task changed under us or is not in a state that allows the request."""


class InvalidTransition(StudioError):
    pass


class DependencyCycle(StudioError):
    pass


class LeaseConflict(StudioError):
    def __init__(self, conflicts: list) -> None:
        self.conflicts = conflicts
        parts = [
            f"{c.path} held by {c.holder} until {c.expires_at:%H:%M:%S}Z"
            + (f" ({c.reason})" if c.reason else "")
            for c in conflicts
        ]
        super().__init__("lease conflict: " + "; ".join(parts))


class PermissionDenied(StudioError):
    pass


class BrokerUnavailable(StudioError):
    pass
