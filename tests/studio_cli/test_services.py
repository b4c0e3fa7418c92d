"""studio_cli/services.py through `studio up`/`down`: two STUDIO_HOMEs with the same team on
one tmux server. The second `up` refuses, naming the first home, instead of adopting its
windows; the second `down` leaves the first home's session alone. And the plain `studio`
window `up` makes has `studio` on its PATH."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

from tests.studio_cli.conftest import Cli, wait_for


def test_a_second_home_cannot_take_over_the_first_ones_session(cli: Cli, tmp_path: Path):
    up = cli.run("up", "--agents", "1", "--agent", "shell", "--lead", "none")
    assert "agent-1   started (shell)" in up.stdout
    second_home = tmp_path / "home-2"
    second_home.mkdir()
    second = replace(cli, home=second_home, env={**cli.env, "STUDIO_HOME": str(second_home)})
    try:
        refused = second.run("up", "--agents", "1", "--agent", "shell", ok=False)
        assert refused.returncode == 1
        assert f"belongs to the studio of STUDIO_HOME={cli.home}" in refused.stderr
        assert not (second_home / "run" / "up-node-main.json").exists()  # no daemon started

        down = second.run("down")
        assert f"belongs to STUDIO_HOME={cli.home}: left alone" in down.stdout
        assert "agent-1" in cli.tmux("list-windows", "-t", "studio-main", "-F", "#W")
    finally:
        second.run("down", ok=False)

    # The plain shell window of the first home finds `studio`.
    out = tmp_path / "which.txt"
    cli.tmux("send-keys", "-t", "studio-main:studio", f"command -v studio > {out}", "Enter")
    wait_for(lambda: out.exists() and out.read_text(), 10, "the studio window's shell")
    assert out.read_text().strip() == str(Path(sys.executable).parent / "studio")
