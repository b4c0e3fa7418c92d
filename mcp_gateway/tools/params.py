"""Argument types shared by the tools. Bounds live in the schema, so the model sees them before
it calls and a bad value is refused by validation before anything is written."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field, WithJsonSchema

from broker.models import AgentKind, AgentState, Importance, TaskStatus

AgentRef = Annotated[
    str,
    Field(
        min_length=1,
        max_length=65,
        description="an agent: its name ('backend') or full id ('laptop.backend')",
    ),
]
Name = Annotated[
    str,
    Field(
        min_length=1,
        max_length=32,
        description="lowercase letters, digits and '-', e.g. 'backend' or 'reviewer-2'",
    ),
]
NodeName = Annotated[
    str | None,
    Field(max_length=32, description="a node (machine) name; default: this machine"),
]
TaskId = Annotated[str, Field(min_length=1, max_length=16, description="a task id like 'T-12'")]
ShortText = Annotated[str, Field(max_length=200)]
Summary = Annotated[str, Field(max_length=500, description="one line: what you are doing now")]
Body = Annotated[str, Field(max_length=1024 * 1024)]
Ref = Annotated[str | None, Field(max_length=80)]
Paths = Annotated[
    list[Annotated[str, Field(max_length=1024)]],
    Field(
        min_length=1,
        max_length=200,
        description="repository-relative file paths; a directory ends with '/'",
    ),
]


def _choices(enum: type[StrEnum], exclude: tuple[str, ...] = ()) -> WithJsonSchema:
    """The broker's own enum, shown inline as a plain string enum: a `$ref` to `$defs` is
    something not every agent CLI resolves before showing a tool to its model."""
    return WithJsonSchema(
        {"type": "string", "enum": [e.value for e in enum if e.value not in exclude]}
    )


ImportanceParam = Annotated[Importance, _choices(Importance)]
TaskStatusParam = Annotated[TaskStatus, _choices(TaskStatus)]
AgentStateParam = Annotated[AgentState, _choices(AgentState)]
# A spawned agent runs a CLI studio knows, or a shell ("other" is only for agents that
# registered themselves).
SpawnKind = Annotated[AgentKind, _choices(AgentKind, exclude=("other",))]
