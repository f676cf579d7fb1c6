"""The metrics of a training run: the columns of ``metrics.csv`` and the validation errors.

``metrics.csv`` has one row every ``log_every`` iterations and at every validation, with the
columns :data:`METRIC_COLUMNS`:

``iteration``
    Iterations done.
``loss_d``
    Mean over the window of (BCE_real + BCE_fake) / 2 (0 without a discriminator).
``loss_g_gan``, ``loss_g_l1``, ``loss_g_cc``, ``loss_g_abs_cc``
    Means over the window of the generator's GAN loss, of ``|G(x) - y|`` on the [-1, 1] scale, of
    ``1 - CC`` and of ``1 - CC(|G(x)|, |y|)``, each unweighted (runs written before the
    ``loss_g_abs_cc`` column existed leave it empty).
``loss_g``
    Mean of the weighted total the generator minimises.
``seconds``
    Wall time of the window in s.
``val_l1_g``, ``val_cc``, ``val_abs_cc``, ``val_tumf_rel_err``, ``val_nmf_rel_err``, ``val_nmf_err_frac_tumf``
    On validation rows only (empty otherwise): :func:`validation_metrics`.

Numbers are written with 8 significant digits (:func:`format_value`); a non-finite value is an
empty cell.
"""
from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Sequence

import numpy as np

from .._io import atomic_write_text

__all__ = [
    "LOSS_COLUMNS",
    "VAL_COLUMNS",
    "METRIC_COLUMNS",
    "MAXIMISE",
    "validation_metrics",
    "format_value",
    "read_metrics",
    "write_metrics",
]

#: Loss columns (means over the rows' window of iterations).
LOSS_COLUMNS = ["loss_d", "loss_g_gan", "loss_g_l1", "loss_g_cc", "loss_g_abs_cc", "loss_g"]
#: Validation columns (see :func:`validation_metrics`).
VAL_COLUMNS = ["val_l1_g", "val_cc", "val_abs_cc", "val_tumf_rel_err", "val_nmf_rel_err", "val_nmf_err_frac_tumf"]
#: All columns of ``metrics.csv``, in order.
METRIC_COLUMNS = ["iteration", *LOSS_COLUMNS, "seconds", *VAL_COLUMNS]
#: Whether a higher value is better, for the metrics that may pick ``best.ckpt``.
MAXIMISE = {"val_cc": True, "val_l1_g": False, "val_tumf_rel_err": False}


def validation_metrics(pred_g: Sequence[np.ndarray], obs_g: Sequence[np.ndarray], geoms: Sequence) -> dict:
    """Validation errors of predicted against observed magnetograms, each a mean over the frames.

    Parameters
    ----------
    pred_g, obs_g : sequence of (H, W) ndarray
        Predicted and observed LOS field in G, one per frame; "obs" is the stored, unclipped
        magnetogram (NaN off the disk), so the errors include the saturation loss of the scaling.
    geoms : sequence of DiskGeometry
        Geometry of each frame.

    Returns
    -------
    dict
        ``val_l1_g``: mean |pred - obs| in G on the disk (r < R, finite obs); ``val_cc``: pixel
        Pearson CC on the disk; ``val_abs_cc``: Pearson CC of ``|pred|`` and ``|obs|`` on the disk (the
        sign-blind CC, as the audit's ``abs_cc`` but on r < R: a model
        that finds where the field is but not its sign scores high here and near 0 in
        ``val_cc``); ``val_tumf_rel_err``: |TUMF_pred - TUMF_obs| / TUMF_obs;
        ``val_nmf_rel_err``: |NMF_pred - NMF_obs| / |NMF_obs|; ``val_nmf_err_frac_tumf``:
        |NMF_pred - NMF_obs| / TUMF_obs (stable when NMF_obs is near 0).  Frames where a ratio is
        undefined are left out of its mean; NaN when no frame is left.

    Notes
    -----
    TUMF and NMF in Mx come from :func:`euv2mag.audit.fulldisk.flux_mx` (r < 0.95 R,
    |B| > 10 G, foreshortening-corrected pixel areas).
    """
    from ..audit.fulldisk import flux_mx, pearson

    l1, cc, abs_cc, tumf, nmf, nmf_t = [], [], [], [], [], []
    for pred, obs, geom in zip(pred_g, obs_g, geoms):
        disk = geom.disk_mask(1.0) & np.isfinite(obs)
        l1.append(float(np.mean(np.abs(pred[disk] - obs[disk]))))
        cc.append(pearson(pred[disk], obs[disk]))
        abs_cc.append(pearson(np.abs(pred[disk]), np.abs(obs[disk])))
        t_obs, n_obs = flux_mx(obs, geom)
        t_pred, n_pred = flux_mx(pred, geom)
        tumf.append(abs(t_pred - t_obs) / t_obs if t_obs > 0 else math.nan)
        nmf.append(abs(n_pred - n_obs) / abs(n_obs) if n_obs != 0 else math.nan)
        nmf_t.append(abs(n_pred - n_obs) / t_obs if t_obs > 0 else math.nan)

    def mean(values):
        values = [v for v in values if math.isfinite(v)]
        return float(np.mean(values)) if values else math.nan

    return {
        "val_l1_g": mean(l1),
        "val_cc": mean(cc),
        "val_abs_cc": mean(abs_cc),
        "val_tumf_rel_err": mean(tumf),
        "val_nmf_rel_err": mean(nmf),
        "val_nmf_err_frac_tumf": mean(nmf_t),
    }


def format_value(value) -> str:
    """A ``metrics.csv`` cell: 8 significant digits; ``""`` for an empty, None or non-finite value.

    Examples
    --------
    >>> format_value(0.123456789), format_value(float("nan")), format_value(None)
    ('0.12345679', '', '')
    """
    if value == "" or value is None:
        return ""
    value = float(value)
    return "" if not math.isfinite(value) else f"{value:.8g}"


def read_metrics(path: str | Path, upto: int) -> list[dict]:
    """The rows of a ``metrics.csv`` up to iteration ``upto`` (as strings; none if the file is absent).

    Parameters
    ----------
    path : path-like
        The ``metrics.csv`` file.
    upto : int
        Last iteration to keep (a resumed run drops the rows written after its checkpoint).

    Returns
    -------
    list of dict
        One dict per row, keyed by column.
    """
    path = Path(path)
    if not path.exists():
        return []
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    return [row for row in rows if int(row["iteration"]) <= upto]


def write_metrics(path: str | Path, rows: list[dict]) -> None:
    """Write ``rows`` as ``metrics.csv`` with the columns :data:`METRIC_COLUMNS` (atomically).

    Parameters
    ----------
    path : path-like
        Destination file.
    rows : list of dict
        Cells keyed by column, already formatted; a missing column is an empty cell.
    """
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=METRIC_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: row.get(k, "") for k in METRIC_COLUMNS})
    atomic_write_text(path, buf.getvalue())
