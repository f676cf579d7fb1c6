"""The far-side study in the demo (``euv2mag demo --farside``) and its report section, from tables
written by the study's own writers (:data:`euv2mag.audit.farside.SKILL` / :data:`~euv2mag.audit.farside.AGES`)."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from euv2mag.audit.farside import AGES, SKILL, wilson_interval
from euv2mag.cli import main
from euv2mag.demo import FARSIDE_STAGE, STAGES, _plan, demo_options, run_demo, stage_names
from euv2mag.errors import UserError
from euv2mag.report.layout import StudyLayout

SEPS = (0.0, 60.0, 120.0, 180.0)
METRICS = ("tumf_cc", "mean_abs_cc", "recall", "fp_polarity_hale", "fp_polarity_anti_hale")


# ---------------------------------------------------------------------------- the demo stage
def test_farside_stage_only_with_the_option_and_its_command(tmp_path):
    lay = StudyLayout(tmp_path)
    plain = [s.name for s in _plan(lay, demo_options(quick=True))]
    assert FARSIDE_STAGE not in plain and tuple(plain) + ("report",) == STAGES == stage_names(demo_options())
    opts = demo_options(quick=True, farside=True, seeds=[4, 7])
    plan = _plan(lay, opts)
    names = [s.name for s in plan]
    assert names == list(stage_names(opts)[:-1]) and names.index("farside") == names.index("baselines") + 1
    stage = plan[names.index("farside")]
    assert stage.outputs == [lay.farside_dir / "farside.json", lay.farside_dir / "farside_skill.csv",
                             lay.farside_dir / "farside_ages.csv"]
    history, train, cmd = stage.commands()
    from euv2mag.cli import build_parser

    # the history-conditioned twin: a history store of the Earth store, trained like main seed 4 plus history channels
    hist_store, hist_runs = lay.farside_dir / "train-history.zarr", lay.farside_dir / "runs" / "history"
    h = build_parser().parse_args(history)
    assert (h.history_store, h.out, h.days, h.seed) == (str(lay.store), str(hist_store), "0:14", opts.data_seed)
    t = build_parser().parse_args(train)
    assert t.store == str(hist_store) and t.out == str(hist_runs) and t.seeds == [4] and t.history_channels
    assert t.variant == "cc" and t.coord_channels and t.iters == opts.iters and t.split == str(lay.split("kpl19"))
    # the first main seed's run on the Earth store, the kpl19 test frames, every separation and scale
    assert cmd[:3] == ["farside", str(lay.seed_dir("main", 4)), str(lay.store)]
    assert cmd[cmd.index("--split") + 1] == str(lay.split("kpl19")) and cmd[cmd.index("--indices") + 1] == "test"
    k = cmd.index("--separations")
    assert cmd[k + 1:k + 5] == ["0", "60", "120", "180"]
    k = cmd.index("--scales")
    assert cmd[k + 1:k + 4] == ["0.8", "1", "1.2"] and cmd[cmd.index("--out") + 1] == str(lay.farside_dir)
    # the recorded command is one the CLI parses, with the options the stage passes to the library
    args = build_parser().parse_args(cmd)
    assert (args.separations, args.scales, args.indices) == ([0.0, 60.0, 120.0, 180.0], [0.8, 1.0, 1.2], "test")
    assert args.history_run == str(hist_runs / "seed-4") and args.history_days == "auto"
    assert demo_options(quick=True, farside=True).to_dict()["farside"] is True


def test_farside_option_on_an_existing_study_is_refused(tmp_path, capsys):
    lay = StudyLayout(tmp_path)
    lay.stages.write_text(json.dumps({"options": demo_options(quick=True).to_dict(), "stages": {}}))
    with pytest.raises(UserError, match=r"other options \(farside: False there, True asked\)"):
        run_demo(tmp_path, demo_options(quick=True, farside=True))
    assert main(["demo", "--out", str(tmp_path), "--quick", "--farside"]) == 2
    assert "other options (farside: False there, True asked)" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["stages.json"]
    # the other way round, and a folder made before the option existed (no "farside" key) holds the default
    lay.stages.write_text(json.dumps({"options": demo_options(quick=True, farside=True).to_dict(), "stages": {}}))
    with pytest.raises(UserError, match=r"other options \(farside: True there, False asked\)"):
        run_demo(tmp_path, demo_options(quick=True))
    old = demo_options(quick=True).to_dict()
    del old["farside"]
    lay.stages.write_text(json.dumps({"options": old, "stages": {}}))
    with pytest.raises(UserError, match=r"other options \(farside: False there, True asked\)"):
        run_demo(tmp_path, demo_options(quick=True, farside=True))
    with pytest.raises(UserError, match=r"other options \(iters: 120 there, 7 asked\)"):  # accepted as the default, so only iters differs
        run_demo(tmp_path, demo_options(quick=True, iters=7))


# ---------------------------------------------------------------------------- the report section
def _skill_rows():
    rows = []
    for k, sep in enumerate(SEPS):
        for name, kind, scale in (("model", "model", 1.0), ("model-x0.8", "model", 0.8), ("persistence", "persistence", math.nan),
                                  ("history", "persistence", math.nan)):
            base = {"model": 0.5 - 0.01 * k, "model-x0.8": 0.3, "persistence": 1.0 - 0.3 * k, "history": 0.9 - 0.2 * k}[name]
            row = {"separation_deg": sep, "prediction": name, "kind": kind, "scale": scale,
                   "calibration": "" if kind == "persistence" else "quantile", "n_frames": 31, "n_fp_hale": 12,
                   "n_fp_anti_hale": 3, "covered_fraction": 1.0 - sep / 180 if kind == "persistence" else math.nan}
            for j, m in enumerate(METRICS):
                v = base - 0.05 * j
                undefined = name == "persistence" and sep == 180 and m in ("tumf_cc", "mean_abs_cc")
                row.update({m: math.nan if undefined else v, f"{m}_lo": math.nan if undefined else v - 0.04,
                            f"{m}_hi": math.nan if undefined else v + 0.02})
            rows.append(row)
    return rows


def _age_rows():
    rows = []
    bins = (("0-1 d", 0.0, 1.0), ("1-4 d", 1.0, 4.0), (">= 4 d", 4.0, math.inf), ("never", math.nan, math.nan))
    for sep in SEPS:
        for name, hit in (("model", 0.5), ("persistence", 0.8), ("history", 0.6)):
            for b, (label, lo, hi) in enumerate(bins):
                n = 0 if sep == 0 and b else 10 + b
                k = int(round(hit * n / (1 + b)))
                nd, kd = n // 2, n // 4
                r, p = wilson_interval(k, n), wilson_interval(kd, nd)
                rows.append({"separation_deg": sep, "prediction": name, "age_bin": label, "age_lo_days": lo,
                             "age_hi_days": hi, "n_regions": n, "n_matched": k, "recall": k / n if n else math.nan,
                             "recall_lo": r[0], "recall_hi": r[1], "n_fp_determined": nd,
                             "fp_polarity": kd / nd if nd else math.nan, "fp_polarity_lo": p[0], "fp_polarity_hi": p[1]})
    return rows


def _series(ax):
    """Label -> (x, y, bar bottoms, bar tops) of every errorbar series of a panel."""
    out = {}
    for c in ax.containers:
        line, _, (bars,) = c.lines[0], c.lines[1], c.lines[2]
        x, y = (np.asarray(a, float) for a in line.get_data())
        seg = np.array([s[:, 1] for s in bars.get_segments()]) if len(bars.get_segments()) else np.zeros((0, 2))
        out[c.get_label()] = (x, y, seg[:, 0] if len(seg) else seg, seg[:, 1] if len(seg) else seg)
    return out


def test_skill_figure_draws_every_unscaled_prediction_with_its_intervals():
    from euv2mag.report import figures as F
    from euv2mag.report.sections.farside import _METRICS, _order, _unscaled

    skill = SKILL.frame(_skill_rows())
    shown = _unscaled(skill)
    fig = F.fig_farside_skill(shown, _METRICS, _order(shown["prediction"]))
    assert len(fig.axes) == 5
    for ax, (key, _) in zip(fig.axes, _METRICS):
        got = _series(ax)
        assert list(got) == ["model", "persistence", "history"]  # scaled EUV (model-x0.8) is only in the table
        for name, (x, y, lo, hi) in got.items():
            t = skill[(skill["prediction"] == name) & np.isfinite(skill[key])].sort_values("separation_deg")
            assert np.allclose(np.round(x / 60) * 60, t["separation_deg"]) and np.abs(x - t["separation_deg"]).max() < 5
            assert np.allclose(y, t[key]) and np.allclose(lo, t[f"{key}_lo"]) and np.allclose(hi, t[f"{key}_hi"])
    # persistence at 180 deg has no |B| CC (0 G everywhere): no point rather than a made-up one
    assert len(_series(fig.axes[1])["persistence"][1]) == 3


def test_age_figure_draws_every_prediction_per_separation_with_wilson_intervals():
    from euv2mag.report import figures as F
    from euv2mag.report.sections.farside import _AGE_METRICS, _order

    ages = AGES.frame(_age_rows())
    fig = F.fig_farside_ages(ages, _AGE_METRICS, _order(ages["prediction"]))
    axes = np.array(fig.axes).reshape(2, 4)
    assert [ax.get_title() for ax in axes[0]] == ["0° from Earth", "60° from Earth", "120° from Earth", "180° from Earth"]
    assert [t.get_text() for t in axes[0, 2].get_xticklabels()] == ["0-1 d\nn=10", "1-4 d\nn=11", ">= 4 d\nn=12",
                                                                    "never\nn=13"]
    for r, (key, _) in enumerate(_AGE_METRICS):
        for c, sep in enumerate(SEPS):
            got = _series(axes[r, c])
            assert list(got) == ["model", "persistence", "history"]
            for name, (x, y, lo, hi) in got.items():
                t = ages[(ages["separation_deg"] == sep) & (ages["prediction"] == name) & np.isfinite(ages[key])]
                assert np.allclose(np.round(x), [["0-1 d", "1-4 d", ">= 4 d", "never"].index(b) for b in t["age_bin"]])
                assert np.allclose(y, t[key]) and np.allclose(lo, t[f"{key}_lo"]) and np.allclose(hi, t[f"{key}_hi"])
    assert len(_series(axes[0, 0])["model"][1]) == 1  # at 0 deg every region is on the Earth-facing disk now


def _render(root):
    from euv2mag.report.build import ReportContext
    from euv2mag.report.html import Page
    from euv2mag.report.sections import farside

    page = Page("t")
    farside.render(page, ReportContext(root))
    return page.render()


def test_section_renders_figures_and_tables_from_the_study_files_and_is_absent_without(tmp_path):
    from euv2mag.report.html import fmt_ci

    lay = StudyLayout(tmp_path)
    assert 'id="farside"' not in _render(tmp_path)
    lay.farside_dir.mkdir()
    skill = SKILL.frame(_skill_rows())
    SKILL.write(skill, lay.farside_dir)
    html = _render(tmp_path)
    assert 'id="farside"' in html and 'id="farside-skill"' in html and 'alt="far-side skill vs separation"' in html
    assert 'class="missing"' in html and "farside/farside_ages.csv" in html  # ages not written yet: says so
    AGES.write(AGES.frame(_age_rows()), lay.farside_dir)
    html = _render(tmp_path)
    assert 'class="missing"' not in html and 'id="farside-ages"' in html
    assert 'alt="far-side skill vs history age"' in html and html.count("data:image/png;base64,") == 2
    assert "too narrow by about the square root of the frames per region" in html
    # the tables hold every row (history too, and the scaled-EUV rows the figure leaves out), numbers as written
    assert html.count("<td>history</td>") == 4 + 4 * 4 and html.count("<td>model-x0.8</td>") == 4
    assert "×nan" not in html and "<td>×0.8 (quantile)</td>" in html
    row = skill[(skill["prediction"] == "history") & (skill["separation_deg"] == 120)].iloc[0]
    assert f"<td>{fmt_ci(row['recall'], (row['recall_lo'], row['recall_hi']))}</td>" in html


def test_section_shows_the_history_split_only_when_the_study_wrote_it(tmp_path):
    from euv2mag.audit.farside import HISTORY_SPLIT
    from euv2mag.report.html import fmt_ci

    lay = StudyLayout(tmp_path)
    lay.farside_dir.mkdir()
    SKILL.write(SKILL.frame(_skill_rows()), lay.farside_dir)
    AGES.write(AGES.frame(_age_rows()), lay.farside_dir)
    assert 'id="farside-history-split"' not in _render(tmp_path)
    rows = []
    for pred, k_before, k_after in (("model", 3, 2), ("history", 8, 0), ("persistence", 9, 0)):
        for group, n, k in (("emerged_before", 10, k_before), ("emerged_after", 4, k_after), ("no_history", 0, 0)):
            rows.append({"separation_deg": 120.0, "prediction": pred, "history_days": 8.0, "group": group,
                         "hale_class": "all", "n_regions": n, "n_matched": k, "recall": k / n if n else math.nan,
                         "recall_lo": 0.1 * k / max(n, 1), "recall_hi": min(1.0, 0.2 + k / max(n, 1)),
                         "n_fp_determined": k, "fp_polarity": 1.0 if k else math.nan, "fp_polarity_lo": 0.5 if k else math.nan,
                         "fp_polarity_hi": 1.0 if k else math.nan})
    split = HISTORY_SPLIT.frame(rows)
    HISTORY_SPLIT.write(split, lay.farside_dir)
    html = _render(tmp_path)
    assert 'id="farside-history-split"' in html and "farside/farside_history_split.csv" in html
    # six non-empty groups (three predictions x before/after), the empty "no history" groups left out
    assert html.count("<td>before the history frame</td>") == 3 and html.count("<td>after the history frame</td>") == 3
    assert "<td>no history frame</td>" not in html
    row = split[(split["prediction"] == "history") & (split["group"] == "emerged_before")].iloc[0]
    assert f"<td>{fmt_ci(row['recall'], (row['recall_lo'], row['recall_hi']))}</td>" in html
