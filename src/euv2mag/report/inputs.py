"""Reading the study files for the report, through the definitions their writers use.

Audit files are read only through :class:`~euv2mag.audit.summary.AuditSummary` and the
:class:`~euv2mag.tables.TableFile` definitions of :mod:`euv2mag.audit.files`; splits through
:func:`euv2mag.data.splits.load_split`.  The saturation and leakage files are read in one
place each, :func:`read_saturation`, :func:`read_regions_amf` and :func:`read_leakage`, by the
columns their commands write.

A missing file is not an error for the report: the reader returns ``None`` (:func:`attempt`
gives ``(None, None)``) and the section says which command makes it.  A file that is present
but does not follow its layout raises :class:`~euv2mag.errors.UserError`; :func:`attempt` turns
that into its one-line message, which the section prints instead of skipping the file.

:func:`headline` and :func:`run_headlines` turn a typed audit summary into the
:class:`~euv2mag.report.verdict.Headline` numbers the verdict and the tables use.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Callable

from ..errors import UserError
from .verdict import HaleGroup, Headline

__all__ = [
    "attempt",
    "read_csv",
    "read_json",
    "read_summary",
    "read_split",
    "read_saturation",
    "read_regions_amf",
    "read_leakage",
    "headline",
    "run_headlines",
]

def attempt(reader: Callable, *args):
    """Call ``reader(*args)``: ``(value, None)``, or ``(None, message)`` for a file with a wrong layout.

    A reader returns None for a missing file (then this gives ``(None, None)``) and raises
    :class:`~euv2mag.errors.UserError` for a present file it cannot use.
    """
    try:
        return reader(*args), None
    except UserError as exc:
        return None, str(exc)


def read_csv(path: Path):
    """A CSV file as a pandas DataFrame, or None when absent/unreadable/empty (training files)."""
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        return None
    try:
        return pd.read_csv(path)
    except (OSError, ValueError, pd.errors.EmptyDataError, pd.errors.ParserError):
        return None


def read_json(path: Path):
    """A JSON file as Python objects, or None when absent/unreadable (stages.json, best.json)."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def read_summary(path: Path):
    """The :class:`~euv2mag.audit.summary.AuditSummary` at ``path`` (None when absent)."""
    from ..audit.summary import AuditSummary

    return AuditSummary.read(path) if Path(path).is_file() else None


def read_split(path: Path):
    """The :class:`~euv2mag.data.splits.Split` at ``path`` (None when absent)."""
    from ..data.splits import load_split

    return load_split(path) if Path(path).is_file() else None


def _present(folder: Path, name: str) -> bool:
    return (Path(folder) / name).is_file()


def read_saturation(folder: Path):
    """``saturation.csv`` and ``saturation.json`` of ``euv2mag saturation --out folder``.

    Read through their definitions (:data:`euv2mag.audit.saturation.SATURATION_CSV`,
    :class:`euv2mag.audit.saturation.SaturationSummary`).

    Returns
    -------
    (pandas.DataFrame or None, dict or None)
        The table (one row per map and limit, fluxes in Mx) and the summary
        (:meth:`SaturationSummary.to_dict` layout), each None when absent.

    Raises
    ------
    UserError
        A present file does not follow its definition.
    """
    from ..audit.saturation import SATURATION_CSV, SaturationSummary

    folder = Path(folder)
    table = SATURATION_CSV.read(folder) if _present(folder, SATURATION_CSV.filename) else None
    summary = SaturationSummary.read(folder).to_dict() if _present(folder, SaturationSummary.FILENAME) else None
    return table, summary


def read_regions_amf(folder: Path):
    """``regions_amf.csv`` of ``euv2mag saturation`` (:data:`~euv2mag.audit.saturation.REGIONS_AMF_CSV`; None when absent)."""
    from ..audit.saturation import REGIONS_AMF_CSV

    return REGIONS_AMF_CSV.read(folder) if _present(folder, REGIONS_AMF_CSV.filename) else None


def read_leakage(folder: Path):
    """``leakage.csv`` and ``leakage.json`` of ``euv2mag leakage --out folder``.

    Read through their definitions (:data:`euv2mag.audit.leakage_study.LEAKAGE_CSV`,
    :class:`euv2mag.audit.leakage_study.LeakageSummary`).

    Returns
    -------
    (pandas.DataFrame or None, dict or None)
        One row per test frame (``time``, ``gap_days`` and ``same_face_gap_days`` in days) and
        the summary (:meth:`LeakageSummary.to_dict` layout), each None when absent.

    Raises
    ------
    UserError
        A present file does not follow its definition.
    """
    from ..audit.leakage_study import LEAKAGE_CSV, LeakageSummary, read_leakage_csv

    folder = Path(folder)
    table = read_leakage_csv(folder) if _present(folder, LEAKAGE_CSV.filename) else None
    summary = LeakageSummary.read(folder).to_dict() if _present(folder, LeakageSummary.FILENAME) else None
    return table, summary


# --------------------------------------------------------------------------- headline numbers
def _num(value) -> float | None:
    """A finite float, else None (NaN in the summary means 'not defined')."""
    if value is None or isinstance(value, bool):
        return None
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def _count(value) -> int | None:
    x = _num(value)
    return None if x is None else int(round(x))


