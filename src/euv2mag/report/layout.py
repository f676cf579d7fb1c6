"""Folder layout of a study directory (what ``euv2mag demo`` writes and ``euv2mag report`` reads).

::

    DIR/
      stages.json                      demo stages: status, seconds, outputs
      data/synth.zarr                  dataset (synthetic, no polarity in the EUV input)
      data/synth-leak.zarr             the same Sun synthesised with a polarity leak (control)
      splits/kpl19.json                KPL19 split (Sep+Oct of each year = test)
      splits/rotation.json             whole-Carrington-rotation split with buffers
      saturation/saturation.csv, saturation.json
      leakage/<scheme>/leakage.csv, leakage.json
      runs/<experiment>/seed-<K>/      metrics.csv, config.toml, best.json, checkpoints
      pred/<experiment>-seed-<K>.zarr  test-set predictions (array ``pred``, G)
      audit/<experiment>/              fulldisk.csv, regions.csv, matches.csv,
                                       variability.csv, summary.json, pixel_std.zarr
      pred/baselines/<kind>.zarr       baseline "predictions" of the test frames
                                       (euv2mag baselines: zero, clip-100, sign-coin, hale-oracle ...)
      audit/baselines/<kind>/          the audit of each baseline alone (same files as above)
      farside/                         far-side study (euv2mag farside; demo --farside):
                                       farside_skill.csv, farside_ages.csv, sep-<S>/ ...
      report.html

``<experiment>`` is ``main`` for the study's configuration trained on the no-leak dataset (several
seeds; the demo trains the configuration that learns, see :mod:`euv2mag.demo`), ``kpl19`` for the
faithful KPL19 configuration on the same data (the reference run) and ``leak`` for the control
trained on the polarity-leak dataset; any other folder name under ``runs/`` or ``audit/`` is one
more experiment (the report takes them all), except ``baselines``, which holds the baselines
(:mod:`euv2mag.audit.baselines`), each audited on its own so that its intervals and Hale
breakdown are its own.  The report also reads study
folders laid out like this by hand: every section looks only for its own files and says which
command makes them when they are missing.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["StudyLayout", "MAIN_EXPERIMENT", "REFERENCE_EXPERIMENT", "LEAK_EXPERIMENT", "SCHEMES", "BASELINES"]

#: Experiment name of the study's configuration on the no-leak data (the runs the audit is about).
MAIN_EXPERIMENT = "main"
#: Experiment name of the faithful KPL19 configuration on the no-leak data (the reference run).
REFERENCE_EXPERIMENT = "kpl19"
#: Experiment name of the polarity-leak control.
LEAK_EXPERIMENT = "leak"
#: Folder name of the baselines under ``pred/`` and ``audit/`` (not an experiment name).
BASELINES = "baselines"
#: Report order of the baseline kinds: name or name prefix (``clip-L``, ``persistence-D``); others after, by name.
_BASELINE_ORDER = ("zero", "clip-", "sign-coin", "hale-oracle", "persistence-")
#: Split schemes the study compares.
SCHEMES = ("kpl19", "rotation")

_SEED_RE = re.compile(r"^seed-(\d+)$")
_PRED_RE = re.compile(r"^(?P<experiment>.+)-seed-(?P<seed>\d+)\.zarr$")


@dataclass(frozen=True)
class StudyLayout:
    """Paths of the files of one study folder ``root``."""

    root: Path

    def __post_init__(self):
        object.__setattr__(self, "root", Path(self.root))

    # ------------------------------------------------------------------ inputs
    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def store(self) -> Path:
        return self.data_dir / "synth.zarr"

    @property
    def leak_store(self) -> Path:
        return self.data_dir / "synth-leak.zarr"

    def split(self, scheme: str) -> Path:
        return self.root / "splits" / f"{scheme}.json"

    @property
    def saturation_dir(self) -> Path:
        return self.root / "saturation"

    def leakage_dir(self, scheme: str) -> Path:
        return self.root / "leakage" / scheme

    def run_dir(self, experiment: str) -> Path:
        return self.root / "runs" / experiment

    def seed_dir(self, experiment: str, seed: int) -> Path:
        return self.run_dir(experiment) / f"seed-{int(seed)}"

    def pred(self, experiment: str, seed: int) -> Path:
        return self.root / "pred" / f"{experiment}-seed-{int(seed)}.zarr"

    def audit_dir(self, experiment: str) -> Path:
        return self.root / "audit" / experiment

    @property
    def baselines_dir(self) -> Path:
        """Folder of the baseline stores (``euv2mag baselines --out``)."""
        return self.root / "pred" / BASELINES

    def baseline_pred(self, kind: str) -> Path:
        """The store of one baseline (``pred/baselines/<kind>.zarr``)."""
        return self.baselines_dir / f"{kind}.zarr"

    def baseline_audit_dir(self, kind: str) -> Path:
        """The audit folder of one baseline (``audit/baselines/<kind>``)."""
        return self.root / "audit" / BASELINES / kind

    @property
    def farside_dir(self) -> Path:
        """Folder of the far-side study (``euv2mag farside --out``; the demo's ``farside`` stage)."""
        return self.root / "farside"

    @property
    def report(self) -> Path:
        return self.root / "report.html"

    @property
    def stages(self) -> Path:
        return self.root / "stages.json"

    # --------------------------------------------------------------- discovery
    def experiments(self) -> list[str]:
        """Experiment names that have runs, predictions or audits (main first, then reference, leak last)."""
        names: set[str] = set()
        for folder in (self.root / "runs", self.root / "audit"):
            if folder.is_dir():
                names.update(p.name for p in folder.iterdir()
                             if p.is_dir() and not p.name.startswith(".") and p.name != BASELINES)
        pred_dir = self.root / "pred"
        if pred_dir.is_dir():
            for p in pred_dir.iterdir():
                m = _PRED_RE.match(p.name)
                if m:
                    names.add(m["experiment"])
        order = {MAIN_EXPERIMENT: 0, REFERENCE_EXPERIMENT: 1, LEAK_EXPERIMENT: 3}
        return sorted(names, key=lambda n: (order.get(n, 2), n))

    def baselines(self) -> list[str]:
        """Baseline kinds with a store or an audit folder, in report order (zero, clip-L, sign-coin, hale-oracle, ...)."""
        kinds: set[str] = set()
        folder = self.root / "audit" / BASELINES
        if folder.is_dir():
            kinds.update(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
        if self.baselines_dir.is_dir():
            kinds.update(p.name[: -len(".zarr")] for p in self.baselines_dir.iterdir()
                         if p.name.endswith(".zarr") and len(p.name) > len(".zarr"))

        def rank(kind: str):
            for i, key in enumerate(_BASELINE_ORDER):
                if kind == key or (key.endswith("-") and kind.startswith(key)):
                    return (i, kind)
            return (len(_BASELINE_ORDER), kind)

        return sorted(kinds, key=rank)

    def seeds(self, experiment: str) -> list[int]:
        """Seeds with a run folder ``runs/<experiment>/seed-K``, ascending."""
        folder = self.run_dir(experiment)
        if not folder.is_dir():
            return []
        out = []
        for p in folder.iterdir():
            m = _SEED_RE.match(p.name)
            if m and p.is_dir():
                out.append(int(m.group(1)))
        return sorted(out)

    def predictions(self, experiment: str) -> dict[int, Path]:
        """Seed -> prediction store of an experiment (complete or not)."""
        pred_dir = self.root / "pred"
        out: dict[int, Path] = {}
        if pred_dir.is_dir():
            for p in pred_dir.iterdir():
                m = _PRED_RE.match(p.name)
                if m and m["experiment"] == experiment:
                    out[int(m["seed"])] = p
        return dict(sorted(out.items()))

    def rel(self, path: Path) -> str:
        """``path`` relative to the study folder, as printed in the report."""
        try:
            return Path(path).resolve().relative_to(self.root.resolve()).as_posix()
        except ValueError:
            return str(path)
