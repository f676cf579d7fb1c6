"""Far-side study: skill of the Earth-trained model seen from other observers, beside persistence.

Reads only ``DIR/farside/farside_skill.csv``, ``farside_ages.csv`` and, when the study had a
history run, ``farside_history_split.csv`` (:data:`euv2mag.audit.farside.SKILL`,
:data:`~euv2mag.audit.farside.AGES`, :data:`~euv2mag.audit.farside.HISTORY_SPLIT`), written by
``euv2mag farside`` or the ``farside`` stage of ``euv2mag demo --farside``; the section is left
out of the report when the study folder has no ``farside/farside_skill.csv``.  Numbers and
intervals are drawn and printed as the study wrote them (nothing is recomputed).  The figures
draw every prediction the tables hold (model, persistence and any other history baseline),
except the model rows of scaled EUV (``model-x<f>``), which are in the table.
"""
from __future__ import annotations

import numpy as np

from .. import figures as F
from ..html import Page, fmt, fmt_ci
from ..inputs import attempt

__all__ = ["render", "FOLDER"]

#: The study's folder inside a study directory.
FOLDER = "farside"  # StudyLayout.farside_dir
_COMMAND = ("euv2mag farside DIR/runs/main/seed-0 DIR/data/synth.zarr --split DIR/splits/kpl19.json --out DIR/farside "
            "(or euv2mag demo --farside)")
_METRICS = (("tumf_cc", "TUMF CC"), ("mean_abs_cc", "mean |B| CC"), ("recall", "region recall"),
            ("fp_polarity_hale", "footprint polarity (Hale)"), ("fp_polarity_anti_hale", "footprint polarity (anti-Hale)"))
_AGE_METRICS = (("recall", "region recall"), ("fp_polarity", "footprint polarity"))


def _ci(row, key):
    return fmt_ci(row[key], (row[f"{key}_lo"], row[f"{key}_hi"]))


def _order(names) -> list[str]:
    """Series order of the figures: model, persistence, then every other prediction in order of appearance."""
    names = list(dict.fromkeys(str(n) for n in names))
    return [n for n in ("model", "persistence") if n in names] + [n for n in names if n not in ("model", "persistence")]


def _unscaled(skill):
    """The rows of predictions made from the EUV as observed (scale 1, or no EUV: persistence and the like)."""
    scale = skill["scale"].to_numpy(float)
    return skill[~(np.isfinite(scale) & (scale != 1.0))]