def _hale_group(group, ci, *path: str) -> HaleGroup:
    """A :class:`HaleGroup` from a :class:`~euv2mag.audit.summary.HaleClassSummary` and its intervals at ``path``."""
    return HaleGroup(
        n=_count(group.n_ref),
        n_matched=_count(group.n_matched),
        polarity_agreement=_num(group.polarity_agreement),
        nmf_sign_agreement=_num(group.nmf_sign_agreement),
        recall=_num(group.recall),
        footprint_polarity_agreement=_num(group.footprint_polarity_agreement),
        n_footprint=_count(group.n_footprint_determined),
        polarity_ci=ci.get(*path, "polarity_agreement"),
        footprint_ci=ci.get(*path, "footprint_polarity_agreement"),
        hemisphere_contrast=_num(group.footprint_gen_hemisphere_contrast),
        ref_hemisphere_contrast=_num(group.footprint_ref_hemisphere_contrast),
        hemisphere_ci=ci.get(*path, "footprint_gen_hemisphere_contrast"),
    )


def _headline(block, source: str, ci, bootstrap, pooled=None) -> Headline:
    """Headline numbers of one :class:`~euv2mag.audit.summary.PredictionSummary` (``ci``: its intervals)."""
    from ..audit.summary import Intervals

    fd, reg = block.fulldisk, block.regions
    h = Headline(source=source)
    h.n_frames = _count(block.n_frames)
    for qty in ("tumf", "nmf"):
        for stat in ("cc", "r2", "slope"):
            setattr(h, f"{qty}_{stat}", _num(getattr(getattr(fd, qty), stat)))
    h.pixel_cc = _num(fd.mean_cc)
    h.pixel_cc_binned = _num(fd.mean_cc_binned)
    h.polarity_agreement = _num(fd.mean_polarity_agreement)
    h.abs_cc, h.abs_cc_binned = _num(fd.mean_abs_cc), _num(fd.mean_abs_cc_binned)
    h.footprint_abs_ratio, h.tumf_ratio = _num(fd.footprint_abs_ratio), _num(fd.mean_tumf_ratio)
    h.nmf_sign_agreement = _num(fd.nmf_sign_agreement)
    h.recall, h.precision, h.center_offset_deg = _num(reg.recall), _num(reg.precision), _num(reg.offset_mean_deg)
    h.n_ref_regions, h.n_matched = _count(reg.n_ref), _count(reg.n_matched)
    h.n_gen_regions = _num(reg.n_gen)
    for p, agreement in reg.parameters.items():
        h.param_pairs[p] = _count(agreement.n_pairs)
        if _num(agreement.cc) is not None:  # NaN below min_pairs: no CC
            h.param_cc[p] = float(agreement.cc)
    paths = {f"{q}_{s}": ("fulldisk", q, s) for q in ("tumf", "nmf") for s in ("cc", "r2", "slope")}
    paths.update(pixel_cc=("fulldisk", "mean_cc"), pixel_cc_binned=("fulldisk", "mean_cc_binned"),
                 polarity_agreement=("fulldisk", "mean_polarity_agreement"), abs_cc=("fulldisk", "mean_abs_cc"),
                 abs_cc_binned=("fulldisk", "mean_abs_cc_binned"), footprint_abs_ratio=("fulldisk", "footprint_abs_ratio"),
                 tumf_ratio=("fulldisk", "mean_tumf_ratio"), nmf_sign_agreement=("fulldisk", "nmf_sign_agreement"),
                 recall=("regions", "recall"),
                 precision=("regions", "precision"), center_offset_deg=("regions", "offset_mean_deg"))
    for attr, path in paths.items():
        interval = ci.get(*path)
        if interval is not None:
            h.ci[attr] = interval
    if bootstrap is not None:
        h.bootstrap = bootstrap.to_dict()
    if pooled is not None:
        # Hale classes over the region observations of all runs together (real counts)
        pooled_summary, pooled_ci = pooled
        h.hale = _hale_group(pooled_summary.hale.hale, pooled_ci, "hale", "hale")
        h.anti_hale = _hale_group(pooled_summary.hale.anti_hale, pooled_ci, "hale", "anti_hale")
        h.hale_runs_pooled = int(pooled_summary.n_predictions)
        h.n_matched_all_runs = int(pooled_summary.n_matched)
    else:
        h.hale = _hale_group(block.hale.hale, ci or Intervals(), "hale", "hale")
        h.anti_hale = _hale_group(block.hale.anti_hale, ci or Intervals(), "hale", "anti_hale")
    return h


def headline(summary, source: str) -> Headline | None:
    """Headline numbers of an audit (None when there is no summary).

    Parameters
    ----------
    summary : AuditSummary or None
        The typed ``summary.json`` (:meth:`euv2mag.audit.summary.AuditSummary.read`).
    source : str
        The file's path as the report prints it.

    Returns
    -------
    Headline or None
        Numbers of ``mean_over_predictions`` (counts averaged over predictions rounded to
        integers; NaN, e.g. a statistic of fewer than ``min_pairs`` pairs, as None), their
        intervals from ``ci.mean_over_predictions``, region-parameter CCs only where the
        summary gives one (with every parameter's ``n_pairs`` in ``param_pairs``), and the Hale
        groups of ``pooled_over_predictions`` (observations of all runs together).
    """
    if summary is None:
        return None
    return _headline(summary.mean_over_predictions, source, summary.intervals("mean_over_predictions"),
                     summary.bootstrap, pooled=(summary.pooled_over_predictions, summary.intervals("pooled_over_predictions")))


def run_headlines(summary, source: str) -> dict[str, Headline]:
    """Headline numbers of every prediction (run) of an audit, by prediction name.

    Each run's ``predictions[name]`` block and its ``ci.predictions.<name>`` intervals are read as
    :func:`headline` reads the averaged block (the Hale groups are the run's own).
    """
    if summary is None:
        return {}
    return {str(name): _headline(block, source, summary.intervals("predictions", name), summary.bootstrap)
            for name, block in summary.predictions.items()}
