"""The `euv2mag` command as a whole: every sub-command is there, help is quick, errors are one line."""
from __future__ import annotations

import subprocess
import sys

import pytest

from euv2mag.cli import COMMANDS, build_parser, main


def test_every_documented_sub_command_is_installed():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert sorted(sub.choices) == sorted(COMMANDS)


def test_readme_documents_every_sub_command():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    for name in COMMANDS:
        assert f"### `euv2mag {name}" in readme, name


@pytest.mark.parametrize("name", COMMANDS)
def test_help_of_each_sub_command(name, capsys):
    with pytest.raises(SystemExit) as exc:
        main([name, "--help"])
    assert exc.value.code == 0
    assert "usage: euv2mag " + name in capsys.readouterr().out


def test_help_does_not_import_heavy_libraries():
    """`euv2mag --help` must stay fast: no torch, matplotlib or sunpy.map at start-up."""
    code = (
        "import sys; from euv2mag.cli import build_parser; build_parser(); "
        "print(sorted(m for m in ('torch', 'matplotlib', 'sunpy.map') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_unknown_option_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["info", "s.zarr", "--no-such-option"])
    assert exc.value.code == 2
    assert "unrecognized arguments" in capsys.readouterr().err
