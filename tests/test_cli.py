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


def test_docs_document_every_sub_command():
    """Each command has a reference section in the user guide (a heading line ``euv2mag NAME ...``)."""
    import re
    from pathlib import Path

    pages = "\n".join(p.read_text(encoding="utf-8") for p in (Path(__file__).resolve().parents[1] / "docs").glob("*.rst"))
    for name in COMMANDS:
        assert re.search(rf"^``euv2mag {name}( [^`]*)?``\n[-=~^]+$", pages, re.MULTILINE), name


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


# ---------------------------------------------------------------------------- intermixed options
#: For every command: (canonical order, the same arguments with an option among the positionals).
INTERMIXED = {
    "synth": (["synth", "o.zarr", "--size", "32", "--seed", "3"], ["synth", "--size", "32", "o.zarr", "--seed", "3"]),
    "download": (["download", "--start", "2011-01-01", "--end", "2011-01-02", "--out", "d", "--hmi", "--aia", "304"],
                 ["download", "--hmi", "--out", "d", "--start", "2011-01-01", "--aia", "304", "--end", "2011-01-02"]),
    "realism": (["realism", "a.fits", "b.fits", "--out", "r", "--seed", "1"],
                ["realism", "a.fits", "--out", "r", "b.fits", "--seed", "1"]),
    "prepare": (["prepare", "o.zarr", "--hmi", "a.fits", "b.fits", "--size", "64"],
                ["prepare", "--size", "64", "o.zarr", "--hmi", "a.fits", "b.fits"]),
    "import": (["import", "a.fits", "b.png", "--like", "t.zarr", "--out", "p.zarr", "--png-limit", "100"],
               ["import", "a.fits", "--like", "t.zarr", "b.png", "--png-limit", "100", "--out", "p.zarr"]),
    "info": (["info", "s.zarr", "--json"], ["info", "--json", "s.zarr"]),
    "split": (["split", "s.zarr", "out.json", "--scheme", "kpl19", "--seed", "2"],
              ["split", "s.zarr", "--scheme", "kpl19", "out.json", "--seed", "2"]),
    "train": (["train", "s.zarr", "--split", "x.json", "--out", "runs/k", "--seeds", "0", "1", "--devices", "2"],
              ["train", "--split", "x.json", "--devices", "2", "s.zarr", "--out", "runs/k", "--seeds", "0", "1"]),
    "predict": (["predict", "runs/k/seed-0", "s.zarr", "--out", "p.zarr", "--indices", "test", "--split", "x.json"],
                ["predict", "runs/k/seed-0", "--out", "p.zarr", "s.zarr", "--indices", "test", "--split", "x.json"]),
    "saturation": (["saturation", "a.zarr", "b.fits", "--limits", "100", "625", "--out", "sat"],
                   ["saturation", "a.zarr", "--out", "sat", "b.fits", "--limits", "100", "625"]),
    "leakage": (["leakage", "a.csv", "b.csv", "--split", "x.json", "--out", "leak"],
                ["leakage", "a.csv", "--split", "x.json", "b.csv", "--out", "leak"]),
    "regions": (["regions", "a.fits", "b.fits", "--out", "reg", "--no-png"],
                ["regions", "a.fits", "--out", "reg", "b.fits", "--no-png"]),
    "audit": (["audit", "--truth", "t.zarr", "--pred", "p0.zarr", "--pred", "p1.zarr", "--out", "aud", "--n-boot", "200"],
              ["audit", "--out", "aud", "--pred", "p0.zarr", "--n-boot", "200", "--truth", "t.zarr", "--pred", "p1.zarr"]),
    "baselines": (["baselines", "t.zarr", "--split", "x.json", "--out", "b", "--kinds", "zero", "persistence-7",
                   "--seed", "2", "--history-tolerance-days", "0.25", "--rotation-model", "snodgrass", "--r-max", "0.9",
                   "--max-distance-deg", "4"],
                  ["baselines", "--split", "x.json", "--history-tolerance-days", "0.25", "--r-max", "0.9", "t.zarr",
                   "--out", "b", "--seed", "2", "--max-distance-deg", "4", "--rotation-model", "snodgrass", "--kinds",
                   "zero", "persistence-7"]),
    "synchronic": (["synchronic", "e.zarr", "f.zarr:3", "--time", "2014-02-01", "--out", "m.fits"],
                   ["synchronic", "e.zarr", "--time", "2014-02-01", "f.zarr:3", "--out", "m.fits"]),
    "farside": (["farside", "runs/k/seed-0", "s.zarr", "--split", "x.json", "--out", "fs", "--separations", "60",
                 "180", "--euv-calibration", "linear:1.2", "--scales", "0.8", "1.0", "--history-run", "runs/h/seed-0",
                 "--history-days", "auto", "--max-history-age", "10"],
                ["farside", "--split", "x.json", "runs/k/seed-0", "--separations", "60", "180", "--out", "fs",
                 "--history-run", "runs/h/seed-0", "s.zarr", "--euv-calibration", "linear:1.2", "--scales", "0.8",
                 "1.0", "--history-days", "auto", "--max-history-age", "10"]),
    "history": (["history", "e.zarr", "--out", "h.zarr", "--days", "0:14", "--max-age", "10", "--seed", "2"],
                ["history", "--days", "0:14", "e.zarr", "--max-age", "10", "--out", "h.zarr", "--seed", "2"]),
    "report": (["report", "study", "--out", "r.html"], ["report", "--out", "r.html", "study"]),
    "demo": (["demo", "--out", "d", "--quick", "--farside", "--seeds", "0", "1"], ["demo", "--seeds", "0", "1", "--farside", "--quick", "--out", "d"]),
}


