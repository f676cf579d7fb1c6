"""``euv2mag demo``: the whole study on the synthetic Sun (the ``--quick`` preset), resume, options."""
from __future__ import annotations

import dataclasses
import json
import math
import re
import time

import numpy as np
import pytest

from euv2mag.audit.baselines import KINDS as BASELINE_KINDS
from euv2mag.cli import main
from euv2mag.data.splits import load_split
from euv2mag.data.store import FrameStore
from euv2mag.demo import STAGES, DemoOptions, demo_options, run_demo
from euv2mag.errors import UserError
from euv2mag.model.config import TrainConfig
from euv2mag.report.layout import StudyLayout


def test_presets_and_overrides(tmp_path):
    default, quick = demo_options(), demo_options(quick=True)
    assert default == DemoOptions()
    assert (quick.size, quick.iters, quick.seeds) == (64, 120, (0, 1, 2))
    assert (default.variant, default.coord_channels, default.precision) == ("cc", True, "fp32")
    assert demo_options(quick=True, coord_channels=False).coord_channels is False
    extended = demo_options(extended=True)
    assert (extended.iters, extended.lambda_l1, extended.lambda_abs_cc) == (15000, 100.0, 20.0)
    assert dataclasses.replace(extended, iters=default.iters, lambda_abs_cc=default.lambda_abs_cc) == default
    with pytest.raises(UserError, match="--quick or --extended"):
        demo_options(quick=True, extended=True)
    assert main(["demo", "--out", str(tmp_path / "d"), "--quick", "--extended"]) == 2
    assert not (tmp_path / "d").exists()
    assert demo_options(quick=True, size=32, seeds=[5]).seeds == (5,)
    assert demo_options(quick=True, size=32).size == 32 and demo_options(quick=True, size=32).iters == 120


def test_other_options_on_an_existing_study_are_refused(tmp_path, capsys):
    lay = StudyLayout(tmp_path)
    lay.stages.write_text(json.dumps({"options": demo_options(quick=True).to_dict(), "stages": {}}))
    with pytest.raises(UserError, match="other options \\(iters: 120 there, 7 asked\\)"):
        run_demo(tmp_path, demo_options(quick=True, iters=7))
    assert main(["demo", "--out", str(tmp_path), "--quick", "--iters", "7"]) == 2
    assert "other options" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["stages.json"]  # nothing else written


def test_a_study_made_before_an_option_existed_keeps_what_it_ran(tmp_path):
    """A stages.json without the loss weights ran abs-CC 0 (LEGACY_OPTIONS), not today's default."""
    lay = StudyLayout(tmp_path)
    old = demo_options(quick=True).to_dict()
    del old["lambda_abs_cc"], old["lambda_l1"], old["farside"]
    lay.stages.write_text(json.dumps({"options": old, "stages": {}}))
    with pytest.raises(UserError, match="other options \\(lambda_abs_cc: 0 there, 5 asked\\)"):
        run_demo(tmp_path, demo_options(quick=True))
    # the options it ran are accepted (farside absent = its default, off)
    from euv2mag.demo import _Stages

    _Stages(lay, demo_options(quick=True, lambda_abs_cc=0.0))


