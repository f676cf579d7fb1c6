"""Plain-language verdict and physics checks, generated from the audit numbers.

Nothing here is a fixed conclusion: every sentence is chosen by comparing numbers read from the
audit summaries (``audit/<experiment>/summary.json``) against stated thresholds, and quotes the
numbers it rests on.  Thresholds (documented, not tuned):

* a correlation coefficient (CC) of at least 0.9 counts as "closely reproduced", at least 0.7 as
  "reproduced fairly well", at least 0.4 as "reproduced poorly", below that as "not reproduced";
* a polarity agreement is compared with chance (0.5) through its 95 % bootstrap interval
  (``summary.json`` ``ci``, :mod:`euv2mag.audit.bootstrap`; over time blocks for matched-pair
  polarity, over truth regions for the footprint polarity): above chance when the
  whole interval lies above 0.5, below when it lies below, else consistent with chance.  The
  region observations of consecutive frames are the same regions seen again, so they are not
  independent; only for summaries without intervals does the check fall back to an exact
  two-sided binomial test at the 5 % level on the counts, which treats them as independent and
  says so.  Fewer than 5 regions, or an interval the bootstrap could not define (the class is
  missing from many replicates), are "too few to tell";
* the leak control is "clearly better" on a quantity when its value exceeds the no-leak value by
  at least 0.1 (CC or agreement fraction).

"Learned the structure" vs "learned the sign" (:func:`structure_assessment`,
:func:`sign_assessment`, :func:`structure_sign_verdicts`) sets each model beside the baselines
of :mod:`euv2mag.audit.baselines`, audited like a model (``audit/baselines/<kind>``):

* structure (where the field is and how strong ``|B|`` is, sign ignored) rests on the sign-blind
  ``mean_abs_cc`` (``|B|`` pixel CC) and ``footprint_abs_ratio`` (unsigned flux inside the truth
  regions' footprints, generated over reference).  The *floor* is the ``zero`` baseline (no
  field: ratio 0; its CC is undefined, read as 0, no correlation), the *ceiling* the first
  ``clip-L`` baseline (the truth clipped to +-L G: the most a model trained on +-L G maps can
  draw), or the truth itself (1, 1) when no clip baseline was audited.  "Learned" when the lower
  ends of both 95 % intervals reach :data:`STRUCTURE_FRACTION` (one half) of the ceiling's
  values: half-way from nothing to the best a saturating model can do on both the pattern and
  the amount of unsigned flux, so neither a right pattern at a hundredth of the flux nor the
  right flux spread in the wrong places passes.  "Partly" when both lower ends exceed the floor
  by :data:`FLOOR_MARGIN` (0.05, larger than the spread of a CC between unrelated maps of many
  pixels); "not learned" when either does not (even if the other is undefined, as the ``|B|`` CC of
  an all-zero map is); "unknown" when a number or its interval is missing and the other passes;
* sign rests on the footprint polarity agreement of Hale-conforming and of anti-Hale truth
  regions (the generated leading polarity inside each truth footprint, matched or not).  The
  reference is the ``sign-coin`` baseline (perfect ``|B|``, each region's sign a coin toss): its
  interval, widened to include 0.5 (a coin guesser's expected agreement; on a short test set the
  coins actually drawn stray from it, and a model at 0.5 must not "beat" an unlucky coin), is
  how far guessing gets.  A class "beats the coin" when the model's interval lies wholly above
  that range, and falls "below" it when wholly below (without a ``sign-coin`` audit: against
  chance, 0.5).  "Learned" when both
  classes beat the coin; "Hale's law" when Hale-conforming regions beat it and anti-Hale regions
  fall below it, the pattern of the ``hale-oracle`` baseline (1 and 0): the sign comes from the
  prior, not the input; "Hale prior" when only the Hale-conforming class beats the coin; "not
  learned" otherwise.  Fewer than :data:`MIN_FOOTPRINTS` determined footprints in a class, or no
  interval where the audit ran a bootstrap, is "unknown".
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from .html import fmt

__all__ = [
    "Headline",
    "HaleGroup",
    "cc_phrase",
    "polarity_assessment",
    "hemisphere_assessment",
    "verdict_paragraph",
    "run_spread",
    "expectation_checks",
    "CLEAR_MARGIN",
    "STRUCTURE_FRACTION",
    "FLOOR_MARGIN",
    "MIN_FOOTPRINTS",
    "StructureSign",
    "structure_assessment",
    "sign_assessment",
    "structure_sign_verdicts",
]

#: Margin by which the leak control must beat the no-leak runs to count as "clearly better".
CLEAR_MARGIN = 0.1
#: Fraction of the ceiling baseline's ``|B|`` CC and footprint ``|B|`` ratio a model must reach (interval lower ends) to have
#: "learned the structure" (module docstring).
STRUCTURE_FRACTION = 0.5
#: Margin above the floor baseline (``zero``) both sign-blind lower ends must clear for "partly learned".
FLOOR_MARGIN = 0.05
#: Fewest determined footprints of a Hale class for its polarity to enter the sign verdict.
MIN_FOOTPRINTS = 5
#: How the audit makes the intervals of the footprint polarity (:func:`euv2mag.audit.summary.footprint_intervals`).
FOOTPRINT_INTERVAL = "region-clustered bootstrap"
#: Fewest matched region pairs for a region-parameter CC to enter the verdict and the checks.
MIN_PAIRS = 10
#: Region parameters that do not depend on the sign of B (areas, unsigned flux) vs ones that do.
SIGN_FREE_PARAMS = ("area_mm2", "area_msh", "tumf_mx", "amf_g")
SIGN_DEPENDENT_PARAMS = ("nmf_mx", "pil_length_mm", "pil_count", "pil_mean_gradient_g_per_mm", "r_value", "log10_r_mx")


@dataclass
class HaleGroup:
    """Region-level numbers for Hale-conforming or anti-Hale reference regions."""

    n: int | None = None
    n_matched: int | None = None
    polarity_agreement: float | None = None
    nmf_sign_agreement: float | None = None
    recall: float | None = None
    footprint_polarity_agreement: float | None = None
    n_footprint: int | None = None
    polarity_ci: tuple[float, float] | None = None
    footprint_ci: tuple[float, float] | None = None
    #: P(leading + | south) - P(leading + | north) inside the footprints: generated (signed so that
    #: the reference's direction is positive) and reference; with the generated one's interval.
    hemisphere_contrast: float | None = None
    ref_hemisphere_contrast: float | None = None
    hemisphere_ci: tuple[float, float] | None = None

    @property
    def n_polarity(self) -> int | None:
        """Number of regions the polarity agreement is computed on (matched regions)."""
        return self.n_matched if self.n_matched is not None else self.n


@dataclass
class Headline:
    """Headline numbers of one audit (one experiment), with the file they come from."""

    source: str = ""
    n_frames: int | None = None
    tumf_cc: float | None = None
    tumf_r2: float | None = None
    tumf_slope: float | None = None
    nmf_cc: float | None = None
    nmf_r2: float | None = None
    nmf_slope: float | None = None
    pixel_cc: float | None = None
    pixel_cc_binned: float | None = None
    polarity_agreement: float | None = None
    #: Sign-blind full-disk numbers: frame means of the Pearson r of ``|B|`` (raw, binned; the
    #: audit's ``mean_abs_cc``, ``mean_abs_cc_binned``) and of the generated over reference
    #: unsigned flux inside the truth regions' footprints.
    abs_cc: float | None = None
    abs_cc_binned: float | None = None
    footprint_abs_ratio: float | None = None
    #: Frame mean of generated over reference full-disk TUMF.
    tumf_ratio: float | None = None
    #: Fraction of frames whose full-disk NMF has the reference's sign.
    nmf_sign_agreement: float | None = None
    recall: float | None = None
    precision: float | None = None
    center_offset_deg: float | None = None
    n_ref_regions: int | None = None
    n_gen_regions: float | None = None
    n_matched: int | None = None
    param_cc: dict[str, float] = field(default_factory=dict)
    #: Matched pairs each region parameter's statistics rest on (a CC is given only from ``MIN_PAIRS`` up).
    param_pairs: dict[str, int | None] = field(default_factory=dict)
    hale: HaleGroup = field(default_factory=HaleGroup)
    anti_hale: HaleGroup = field(default_factory=HaleGroup)
    #: Confidence intervals of the fields above, by field name (absent without a bootstrap).
    ci: dict[str, tuple[float, float]] = field(default_factory=dict)
    #: The audit's ``bootstrap`` record (level, replicates, block length, number of blocks).
    bootstrap: dict = field(default_factory=dict)
    #: Number of runs whose region observations ``hale`` / ``anti_hale`` pool (None: averaged or one run).
    hale_runs_pooled: int | None = None
    #: Matched region pairs of all runs together (``n_matched`` is the per-run mean).
    n_matched_all_runs: int | None = None


def _ok(x) -> bool:
    return x is not None and isinstance(x, (int, float)) and math.isfinite(float(x))


def cc_phrase(cc: float | None) -> str:
    """Category of a correlation coefficient (see module thresholds)."""
    if not _ok(cc):
        return "not measured"
    if cc >= 0.9:
        return "closely reproduced"
    if cc >= 0.7:
        return "reproduced fairly well"
    if cc >= 0.4:
        return "reproduced poorly"
    return "not reproduced"


def _binom_ci(k: int, n: int) -> tuple[float, float]:
    """Clopper-Pearson 95 % interval of a proportion k/n."""
    from scipy.stats import binomtest

    ci = binomtest(k, n).proportion_ci(confidence_level=0.95)
    return float(ci.low), float(ci.high)


def polarity_assessment(agreement: float | None, n: int | None,
                        interval: tuple[float, float] | None = None, *,
                        interval_name: str = "block-bootstrap") -> tuple[str, str]:
    """Compare a polarity agreement with chance.

    Parameters
    ----------
    agreement : float
        Fraction of region observations whose leading polarity agrees.
    n : int
        Number of region observations it is computed on.
    interval : (float, float), optional
        Its 95 % bootstrap interval.  When given, it decides (NaN ends: "too few");
        without it an exact binomial test on ``n`` independent observations is used.
    interval_name : str
        How the interval was made, as the text names it: ``"block-bootstrap"`` (frames
        resampled in time blocks: matched-pair polarity) or ``"region-clustered bootstrap"``
        (regions resampled: the footprint polarity, :mod:`euv2mag.audit.bootstrap`).

    Returns
    -------
    category : str
        ``"unknown"``, ``"too few"``, ``"chance"``, ``"above"`` or ``"below"`` (below chance:
        polarity systematically reversed).
    text : str
        A phrase quoting the numbers, e.g. ``"0.48 of 21 region observations (95 % block-bootstrap
        interval 0.26–0.70), consistent with chance"``.
    """
    if not _ok(agreement) or not _ok(n) or int(n) == 0:
        return "unknown", "not measured"
    n = int(n)
    if n < 5:
        return "too few", f"{fmt(agreement)} of {n} region observations, too few to tell"
    if interval is not None:
        lo, hi = (float(v) if _ok(v) else math.nan for v in interval)
        if not (math.isfinite(lo) and math.isfinite(hi)):
            return "too few", (f"{fmt(agreement)} of {n} region observations, too few to tell (the class is missing from "
                               "many bootstrap replicates, so no interval)")
        base = f"{fmt(agreement)} of {n} region observations (95 % {interval_name} interval {lo:.2f}–{hi:.2f})"
        above, below = lo > 0.5, hi < 0.5
    else:
        from scipy.stats import binomtest

        k = int(round(float(agreement) * n))
        lo, hi = _binom_ci(k, n)
        base = (f"{fmt(agreement)} of {n} region observations (95 % binomial interval {lo:.2f}–{hi:.2f}, treating "
                "observations as independent)")
        significant = binomtest(k, n, 0.5).pvalue < 0.05
        above, below = significant and agreement > 0.5, significant and agreement < 0.5
    if above:
        return "above", base + ", better than chance"
    if below:
        return "below", base + ", worse than chance: the leading polarity is systematically reversed"
    return "chance", base + ", consistent with chance (0.5)"


def hemisphere_assessment(group: HaleGroup) -> tuple[str, str]:
    """Whether the generated leading polarity of Hale-conforming regions follows the hemisphere.

    Decided by the interval of ``group.hemisphere_contrast`` (1: Hale's law applied as a sign
    prior; 0: one orientation whatever the hemisphere; < 0: reversed).

    Returns
    -------
    category : str
        ``"unknown"``, ``"hale"`` (interval above 0.5), ``"partly"`` (above 0, not above 0.5),
        ``"blind"`` (contains 0) or ``"reversed"`` (below 0).
    text : str
        The numbers, e.g. ``"hemispheric contrast 0.05 [-0.09, 0.18] (reference 0.99)"``.
    """
    value, interval = group.hemisphere_contrast, group.hemisphere_ci
    if not _ok(value) or interval is None or not all(_ok(v) for v in interval):
        return "unknown", "not measured"
    lo, hi = (float(v) for v in interval)
    text = (f"hemispheric contrast of the generated leading polarity {fmt(value)} [{lo:.2f}, {hi:.2f}]"
            + (f" (reference {fmt(group.ref_hemisphere_contrast)})" if _ok(group.ref_hemisphere_contrast) else ""))
    if lo > 0.5:
        return "hale", text
    if lo > 0:
        return "partly", text
    if hi < 0:
        return "reversed", text
    return "blind", text


def _quantity_list(items: list[tuple[str, float]]) -> str:
    return ", ".join(f"{name} (CC {fmt(cc)})" for name, cc in items)


def _sorted_quantities(h: Headline) -> list[tuple[str, float]]:
    items = [
        ("full-disk TUMF", h.tumf_cc),
        ("full-disk NMF", h.nmf_cc),
        ("pixel values", h.pixel_cc),
        ("8x8-binned pixel values", h.pixel_cc_binned),
    ]
    names = {
        "area_mm2": "region area", "tumf_mx": "region TUMF", "nmf_mx": "region NMF",
        "pil_length_mm": "PIL length", "pil_count": "number of PILs", "r_value": "Schrijver R",
        "amf_g": "region mean |B|", "pil_mean_gradient_g_per_mm": "PIL gradient",
    }
    if _ok(h.n_matched) and h.n_matched >= MIN_PAIRS:
        for key, name in names.items():
            if key in h.param_cc:
                items.append((name, h.param_cc[key]))
    return [(n, float(v)) for n, v in items if _ok(v)]


def run_spread(runs: dict[str, Headline] | None, attr: str = "tumf_cc") -> tuple[bool | None, str]:
    """Whether identically configured runs (seeds) differ in ``attr`` beyond sampling uncertainty.

    The runs with the highest and the lowest value are compared through their bootstrap
    intervals (``Headline.ci``): disjoint intervals mean the runs differ by more than the choice of
    test frames explains.

    Returns
    -------
    differ : bool or None
        True (intervals disjoint), False (they overlap), None (fewer than two runs with a value
        and an interval).
    text : str
        The numbers, e.g. ``"TUMF CC 0.877 [0.8, 0.922] (seed-0) vs 0.209 [0.0575, 0.305] (seed-2)"``.
    """
    from .html import fmt_ci

    have = {n: h for n, h in (runs or {}).items()
            if _ok(getattr(h, attr)) and attr in h.ci and all(_ok(v) for v in h.ci[attr])}
    if len(have) < 2:
        return None, "fewer than two runs with a confidence interval"
    hi_name = max(have, key=lambda n: getattr(have[n], attr))
    lo_name = min(have, key=lambda n: getattr(have[n], attr))
    hi, lo = have[hi_name], have[lo_name]
    label = {"tumf_cc": "TUMF CC", "pixel_cc": "pixel CC", "polarity_agreement": "pixel polarity agreement"}.get(attr, attr)
    text = (f"{label} {fmt_ci(getattr(hi, attr), hi.ci[attr])} ({hi_name}) vs "
            f"{fmt_ci(getattr(lo, attr), lo.ci[attr])} ({lo_name})")
    return lo.ci[attr][1] < hi.ci[attr][0], text


def verdict_paragraph(main: Headline | None, leak: Headline | None, n_seeds: int | None = None,
                      runs: dict[str, Headline] | None = None) -> str:
    """One paragraph that says what the generated magnetograms reproduce and what they do not.

    Parameters
    ----------
    main : Headline
        Audit of the runs without polarity information in the input.
    leak : Headline, optional
        Audit of the polarity-leak control.
    n_seeds : int, optional
        Number of seeds behind ``main``.
    runs : dict of Headline, optional
        The runs (seeds) behind ``main`` one by one, for the run-to-run sentence.
    """
    if main is None:
        return "No audit of the main runs was found, so no verdict can be given."
    parts = []
    runs_text = f"{n_seeds} seeds" if n_seeds else "the runs"
    items = _sorted_quantities(main)
    good = [(n, c) for n, c in items if c >= 0.7]
    bad = [(n, c) for n, c in items if c < 0.7]
    if good:
        parts.append(f"Without polarity in the EUV input ({runs_text}, {main.source}), the generated magnetograms reproduce {_quantity_list(good)}.")
    else:
        parts.append(f"Without polarity in the EUV input ({runs_text}, {main.source}), the generated magnetograms reproduce none of the audited quantities with CC ≥ 0.7.")
    if bad:
        parts.append(f"They do not reproduce {_quantity_list(bad)} (CC < 0.7).")
    differ, spread = run_spread(runs)
    if differ is True:
        parts.append(f"Identically configured runs differ by more than the choice of test frames explains: {spread} "
                     "(disjoint 95 % intervals), so one training run is not a measurement of what the method can do.")
    elif differ is False:
        parts.append(f"The runs agree within their intervals ({spread}).")
    if _ok(main.n_matched) and main.n_matched < MIN_PAIRS and main.param_cc:
        total = (f" per run ({fmt(main.n_matched_all_runs)} in the {main.hale_runs_pooled} runs together)"
                 if (main.hale_runs_pooled or 0) > 1 and _ok(main.n_matched_all_runs) else "")
        parts.append(f"Region parameters rest on {fmt(main.n_matched)} matched region pairs{total}, too few (< {MIN_PAIRS}) for their correlations to mean anything.")
    if _ok(main.recall):
        parts.append(f"Region recall is {fmt(main.recall)}" + (f" with a mean centre offset of {fmt(main.center_offset_deg)}°." if _ok(main.center_offset_deg) else "."))
    cat_h, text_h = polarity_assessment(main.hale.polarity_agreement, main.hale.n_polarity, main.hale.polarity_ci)
    cat_a, text_a = polarity_assessment(main.anti_hale.polarity_agreement, main.anti_hale.n_polarity,
                                        main.anti_hale.polarity_ci)
    if cat_h != "unknown" or cat_a != "unknown":
        def _in(text):
            return f"in {text}" if text != "not measured" else "not measured (no matched region)"

        pooled = f" (observations of the {main.hale_runs_pooled} runs together)" if (main.hale_runs_pooled or 0) > 1 else ""
        parts.append(f"Leading polarity of matched regions{pooled} agrees with the reference on Hale-conforming regions {_in(text_h)}; on anti-Hale regions {_in(text_a)}.")
        if cat_h == "above" and cat_a in ("chance", "below"):
            parts.append("So the polarity the model gets right is what Hale's law predicts, not information it read from the EUV image"
                         + (" (on anti-Hale regions it applies Hale's law and gets them reversed)." if cat_a == "below" else "."))
        elif cat_h == "above" and cat_a == "above":
            parts.append("The model gets the polarity of anti-Hale regions right too, so its input carries sign information beyond Hale's law.")
    fh = polarity_assessment(main.hale.footprint_polarity_agreement, main.hale.n_footprint, main.hale.footprint_ci,
                             interval_name=FOOTPRINT_INTERVAL)
    fa = polarity_assessment(main.anti_hale.footprint_polarity_agreement, main.anti_hale.n_footprint,
                             main.anti_hale.footprint_ci, interval_name=FOOTPRINT_INTERVAL)
    if fh[0] != "unknown" or fa[0] != "unknown":
        pooled = f", observations of the {main.hale_runs_pooled} runs together" if (main.hale_runs_pooled or 0) > 1 else ""
        parts.append("Read inside the reference regions' footprints (whether or not the region is detected on the "
                     f"generated map, among regions where it shows both polarities{pooled}), the generated leading polarity agrees on Hale-conforming regions in {fh[1]}; "
                     f"on anti-Hale regions in {fa[1]}.")
        hemi, hemi_text = hemisphere_assessment(main.hale)
        if hemi != "unknown":
            parts.append("Split by hemisphere (P(leading + | south) − P(leading + | north) on Hale-conforming regions, 1 = "
                         f"Hale's law, 0 = one orientation everywhere), the {hemi_text} "
                         + {"hale": "shows that the model applies Hale's law as a sign prior.",
                            "partly": "shows that the model leans towards Hale's law but does not apply it consistently.",
                            "blind": "is consistent with no hemispheric dependence: the model has not learned Hale's law as a sign prior.",
                            "reversed": "shows that the model reverses Hale's law."}[hemi])
        elif fh[0] == "above" and fa[0] in ("chance", "below"):
            parts.append("That is the pattern of a model that applies Hale's law rather than reading polarity from the EUV image.")
        elif fh[0] == "chance":
            parts.append("The model has not even learned Hale's law as a sign prior.")
        elif fh[0] == "below":
            parts.append("The model has not learned Hale's law as a sign prior; being wrong more often than chance on "
                         "Hale-conforming regions means it applies some fixed orientation that ignores the hemisphere or "
                         "reverses it.")
    if leak is not None:
        diffs = []
        for label, a, b in (
            ("NMF CC", main.nmf_cc, leak.nmf_cc),
            ("pixel CC", main.pixel_cc, leak.pixel_cc),
            ("pixel polarity agreement", main.polarity_agreement, leak.polarity_agreement),
            ("anti-Hale polarity agreement", main.anti_hale.polarity_agreement, leak.anti_hale.polarity_agreement),
            ("Hale polarity agreement", main.hale.polarity_agreement, leak.hale.polarity_agreement),
        ):
            if _ok(a) and _ok(b):
                diffs.append((label, float(a), float(b)))
        better = [d for d in diffs if d[2] - d[1] >= CLEAR_MARGIN]
        same = [d for d in diffs if abs(d[2] - d[1]) < CLEAR_MARGIN]
        if better:
            parts.append("With polarity leaked into the EUV input (the control, " + leak.source + "), the same audit reports clearly better "
                         + ", ".join(f"{l} ({fmt(a)} → {fmt(b)})" for l, a, b in better) + ".")
        if same:
            parts.append("The control is not clearly better on " + ", ".join(f"{l} ({fmt(a)} vs {fmt(b)})" for l, a, b in same) + ".")
        if better and any("anti-Hale" in d[0] or "NMF" in d[0] for d in better):
            parts.append("The audit therefore detects polarity information when it is present; where the no-leak runs fall short, the missing information in the input, not the audit, is the cause.")
    else:
        parts.append("The polarity-leak control has not been audited, so it is unknown whether the audit would report success when sign information is present.")
    parts.append("This is a synthetic Sun in which the EUV intensity depends on |B| only: it shows what a model recovers from priors, not whether real 304 Å images carry polarity.")
    return " ".join(parts)


@dataclass
class Check:
    """One physics expectation and whether the numbers bear it out."""

    expectation: str
    observed: str
    holds: bool | None
    sources: list[str]


def _gt(a, b, margin=0.0) -> bool | None:
    if not (_ok(a) and _ok(b)):
        return None
    return float(a) > float(b) + margin


def expectation_checks(main: Headline | None, leak: Headline | None, runs: dict[str, Headline] | None = None) -> list[Check]:
    """The physics expectations of the study (issue 6) tested against the audit numbers.

    ``runs`` (the seeds behind ``main``, one Headline each) adds Liu et al.'s run-to-run check.
    """
    checks: list[Check] = []
    if main is None:
        return checks
    src = [main.source]
    if runs:
        differ, spread = run_spread(runs)
        checks.append(Check("identically configured runs (seeds) give different results beyond sampling uncertainty "
                            "(disjoint 95 % intervals of TUMF CC; Liu et al. 2021)", spread, differ, src))
    checks.append(Check("full-disk TUMF reproduced better than NMF (TUMF CC > NMF CC)",
                        f"TUMF CC {fmt(main.tumf_cc)}, NMF CC {fmt(main.nmf_cc)}", _gt(main.tumf_cc, main.nmf_cc), src))
    checks.append(Check("full-disk TUMF reproduced better than pixel values (TUMF CC > pixel CC)",
                        f"TUMF CC {fmt(main.tumf_cc)}, pixel CC {fmt(main.pixel_cc)}", _gt(main.tumf_cc, main.pixel_cc), src))
    area = main.param_cc.get("area_mm2", main.param_cc.get("area_msh"))
    enough = _ok(main.n_matched) and main.n_matched >= MIN_PAIRS
    for key, label in (("pil_length_mm", "PIL length"), ("nmf_mx", "region NMF")):
        if not enough and (key in main.param_cc or area is not None):
            checks.append(Check(f"region area reproduced better than {label} (CC)",
                                f"only {fmt(main.n_matched)} matched region pairs (fewer than {MIN_PAIRS})", None, src))
        elif key in main.param_cc and area is not None:
            checks.append(Check(f"region area reproduced better than {label} (CC)",
                                f"area CC {fmt(area)}, {label} CC {fmt(main.param_cc.get(key))}",
                                _gt(area, main.param_cc.get(key)), src))
    cat_h, text_h = polarity_assessment(main.hale.polarity_agreement, main.hale.n_polarity, main.hale.polarity_ci)
    checks.append(Check("polarity right on Hale-conforming regions (better than chance)", text_h,
                        None if cat_h in ("unknown", "too few") else cat_h == "above", src))
    cat_a, text_a = polarity_assessment(main.anti_hale.polarity_agreement, main.anti_hale.n_polarity,
                                        main.anti_hale.polarity_ci)
    checks.append(Check("polarity of anti-Hale regions not better than chance", text_a,
                        None if cat_a in ("unknown", "too few") else cat_a in ("chance", "below"), src))
    hemi, hemi_text = hemisphere_assessment(main.hale)
    if hemi != "unknown":
        checks.append(Check("the model applies Hale's law as a sign prior (hemispheric contrast of the generated leading "
                            "polarity in Hale-conforming footprints above 0)", hemi_text, hemi in ("hale", "partly"), src))
    for group, label in ((main.hale, "Hale-conforming"), (main.anti_hale, "anti-Hale")):
        cat, text = polarity_assessment(group.footprint_polarity_agreement, group.n_footprint, group.footprint_ci,
                                        interval_name=FOOTPRINT_INTERVAL)
        if cat == "unknown":
            continue
        if group is main.hale:
            checks.append(Check(f"polarity inside {label} region footprints better than chance", text,
                                None if cat == "too few" else cat == "above", src))
        else:
            checks.append(Check(f"polarity inside {label} region footprints not better than chance", text,
                                None if cat == "too few" else cat in ("chance", "below"), src))
    if leak is not None:
        lsrc = [main.source, leak.source]
        if _ok(main.hale.footprint_polarity_agreement) and _ok(leak.hale.footprint_polarity_agreement):
            checks.append(Check(f"leak control clearly better on polarity inside Hale-conforming footprints (by ≥ {CLEAR_MARGIN})",
                                f"{fmt(main.hale.footprint_polarity_agreement)} → {fmt(leak.hale.footprint_polarity_agreement)}",
                                _gt(leak.hale.footprint_polarity_agreement, main.hale.footprint_polarity_agreement,
                                    CLEAR_MARGIN - 1e-12), lsrc))
        checks.append(Check(f"leak control clearly better on NMF CC (by ≥ {CLEAR_MARGIN})",
                            f"{fmt(main.nmf_cc)} → {fmt(leak.nmf_cc)}", _gt(leak.nmf_cc, main.nmf_cc, CLEAR_MARGIN - 1e-12), lsrc))
        checks.append(Check(f"leak control clearly better on strong-field pixel polarity agreement (by ≥ {CLEAR_MARGIN})",
                            f"{fmt(main.polarity_agreement)} → {fmt(leak.polarity_agreement)}",
                            _gt(leak.polarity_agreement, main.polarity_agreement, CLEAR_MARGIN - 1e-12), lsrc))
        checks.append(Check(f"leak control clearly better on pixel CC (by ≥ {CLEAR_MARGIN})",
                            f"{fmt(main.pixel_cc)} → {fmt(leak.pixel_cc)}",
                            _gt(leak.pixel_cc, main.pixel_cc, CLEAR_MARGIN - 1e-12), lsrc))
        checks.append(Check(f"leak control clearly better on anti-Hale polarity (by ≥ {CLEAR_MARGIN})",
                            f"{fmt(main.anti_hale.polarity_agreement)} → {fmt(leak.anti_hale.polarity_agreement)}",
                            _gt(leak.anti_hale.polarity_agreement, main.anti_hale.polarity_agreement, CLEAR_MARGIN - 1e-12), lsrc))
        checks.append(Check("leak control about as good on TUMF (sign-free; within 0.1)",
                            f"{fmt(main.tumf_cc)} vs {fmt(leak.tumf_cc)}",
                            None if not (_ok(main.tumf_cc) and _ok(leak.tumf_cc)) else abs(leak.tumf_cc - main.tumf_cc) < CLEAR_MARGIN or leak.tumf_cc > main.tumf_cc,
                            lsrc))
    return checks


def disagreement_notes(main: Headline | None, leak: Headline | None, checks: list[Check], iterations: int | None) -> list[str]:
    """Possible reasons, read off the numbers, for expectations that do not hold."""
    notes: list[str] = []
    if main is None or all(c.holds is not False for c in checks):
        return notes
    if _ok(main.tumf_cc) and main.tumf_cc < 0.7:
        notes.append(f"Even full-disk TUMF is reproduced only with CC {fmt(main.tumf_cc)}"
                     + (f" after {iterations} training iterations" if iterations else "")
                     + ": the model is probably under-trained, so differences between sign-free and sign-dependent quantities are dominated by its general error. Train longer (--iters) or at a larger size on a GPU.")
    if _ok(main.tumf_slope) and main.tumf_slope < 0.5:
        notes.append(f"The generated maps carry only {fmt(main.tumf_slope)} of the reference TUMF (slope through the origin): "
                     "the model predicts much weaker field than the reference. Under the L1 term of the loss, where the sign "
                     "of B cannot be read from the input the loss-minimising prediction is close to 0 G, so the model "
                     "suppresses field it cannot sign, and TUMF fails along with NMF until it learns a sign prior (Hale's law) "
                     "or the GAN term restores realistic amplitudes.")
    if _ok(main.n_matched) and main.n_matched < MIN_PAIRS:
        gen = f" ({fmt(main.n_gen_regions)} regions per run on the generated maps against {fmt(main.n_ref_regions)} reference regions)" if _ok(main.n_gen_regions) else ""
        notes.append(f"The region detector finds (almost) no active regions on the generated maps{gen}, so (almost) no region is matched: "
                     "region parameters and the Hale's-law breakdown cannot be measured, and the physics expectations on "
                     "them stay open. The generated field is too weak or too diffuse to pass the detection thresholds.")
    elif _ok(main.anti_hale.n_polarity) and main.anti_hale.n_polarity < 20:
        notes.append(f"Only {main.anti_hale.n_polarity} anti-Hale regions were matched in the test set, so their polarity agreement is uncertain (see the interval above); a longer test period or a higher anti-Hale rate gives more.")
    if _ok(main.recall) and 0 < main.recall < 0.5 and _ok(main.n_matched) and main.n_matched >= MIN_PAIRS:
        notes.append(f"Region recall is {fmt(main.recall)}: region parameters and polarity rest on the few regions the model reproduces, which are the largest ones.")
    if leak is not None and _ok(leak.nmf_cc) and _ok(main.nmf_cc) and leak.nmf_cc - main.nmf_cc < CLEAR_MARGIN:
        if _gt(leak.polarity_agreement, main.polarity_agreement, CLEAR_MARGIN):
            notes.append(f"The leak control gets the sign of strong-field pixels right ({fmt(main.polarity_agreement)} → "
                         f"{fmt(leak.polarity_agreement)}) but does not improve NMF CC ({fmt(main.nmf_cc)} → {fmt(leak.nmf_cc)}). "
                         "Full-disk NMF is a small difference of large numbers: the reference's net flux is a small imbalance, "
                         "which a weak systematic offset spread over the generated disk outweighs (see the NMF scatter plot: "
                         "one sign per run means an offset, not regions). The metric most likely fails here, not the polarity "
                         "of the regions.")
        else:
            notes.append(f"The leak control improves NMF CC by less than {CLEAR_MARGIN} ({fmt(main.nmf_cc)} → {fmt(leak.nmf_cc)}): either the leak is too weak for a short training to exploit, or the model has not learned to read it yet.")
    return notes


# --------------------------------------------------------------------------- structure vs sign
@dataclass
class StructureSign:
    """What one model learned, set beside the baselines (module docstring).

    ``structure``: ``"learned"``, ``"partly"``, ``"not learned"`` or ``"unknown"``; ``sign``:
    ``"learned"``, ``"hale"`` (Hale's law), ``"prior"`` (Hale-conforming only), ``"not learned"``
    or ``"unknown"``; ``text``: the sentence, quoting the numbers it rests on.
    """

    name: str
    structure: str
    sign: str
    structure_text: str
    sign_text: str

    @property
    def text(self) -> str:
        verdict = {"learned": "learned the structure", "partly": "learned part of the structure",
                   "not learned": "did not learn the structure", "unknown": "structure not measured"}[self.structure]
        sign = {"learned": "and learned the sign", "hale": "and its sign is Hale's law, not the input's",
                "prior": "and leans on Hale's law for the sign", "not learned": "but not the sign",
                "unknown": "sign not measured"}[self.sign]
        joiner = ", " if self.sign == "unknown" else " "
        return f"{self.name}: {verdict}{joiner}{sign}. Structure: {self.structure_text}. Sign: {self.sign_text}."


def _interval(value, interval, bootstrapped: bool):
    """``(low, high)`` of a value: its interval; the value itself when the audit ran no bootstrap; None if unusable."""
    if not _ok(value):
        return None
    if interval is not None and all(_ok(v) for v in interval):
        return float(interval[0]), float(interval[1])
    return None if bootstrapped else (float(value), float(value))


def _structure_refs(baselines: dict[str, Headline]):
    """``(floor name, floor values, ceiling name, ceiling values)`` for (abs_cc, footprint_abs_ratio)."""
    zero = baselines.get("zero")
    floor = (0.0, 0.0)
    if zero is not None:
        floor = tuple(float(getattr(zero, a)) if _ok(getattr(zero, a)) else 0.0 for a in ("abs_cc", "footprint_abs_ratio"))
    for kind, head in baselines.items():
        if kind.startswith("clip-") and _ok(head.abs_cc) and _ok(head.footprint_abs_ratio):
            return ("zero" if zero is not None else "no field"), floor, kind, (float(head.abs_cc), float(head.footprint_abs_ratio))
    return ("zero" if zero is not None else "no field"), floor, "the truth", (1.0, 1.0)


def structure_assessment(head: Headline, baselines: dict[str, Headline] | None = None) -> tuple[str, str]:
    """Whether a model learned the structure: sign-blind numbers against the floor and ceiling baselines.

    Parameters
    ----------
    head : Headline
        The model's audit numbers (``abs_cc``, ``footprint_abs_ratio`` and their intervals).
    baselines : dict of Headline, optional
        Baseline kind -> its audit numbers (``zero`` the floor, the first ``clip-L`` the ceiling).

    Returns
    -------
    category : str
        ``"learned"``, ``"partly"``, ``"not learned"`` or ``"unknown"`` (module docstring).
    text : str
        The numbers, e.g. ``"|B| pixel CC 0.62 [0.55, 0.68], footprint |B| ratio 0.21 [0.18, 0.25]; ceiling clip-100
        (0.9, 0.31), floor zero (0, 0)"``.
    """
    from .html import fmt_ci

    baselines = baselines or {}
    floor_name, floor, ceil_name, ceil = _structure_refs(baselines)
    boot = bool(head.bootstrap)
    values = [(getattr(head, a), head.ci.get(a)) for a in ("abs_cc", "footprint_abs_ratio")]
    text = (f"|B| pixel CC {fmt_ci(*values[0])}, footprint |B| ratio {fmt_ci(*values[1])}; ceiling {ceil_name} "
            f"({fmt(ceil[0])}, {fmt(ceil[1])}), floor {floor_name} ({fmt(floor[0])}, {fmt(floor[1])})")
    intervals = [_interval(v, ci, boot) for v, ci in values]
    if any(i is not None and i[0] <= f + FLOOR_MARGIN for i, f in zip(intervals, floor)):
        return "not learned", text + ": not clearly above the floor"  # one failing number decides, even if the other is undefined
    if any(i is None for i in intervals):
        return "unknown", text + " (no value or no interval)"
    lows = [i[0] for i in intervals]
    if all(lo >= STRUCTURE_FRACTION * c for lo, c in zip(lows, ceil)):
        return "learned", text + f": both at least {fmt(STRUCTURE_FRACTION)} of the ceiling"
    return "partly", text + f": above the floor, short of {fmt(STRUCTURE_FRACTION)} of the ceiling"


def sign_assessment(head: Headline, baselines: dict[str, Headline] | None = None) -> tuple[str, str]:
    """Whether a model learned the sign: footprint polarity of both Hale classes against the ``sign-coin`` baseline.

    Returns
    -------
    category : str
        ``"learned"``, ``"hale"``, ``"prior"``, ``"not learned"`` or ``"unknown"`` (module docstring).
    text : str
        The numbers of both classes, of the coin and, when audited, of ``hale-oracle``.
    """
    from .html import fmt_ci

    baselines = baselines or {}
    coin, oracle = baselines.get("sign-coin"), baselines.get("hale-oracle")
    boot = bool(head.bootstrap)
    parts, verdicts = [], []
    for attr, label in (("hale", "Hale-conforming"), ("anti_hale", "anti-Hale")):
        g = getattr(head, attr)
        mine = _interval(g.footprint_polarity_agreement, g.footprint_ci, boot)
        ref, ref_text = (0.5, 0.5), ("chance 0.5 (no sign-coin audit)" if coin is None else
                                     "chance 0.5 (sign-coin has no interval for this class)")
        if coin is not None:
            cg = getattr(coin, attr)
            coin_ci = _interval(cg.footprint_polarity_agreement, cg.footprint_ci, bool(coin.bootstrap))
            if coin_ci is not None:  # widened to 0.5, a coin guesser's expected agreement
                ref = (min(coin_ci[0], 0.5), max(coin_ci[1], 0.5))
                ref_text = f"sign-coin {fmt_ci(cg.footprint_polarity_agreement, cg.footprint_ci)}"
        n = f" of {g.n_footprint}" if _ok(g.n_footprint) else ""
        parts.append(f"{label} footprint polarity {fmt_ci(g.footprint_polarity_agreement, g.footprint_ci)}{n} vs {ref_text}")
        if mine is None or not _ok(g.n_footprint) or g.n_footprint < MIN_FOOTPRINTS:
            verdicts.append("unknown")
        elif mine[0] > ref[1]:
            verdicts.append("above")
        elif mine[1] < ref[0]:
            verdicts.append("below")
        else:
            verdicts.append("coin")
    if oracle is not None:
        parts.append(f"hale-oracle {fmt(oracle.hale.footprint_polarity_agreement)} and "
                     f"{fmt(oracle.anti_hale.footprint_polarity_agreement)}")
    text = "; ".join(parts)
    hale, anti = verdicts
    if "unknown" in verdicts:
        return "unknown", text + f" (fewer than {MIN_FOOTPRINTS} determined footprints or no interval)"
    if hale == "above" and anti == "above":
        return "learned", text + ": both classes beat the coin"
    if hale == "above" and anti == "below":
        return "hale", text + ": right where Hale's law is right, wrong where it is wrong, the hale-oracle pattern"
    if hale == "above":
        return "prior", text + ": only Hale-conforming regions beat the coin"
    return "not learned", text + ": no better than the coin"


def structure_sign_verdicts(models: dict[str, Headline], baselines: dict[str, Headline] | None = None) -> list[StructureSign]:
    """One :class:`StructureSign` per model (name -> its audit numbers), judged against ``baselines``."""
    out = []
    for name, head in models.items():
        st, st_text = structure_assessment(head, baselines)
        sg, sg_text = sign_assessment(head, baselines)
        out.append(StructureSign(name, st, sg, st_text, sg_text))
    return out