def test_the_intermixed_table_covers_every_command():
    assert sorted(INTERMIXED) == sorted(COMMANDS)


@pytest.mark.parametrize("name", COMMANDS)
def test_options_may_stand_between_positionals(name):
    from euv2mag.cli import parse_args

    parser = build_parser()
    canonical, mixed = INTERMIXED[name]
    expected = parser.parse_args(canonical)
    assert expected.command == name
    assert parse_args(mixed, parser) == expected
    assert parse_args(canonical, parser) == expected


def test_plain_argparse_rejects_what_intermixed_parsing_accepts(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(INTERMIXED["split"][1])
    assert "unrecognized arguments: out.json" in capsys.readouterr().err


def test_top_level_options_and_errors_are_unchanged(capsys):
    from euv2mag import __version__
    from euv2mag.cli import parse_args

    with pytest.raises(SystemExit) as exc:
        parse_args(["--version"])
    assert exc.value.code == 0 and capsys.readouterr().out.strip() == f"euv2mag {__version__}"
    for argv, message in ((["nope"], "invalid choice: 'nope'"), ([], "required: COMMAND"),
                          (["split", "s.zarr", "out.json"], "required: --scheme")):
        with pytest.raises(SystemExit) as exc:
            parse_args(argv)
        assert exc.value.code == 2 and message in capsys.readouterr().err


# ---------------------------------------------------------------------------- UserError.parameter
def test_user_error_names_the_parameter_for_python_callers():
    import pickle

    from euv2mag.errors import UserError

    err = UserError("must be\n >= 1", parameter="n_boot")
    assert str(err) == "n_boot: must be >= 1" and err.parameter == "n_boot" and err.path is None
    assert err.problem == "must be >= 1" and err.render("--n-boot") == "--n-boot: must be >= 1"
    both = UserError("has no test frames", path="splits/a.json", parameter="split")
    assert str(both) == "split: splits/a.json: has no test frames"
    assert str(UserError("no such store", path="a.zarr")) == "a.zarr: no such store"
    assert UserError("no such store", path="a.zarr").render("--x") == "a.zarr: no such store"
    back = pickle.loads(pickle.dumps(both))  # crosses Dask worker processes intact
    assert (type(back), str(back), back.path, back.parameter) == (UserError, str(both), "splits/a.json", "split")


@pytest.mark.parametrize(
    "command, argv, parameter, shown",
    [
        ("audit", ["--truth", "t.zarr", "--pred", "p.zarr", "--out", "a"], "n_boot", "--n-boot"),
        ("audit", ["--truth", "t.zarr", "--pred", "p.zarr", "--out", "a"], "not_an_option", "not_an_option"),
        ("info", ["s.zarr"], "store", "store"),
        ("import", ["a.png", "--like", "t.zarr", "--out", "p.zarr"], "png_limit_g", "--png-limit"),
        ("import", ["a.png", "--like", "t.zarr", "--out", "p.zarr"], "tolerance_s", "--tolerance"),
        ("leakage", ["s.zarr", "--split", "x.json", "--out", "l"], "source", "STORE_OR_TIMES"),
    ],
)
def test_the_command_line_names_the_parameter_by_its_flag(monkeypatch, capsys, command, argv, parameter, shown):
    import importlib

    from euv2mag.errors import UserError

    def fail(args):
        raise UserError("must be >= 1", path="in.zarr", parameter=parameter)

    from euv2mag.cli import command_module

    monkeypatch.setattr(importlib.import_module(command_module(command)), "run", fail)
    assert main([command, *argv]) == 2
    assert capsys.readouterr().err == f"euv2mag {command}: error: {shown}: in.zarr: must be >= 1\n"


# ---------------------------------------------------------------------------- closed standard output
def test_a_closed_stdout_ends_quietly_with_status_141(tmp_path):
    import os

    from euv2mag.cli import BROKEN_PIPE_STATUS

    store = tmp_path / "s.zarr"
    assert main(["synth", str(store), "--start", "2011-01-01", "--end", "2011-01-01", "--size", "32"]) == 0
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first byte is written: like `| head -0`
    try:
        proc = subprocess.run([sys.executable, "-m", "euv2mag", "info", str(store)], stdout=write_end,
                              stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(write_end)
    assert proc.stderr == "" and proc.returncode == BROKEN_PIPE_STATUS == 141
    # `| head -1` while the command is still writing: 1 MB of lines cannot all fit the pipe buffer
    code = ("import sys; import euv2mag.cli.info as info; from euv2mag.cli import main; "
            "info.run = lambda args: print('\\n'.join(f'line {i}' for i in range(100_000))); "
            "sys.exit(main(['info', 'any.zarr']))")
    with subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True) as proc:
        assert proc.stdout.readline() == "line 0\n"
        proc.stdout.close()
        status = proc.wait(timeout=120)
        assert proc.stderr.read() == ""
    assert status == BROKEN_PIPE_STATUS


def test_command_modules_stay_thin():
    """A command module parses options, calls one library function and prints: at most 200 lines each."""
    from pathlib import Path

    import euv2mag.cli as cli

    sizes = {p.name: len(p.read_text(encoding="utf-8").splitlines()) for p in Path(cli.__file__).parent.glob("*.py")}
    assert sizes and max(sizes.values()) <= 200, sizes
