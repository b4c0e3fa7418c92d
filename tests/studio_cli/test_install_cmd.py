"""studio_cli/install_cmd.py: a mistyped `--dir` is refused, not created."""

from __future__ import annotations

from studio_cli.main import main as studio


def test_install_refuses_a_missing_dir(tmp_path, capsys):
    missing = tmp_path / "nonexistent"
    assert studio(["install", "claude", "--dir", str(missing)]) == 1
    assert "is not a directory" in capsys.readouterr().err
    assert not missing.exists()
    (tmp_path / "project").mkdir()
    assert studio(["install", "claude", "--dir", str(tmp_path / "project")]) == 0
    assert (tmp_path / "project" / ".mcp.json").is_file()
