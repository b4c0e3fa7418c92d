"""Argument types shared by the tools. Bounds live in the schema, so the model sees them before
it calls and a bad value is refused by validation before anything is written."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

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
