"""Settings and identity for CLI commands, from the global flags and the environment.

Imported by every command module while the parser is built, so it loads nothing heavy at
import time (`studio --help` must not pay for pydantic or nats): broker modules are imported
inside the functions that need them.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from broker.names import AgentId
    from broker.settings import Settings


def settings_from(args: argparse.Namespace) -> Settings:
    from broker.settings import load_settings

    return load_settings(
        home=getattr(args, "home", None),
        team=getattr(args, "team", None),
        node=getattr(args, "node", None),
    )


def cli_identity(settings: Settings, as_name: str | None = None) -> AgentId:
    """STUDIO_AGENT_ID inside an agent's window, else `<node>.cli` (or `<node>.<--as>`)."""
    from broker.names import AgentId

    if as_name:
        return AgentId.parse(as_name) if "." in as_name else AgentId(settings.node, as_name)
    if settings.agent_id:
        return AgentId.parse(settings.agent_id)
    return AgentId(settings.node, "cli")


def add_identity_option(parser: argparse.ArgumentParser) -> None:
    """`--as NAME` on every command that acts as someone (sends, claims, locks, ...)."""
    parser.add_argument(
        "--as",
        dest="as_name",
        metavar="NAME",
        # SUPPRESS: a nested subcommand's unset --as must not hide its parent's.
        default=argparse.SUPPRESS,
        help="act as this registered agent (NAME or NODE.NAME; default: $STUDIO_AGENT_ID, "
        "else <node>.cli); `studio register NAME` makes a new one",
    )


def as_name(args: argparse.Namespace) -> str | None:
    return getattr(args, "as_name", None)
