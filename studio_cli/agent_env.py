"""The environment an agent's window gets from the command that starts it.

`studio up` and `studio spawn` on this node pass their caller's environment to the new
window, so variables set in the shell (ANTHROPIC_BASE_URL, API keys) reach the agent even
when a tmux server started elsewhere is already running. On another node only what `--env`
names is sent: a shell's environment is not another machine's business.
"""

from __future__ import annotations

import argparse
import os

# Set by the terminal the caller sits in, wrong inside tmux.
TERMINAL_ONLY = frozenset({"TERM", "TERM_PROGRAM", "TERM_PROGRAM_VERSION", "TERM_SESSION_ID"})


def add_env_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a variable for the agent's window (repeatable); on this node the window also "
        "gets this shell's environment",
    )


def explicit(pairs: list[str]) -> dict[str, str]:
    from broker.control import ENV_NAME
    from broker.errors import InvalidInput

    env = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not ENV_NAME.fullmatch(name):
            raise InvalidInput(f"--env {pair!r}: use NAME=VALUE (NAME of letters, digits, _)")
        env[name] = value
    return env


def for_window(args: argparse.Namespace, *, local: bool) -> dict[str, str]:
    """This shell's environment (local spawns only), then `--env`."""
    from broker.control import NOT_INHERITED

    inherited = {}
    if local:
        inherited = {
            name: value
            for name, value in os.environ.items()
            if name not in NOT_INHERITED
            and name not in TERMINAL_ONLY
            and not name.startswith("STUDIO_")
        }
    return {**inherited, **explicit(getattr(args, "env", []))}
