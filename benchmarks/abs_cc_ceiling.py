"""How much |B| does EUV carry pixel by pixel?  A lookup table as the reference for ``mean_abs_cc``.

The table is the mean ``|B_LOS|`` (G) in bins of the pixel's EUV intensity (100 quantile bins of
log10 DN/s) and of mu (10 bins of 0.1), fitted on (a sample of) the split's training frames and
applied to its test frames; per test frame the Pearson CC of the table's ``|B|`` and the
truth's ``|B|`` on the disk (r <= 0.99 R), raw and 8x8-binned
(:func:`euv2mag.audit.fulldisk.binned_cc`), mean over frames.  No network, no neighbourhood, no
sign: what a model's ``fulldisk.mean_abs_cc`` can be held against.  With ``--summary`` it prints
the audit's ``mean_abs_cc`` of each prediction beside it and the ratio model / table.

Measured on the default demo's data (generator v3, 128^2, kpl19 split: 150 of the training
frames, 121 test frames): table |B| CC 0.812 (median 0.826), 8x8-binned 0.982; the default demo's
three main runs 0.51-0.57 (ratio 0.62-0.71).  The information is there; the networks do not
learn it (docs/demo.rst).

Usage::

    PYTHONPATH=src python benchmarks/abs_cc_ceiling.py DEMO/data/synth.zarr DEMO/splits/kpl19.json \
        [--summary DEMO/audit/main/summary.json] [--train-frames 150]
"""
from __future__ import annotations

import argparse
import json

import numpy as np

from euv2mag.audit.fulldisk import binned_cc
from euv2mag.data.splits import resolve_indices
from euv2mag.data.store import FrameStore

N_EUV_BINS, N_MU_BINS, RHO_MAX, BIN = 100, 10, 0.99, 8


def _pixels(store, i):
    geom = store.geometry(i)
    euv, mag = store.read("euv", i).astype(np.float64), store.read("mag", i).astype(np.float64)
    disk = (geom.rho <= RHO_MAX) & np.isfinite(euv) & np.isfinite(mag)
    return np.log10(np.clip(euv[disk], 1e-3, None)), geom.mu[disk], mag, disk


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("store")
    ap.add_argument("split")
    ap.add_argument("--summary", action="append", default=[], help="an audit summary.json to compare")
    ap.add_argument("--train-frames", type=int, default=150)
    args = ap.parse_args(argv)
    store = FrameStore(args.store)
    train = resolve_indices("train", store.n_frames, args.split, times=store.times)
    test = resolve_indices("test", store.n_frames, args.split, times=store.times)
    rng = np.random.default_rng(0)
    train = sorted(rng.choice(train, min(len(train), args.train_frames), replace=False))
    e, mu, b = [], [], []
    for i in train:
        le, m, mag, disk = _pixels(store, i)
        e.append(le), mu.append(m), b.append(np.abs(mag[disk]))
    e, mu, b = map(np.concatenate, (e, mu, b))
    e_edges = np.quantile(e, np.linspace(0, 1, N_EUV_BINS + 1))
    mu_edges = np.linspace(0, 1, N_MU_BINS + 1)

    def cells(le, m):
        return (np.clip(np.searchsorted(e_edges, le) - 1, 0, N_EUV_BINS - 1),
                np.clip(np.searchsorted(mu_edges, m) - 1, 0, N_MU_BINS - 1))

    ie, im = cells(e, mu)
    sums = np.zeros((N_EUV_BINS, N_MU_BINS))
    counts = np.zeros_like(sums)
    np.add.at(sums, (ie, im), b)
    np.add.at(counts, (ie, im), 1)
    table = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    row_mean = np.nanmean(table, axis=1, keepdims=True)
    table = np.where(np.isfinite(table), table, row_mean)
    raw, binned = [], []
    for i in test:
        le, m, mag, disk = _pixels(store, i)
        pred = np.zeros_like(mag)
        pred[disk] = table[cells(le, m)]
        raw.append(np.corrcoef(pred[disk], np.abs(mag[disk]))[0, 1])
        binned.append(binned_cc(np.abs(np.nan_to_num(mag)), pred, disk, BIN))
    ceiling = float(np.mean(raw))
    print(f"lookup table E[|B| | EUV, mu] ({len(train)} training frames) on {len(test)} test frames: "
          f"|B| CC {ceiling:.3f} (median {np.median(raw):.3f}), {BIN}x{BIN}-binned {np.nanmean(binned):.3f}")
    for path in args.summary:
        preds = json.load(open(path))["predictions"]
        for name, s in preds.items():
            value = s["fulldisk"]["mean_abs_cc"]
            print(f"  {path} {name}: mean_abs_cc {value:.3f}  ratio to the table {value / ceiling:.2f}")


if __name__ == "__main__":
    main()
