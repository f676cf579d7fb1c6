"""Far-side study: skill of the Earth-trained model seen from other observers, beside persistence.

Reads only ``DIR/farside/farside_skill.csv`` and ``farside_ages.csv``
(:data:`euv2mag.audit.farside.SKILL`, :data:`~euv2mag.audit.farside.AGES`), written by
``euv2mag farside``; the section is left out of the report when the study folder has no
``farside/farside_skill.csv``.  Numbers and intervals are printed as the study wrote them.
"""
from __future__ import annotations

import numpy as np

from .. import figures as F
from ..html import Page, fmt, fmt_ci
from ..inputs import attempt

__all__ = ["render", "FOLDER"]

#: The study's folder inside a study directory.
FOLDER = "farside"
_COMMAND = "euv2mag farside DIR/runs/kpl19/seed-0 DIR/data/synth.zarr --split DIR/splits/kpl19.json --out DIR/farside"
_METRICS = (("tumf_cc", "TUMF CC"), ("mean_abs_cc", "mean |B| CC"), ("recall", "region recall"),
            ("fp_polarity_hale", "footprint polarity (Hale)"), ("fp_polarity_anti_hale", "footprint polarity (anti-Hale)"))


def _ci(row, key):
    return fmt_ci(row[key], (row[f"{key}_lo"], row[f"{key}_hi"]))


def _skill_figure(skill):
    fig = F._figure(3.2 * len(_METRICS[:4]), 2.8)
    axes = fig.subplots(1, 4)
    for ax, (key, title) in zip(axes, _METRICS[:4]):
        for name, style in (("model", "o-"), ("persistence", "s--")):
            t = skill[skill["prediction"] == name].sort_values("separation_deg")
            if not len(t):
                continue
            x, y = t["separation_deg"].to_numpy(float), t[key].to_numpy(float)
            lo, hi = t[f"{key}_lo"].to_numpy(float), t[f"{key}_hi"].to_numpy(float)
            err = np.vstack([np.where(np.isfinite(lo), y - lo, 0), np.where(np.isfinite(hi), hi - y, 0)])
            ax.errorbar(x, y, yerr=np.clip(err, 0, None), fmt=style, capsize=3, label=name)
        ax.set_xlabel("separation from Earth (deg)")
        ax.set_title(title, fontsize=9)
        ax.axhline(0, color="0.7", lw=0.5)
    axes[0].legend(fontsize=8)
    return fig


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
    folder = lay.root / FOLDER
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
             "nothing where the Earth did not see. Intervals are the audit's 95 % bootstrap intervals (time blocks; footprint polarity: truth regions).")
    if len(skill):
        sec.figure(F.figure_png(_skill_figure(skill)),
                   "Skill against the observer's separation from Earth (0: the Earth view), model and persistence, "
                   "with 95 % intervals.", src, "far-side skill vs separation")
    rows = []
    for row in skill.sort_values(["separation_deg", "kind", "scale"]).to_dict("records"):
        scale = "" if row["kind"] == "persistence" else f"×{row['scale']:g} ({row['calibration']})"
        rows.append([f"{row['separation_deg']:g}°", row["prediction"], scale, row["n_frames"],
                     *[_ci(row, key) for key, _ in _METRICS],
                     fmt(row["covered_fraction"]) if row["kind"] == "persistence" else "—"])
    sec.table(["separation", "prediction", "EUV scale (calibration)", "frames", *[t for _, t in _METRICS],
               "disk with history"], rows,
              "Skill per separation and prediction. model-x0.8 / model-x1.2: the same frames with the EUV intensities "
              "scaled by 0.8 / 1.2 before the cross-calibration, i.e. what a 20 % miscalibration costs after it. "
              "Footprint polarity: share of truth regions whose leading polarity the prediction shows inside the "
              "region's footprint.", src, table_id="farside-skill")
    ages, error = attempt(AGES.read, folder)
    if error:
        sec.invalid(error, _COMMAND)
        return
    if ages is None or not len(ages):
        sec.missing(lay.rel(AGES.path(folder)), _COMMAND)
        return
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
              [lay.rel(AGES.path(folder))], table_id="farside-ages")