def render(page: Page, ctx) -> None:
    """The ``farside`` section (absent when the study folder has no far-side study).

    Parameters
    ----------
    page : Page
        The report page.
    ctx : ReportContext
        Shared inputs.
    """
    from ...audit.farside import AGES, SKILL

    lay = ctx.layout
    folder = lay.farside_dir
    if not SKILL.path(folder).is_file():
        return
    sec = page.section("farside", "Far side: the Earth-trained model seen from other observers")
    skill, error = attempt(SKILL.read, folder)
    if error:
        sec.invalid(error, _COMMAND)
        return
    src = [lay.rel(SKILL.path(folder))]
    sec.text("A model trained on Earth-view pairs predicts the magnetogram from the EUV seen by observers at other "
             "longitudes of the same synthetic Sun; each prediction is audited against that observer's own truth. "
             "Persistence is the Earth-view truth carried into the observer's view by differential rotation: it knows "
             "nothing where the Earth did not see. Intervals are the audit's 95 % bootstrap intervals (time blocks; "
             "footprint polarity: truth regions).")
    shown = _unscaled(skill)
    if len(shown):
        sec.figure(F.figure_png(F.fig_farside_skill(shown, _METRICS, _order(shown["prediction"]))),
                   "Skill against the observer's separation from Earth (0: the Earth view) for every prediction of the "
                   "EUV as observed (model: EUV scale 1) and the history baselines beside it, with the audit's "
                   "95 % bootstrap intervals as error bars (series shifted sideways a little to keep the bars "
                   "apart). A missing point is undefined, e.g. the TUMF or |B| correlation of a prediction that is "
                   "0 G on every frame (persistence at 180°).", src, "far-side skill vs separation")
    rows = []
    for row in skill.sort_values(["separation_deg", "kind", "scale"]).to_dict("records"):
        scale = f"×{row['scale']:g} ({row['calibration']})" if np.isfinite(row["scale"]) else ""
        rows.append([f"{row['separation_deg']:g}°", row["prediction"], scale, row["n_frames"],
                     *[_ci(row, key) for key, _ in _METRICS],
                     fmt(row["covered_fraction"]) if np.isfinite(row["covered_fraction"]) else "—"])
    sec.table(["separation", "prediction", "EUV scale (calibration)", "frames", *[t for _, t in _METRICS],
               "disk with history"], rows,
              "Skill per separation and prediction. model-x0.8 / model-x1.2: the same frames with the EUV intensities "
              "scaled by 0.8 / 1.2 before the cross-calibration, i.e. what a 20 % miscalibration costs after it. "
              "Footprint polarity: share of truth regions whose leading polarity the prediction shows inside the "
              "region's footprint.", src, table_id="farside-skill")
    if not AGES.path(folder).is_file():
        sec.missing(lay.rel(AGES.path(folder)), _COMMAND)
        return
    ages, error = attempt(AGES.read, folder)
    if error:
        sec.invalid(error, _COMMAND)
        return
    if ages is None or not len(ages):
        sec.missing(lay.rel(AGES.path(folder)), _COMMAND)
        return
    age_src = [lay.rel(AGES.path(folder))]
    sec.figure(F.figure_png(F.fig_farside_ages(ages, _AGE_METRICS, _order(ages["prediction"]))),
               "Region recall and footprint polarity against the history age of each truth region (days since its "
               "centre was last on the Earth-facing disk; 'never': emerged on the far side and not seen from Earth "
               "since), per separation and prediction, with Wilson 95 % intervals; n: truth-region observations in "
               "the bin. The bins pool the frames: a region recurs in several frames, the intervals treat those "
               "observations as independent and are too narrow by about the square root of the frames per region; "
               "read them as a guide, not a test.", age_src, "far-side skill vs history age")
    rows = []
    for row in ages.to_dict("records"):
        rows.append([f"{row['separation_deg']:g}°", row["prediction"], row["age_bin"], row["n_regions"],
                     _ci(row, "recall"), row["n_fp_determined"], _ci(row, "fp_polarity")])
    sec.table(["separation", "prediction", "days since on the Earth-facing disk", "regions", "recall",
               "footprints determined", "footprint polarity"], rows,
              "Skill against the history age of each truth region: days since its centre was last on the "
              "Earth-facing disk ('never': emerged on the far side and not seen from Earth since). Counts are "
              "region observations (a region recurs in several frames); the Wilson 95 % intervals treat them as "
              "independent and are too narrow by about the square root of the frames per region.",
              age_src, table_id="farside-ages")
    _history_split(sec, lay, folder)


def _history_split(sec, lay, folder) -> None:
    """The table of regions emerged before / after the history frame (only when the study had a history run)."""
    from ...audit.farside import HISTORY_SPLIT

    split, error = attempt(HISTORY_SPLIT.read, folder)
    if error:
        sec.invalid(error, _COMMAND + " --history-run RUN")
        return
    if split is None or not len(split):
        return
    groups = {"emerged_before": "before the history frame", "emerged_after": "after the history frame",
              "no_history": "no history frame"}
    rows = []
    for row in split[split["n_regions"] > 0].to_dict("records"):
        rows.append([f"{row['separation_deg']:g}°", row["prediction"], fmt(row["history_days"]),
                     groups.get(row["group"], row["group"]), row["hale_class"], row["n_regions"], _ci(row, "recall"),
                     row["n_fp_determined"], _ci(row, "fp_polarity")])
    sec.table(["separation", "prediction", "history age (d)", "region emerged", "Hale class", "regions", "recall",
               "footprints determined", "footprint polarity"], rows,
              "What the history channel buys and where it must fail: truth regions split by whether they emerged "
              "before or after the Earth-view history frame the history-conditioned model (history) and persistence "
              "were given (generator truth), for the model without history beside them. A region that emerged after "
              "the history frame is in no history; only the EUV can show it. Counts are region observations; the "
              "Wilson 95 % intervals treat them as independent (too narrow, as above). Empty groups are left out.",
              [lay.rel(HISTORY_SPLIT.path(folder))], table_id="farside-history-split")