@pytest.mark.slow
def test_quick_demo_runs_the_whole_study(quick_demo):
    lay = StudyLayout(quick_demo)
    stages = json.loads(lay.stages.read_text())
    assert list(stages["stages"]) == list(STAGES)
    assert all(s["status"] == "done" and s["seconds"] >= 0 for s in stages["stages"].values())
    # with two or more workers stages overlap: the run's wall time is below the sum of the stages' times
    run = stages["run"]
    assert run["processes"] >= 1 and 0 < run["wall_seconds"]
    assert run["wall_seconds"] < stages["total_seconds"] or run["processes"] == 1
    # the workers' CPU time is counted (they trained five networks: far more than the demo process alone)
    assert run["cpu_seconds"] > 0.5 * run["wall_seconds"]
    assert run["steal_fraction"] is None or 0 <= run["steal_fraction"] <= 1
    truth, leak = FrameStore(lay.store), FrameStore(lay.leak_store)
    assert truth.attrs["params"]["polarity_leak"] == 0 and leak.attrs["params"]["polarity_leak"] == 0.5
    # same Sun: identical magnetograms, EUV differs only through the leak
    np.testing.assert_array_equal(truth.read("mag", 3), leak.read("mag", 3))
    assert not np.array_equal(truth.read("euv", 3), leak.read("euv", 3))
    split = load_split(lay.split("kpl19"), n_frames=truth.n_frames)
    test_times = list(split.times("test"))
    assert test_times and all(t[5:7] in ("09", "10") for t in test_times)
    rot = json.loads(lay.split("rotation").read_text())
    assert rot["summary"]["min_gap_test_train_days"] >= 27
    for exp, seeds in (("main", (0, 1, 2)), ("kpl19", (0,)), ("leak", (0,))):
        for seed in seeds:
            assert (lay.seed_dir(exp, seed) / "best.json").is_file()
            pred = FrameStore(lay.pred(exp, seed))
            assert list(pred.times) == test_times and pred.has("pred")
    # the main runs and the control: cc variant with coordinate channels; the reference: faithful KPL19
    for exp, variant, coords, limit in (("main", "cc", True, 3000), ("leak", "cc", True, 3000), ("kpl19", "kpl19", False, 100)):
        cfg = TrainConfig.read(lay.seed_dir(exp, 0) / "config.toml")
        assert (cfg.variant, cfg.coord_channels, cfg.mag_limit_g, cfg.iters) == (variant, coords, limit, 120)
        o = demo_options(quick=True)
        assert (cfg.lambda_abs_cc, cfg.lambda_l1) == ((o.lambda_abs_cc, o.lambda_l1) if exp != "kpl19" else (0.0, 100.0))
    assert "val_abs_cc" in (lay.seed_dir("main", 0) / "metrics.csv").read_text().splitlines()[0]
    summary = json.loads((lay.audit_dir("main") / "summary.json").read_text())
    assert set(summary["predictions"]) == {"main-seed-0", "main-seed-1", "main-seed-2"}
    assert set(json.loads((lay.audit_dir("kpl19") / "summary.json").read_text())["predictions"]) == {"kpl19-seed-0"}
    assert (lay.audit_dir("main") / "variability.csv").is_file()
    for name in ("saturation.csv", "saturation.json"):
        assert (lay.saturation_dir / name).is_file()
    # every headline number carries a block-bootstrap interval that the report shows
    # (R² rather than CC: after 120 iterations a run may generate no field above 10 G, leaving its TUMF CC undefined)
    r2 = summary["predictions"]["main-seed-0"]["fulldisk"]["tumf"]["r2"]
    lo, hi = summary["ci"]["predictions"]["main-seed-0"]["fulldisk"]["tumf"]["r2"]
    assert summary["bootstrap"]["n_boot"] == 200 and summary["bootstrap"]["n_blocks"] >= 5  # the quick preset's n_boot
    assert math.isfinite(r2) and lo <= hi <= 1
    # the baselines of the same test frames, each audited alone, with the command lines that repeat the stage
    assert lay.baselines() == list(BASELINE_KINDS)
    for kind in BASELINE_KINDS:
        base = json.loads((lay.baseline_audit_dir(kind) / "summary.json").read_text())
        assert list(base["predictions"]) == [kind] and base["inputs"]["frames"] == summary["inputs"]["frames"]
        assert list(FrameStore(lay.baseline_pred(kind)).times) == test_times
    commands = stages["stages"]["baselines"]["commands"]
    assert commands[0].startswith("euv2mag baselines ") and len(commands) == 1 + len(BASELINE_KINDS)
    html = lay.report.read_text()
    assert 'class="missing"' not in html and 'id="verdict"' in html and 'id="hale-table-main"' in html
    assert 'id="learning-curve-table"' in html and "faithful KPL19 configuration, no leak (reference)" in html
    assert 'id="comparison-table"' in html and all(f"<td>{k} (baseline)</td>" in html for k in BASELINE_KINDS)
    assert html.count('<li data-structure="') == 3  # main, kpl19 (reference) and leak
    assert "worker processes, one CPU thread each" in html
    assert 'id="per-run-table"' in html and "block-bootstrap replicates" in html
    assert re.search(r"<td>-?[0-9.e-]+ \[-?[0-9.e-]+, -?[0-9.e-]+\]</td>", html)


@pytest.mark.slow
def test_rerun_resumes_finished_stages(quick_demo):
    lay = StudyLayout(quick_demo)
    before = json.loads(lay.stages.read_text())["stages"]
    run_before = json.loads(lay.stages.read_text())["run"]
    t0 = time.perf_counter()
    assert main(["demo", "--out", str(quick_demo), "--quick"]) == 0
    elapsed = time.perf_counter() - t0
    after = json.loads(lay.stages.read_text())["stages"]
    # every stage but the report is skipped: its record (and run time) is unchanged, and so is the
    # wall time of the run that made them
    assert {k: v for k, v in after.items() if k != "report"} == {k: v for k, v in before.items() if k != "report"}
    assert json.loads(lay.stages.read_text())["run"] == run_before
    assert elapsed < before["synth"]["seconds"] + before["train"]["seconds"]


def test_a_learning_rate_schedule_applies_to_the_main_runs_and_the_control_only(tmp_path):
    """--lr-schedule linear trains the main runs and the control with the decay; the faithful
    KPL19 reference keeps KPL19's constant rate (its configuration is the reference's point)."""
    from euv2mag.demo import _plan
    from euv2mag.model.config import layered_config

    options = demo_options(extended=True, lr_schedule="linear")
    plan = {stage.name: stage for stage in _plan(StudyLayout(tmp_path), options)}
    schedules = {}
    for name in ("train", "train-reference", "train-leak"):
        for call in plan[name].calls:
            _store, _split, _out, _seed, variant, options, _device = call.args
            schedules.setdefault(name, set()).add(layered_config(variant, None, options).lr_schedule)
    assert schedules == {"train": {"linear"}, "train-reference": {"constant"}, "train-leak": {"linear"}}
    main_command = plan["train"].commands()[0]
    assert main_command[main_command.index("--lr-schedule") + 1] == "linear"
    assert "--lr-schedule" not in plan["train-reference"].commands()[0]


def test_long_training_runs_every_training_run_side_by_side_by_default():
    """One process per core in the default study; --extended (15000 iterations) one per training
    run (3 seeds + reference + control), so no run trains alone in a last round."""
    from euv2mag.demo import LONG_TRAINING_ITERS, default_processes

    cores = default_processes()
    assert default_processes(demo_options()) == cores
    assert demo_options(extended=True).iters > LONG_TRAINING_ITERS >= demo_options().iters
    assert default_processes(demo_options(extended=True)) == max(cores, 5)
    assert default_processes(demo_options(extended=True, seeds=[0, 1, 2, 3, 4, 5])) == max(cores, 8)
