"""The result tables of an audit (:func:`euv2mag.audit.audit_stores`): one definition each.

``fulldisk.csv``, ``regions.csv``, ``matches.csv`` and ``variability.csv`` are written by
:meth:`euv2mag.audit.AuditResult.write` and read back (by the report, the tests, a user's
script) through the same :class:`~euv2mag.tables.TableFile` definitions below, so a renamed
column fails at the reader.  ``summary.json`` is defined by :class:`euv2mag.audit.summary.AuditSummary`
and ``pixel_std.zarr`` by :data:`PIXEL_STD_ZARR`.

Units: fields in G, fluxes in Mx, areas in MSH (millionths of the solar hemisphere) or Mm²,
lengths in Mm, angles in degrees, R in log10 of G x (0.12 deg pixel) (SHARP recipe).  The
per-column meanings of the frame metrics and region parameters are documented in
:mod:`euv2mag.audit.fulldisk` and :mod:`euv2mag.audit.measurement`.
"""
from __future__ import annotations

from ..tables import Column, TableFile
from .fulldisk import FRAME_COLUMNS
from .match import MATCH_PARAMETERS
from .measurement import REGION_COLUMNS

__all__ = [
    "FULLDISK",
    "REGIONS",
    "MATCHES",
    "VARIABILITY",
    "SUMMARY_JSON",
    "PIXEL_STD_ZARR",
    "REGION_UNITS",
]

#: File name of the audit summary (:class:`euv2mag.audit.summary.AuditSummary`).
SUMMARY_JSON = "summary.json"
#: Zarr array (N, H, W) float32 of the per-pixel standard deviation across predictions (G, ddof 1).
PIXEL_STD_ZARR = "pixel_std.zarr"

#: dtype and unit of every frame metric (:data:`euv2mag.audit.fulldisk.FRAME_COLUMNS`).
_FRAME_UNITS = {
    "n_disk": ("int64", "", "disk pixels used"),
    "tumf_ref_mx": ("float64", "Mx", "reference total unsigned flux, |B| > threshold"),
    "tumf_gen_mx": ("float64", "Mx", "generated total unsigned flux"),
    "nmf_ref_mx": ("float64", "Mx", "reference net flux"),
    "nmf_gen_mx": ("float64", "Mx", "generated net flux"),
    "tumf_ratio": ("float64", "", "generated / reference TUMF"),
    "nmf_sign_agree": ("bool", "", "signs of the two NMFs equal"),
    "cc": ("float64", "", "Pearson r over the disk pixels"),
    "cc_binned": ("float64", "", "Pearson r after k x k block means"),
    "r2": ("float64", "", "R^2 of generated as a prediction of reference"),
    "rmse_g": ("float64", "G", "root-mean-square difference"),
    "mean_abs_ref_g": ("float64", "G", "mean |B| of the reference on the disk"),
    "mean_abs_gen_g": ("float64", "G", "mean |B| of the generated map on the disk"),
    "polarity_agreement": ("float64", "", "share of strong-field pixels whose signs agree"),
    "n_strong": ("int64", "", "pixels where both maps exceed the strong-field level"),
    "abs_cc": ("float64", "", "Pearson r of |B| over the disk pixels (sign-blind)"),
    "abs_cc_binned": ("float64", "", "Pearson r of the k x k block means of |B|"),
}

#: dtype, unit and meaning of every region parameter (:data:`euv2mag.audit.measurement.REGION_COLUMNS`).
REGION_UNITS = {
    "label": ("int64", "", "label in the map's label image (1 = largest TUMF)"),
    "lat_deg": ("float64", "deg", "Stonyhurst latitude of the centre"),
    "lon_deg": ("float64", "deg", "Stonyhurst longitude of the centre"),
    "carrington_lon_deg": ("float64", "deg", "Carrington longitude of the centre"),
    "mu_center": ("float64", "", "cosine of the heliocentric angle at the centre"),
    "low_mu": ("bool", "", "centre mu below the low-mu flag level"),
    "touches_limb": ("bool", "", "region reaches the limb cut"),
    "n_px": ("int64", "", "pixels of the region"),
    "n_nan_px": ("int64", "", "NaN pixels of the region"),
    "area_mm2": ("float64", "Mm2", "deprojected area"),
    "area_msh": ("float64", "MSH", "deprojected area"),
    "tumf_mx": ("float64", "Mx", "total unsigned flux"),
    "nmf_mx": ("float64", "Mx", "net flux"),
    "flux_pos_mx": ("float64", "Mx", "positive flux"),
    "flux_neg_mx": ("float64", "Mx", "negative flux (< 0)"),
    "imbalance": ("float64", "", "|NMF| / TUMF"),
    "amf_g": ("float64", "G", "area-weighted mean |B|"),
    "tumf_radial_mx": ("float64", "Mx", "radial-convention unsigned flux sum(|B|/mu A)"),
    "amf_radial_g": ("float64", "G", "radial-convention mean field"),
    "max_abs_g": ("float64", "G", "maximum |B|"),
    "pil_count": ("int64", "", "strong-field PIL segments"),
    "pil_length_mm": ("float64", "Mm", "total PIL length"),
    "pil_mean_gradient_g_per_mm": ("float64", "G/Mm", "mean |grad B| on the PIL mask"),
    "r_value": ("float64", "log10(G px)", "Schrijver R, SHARP recipe on a 0.12 deg CEA cut-out"),
    "log10_r_mx": ("float64", "log10(Mx)", "R in Mx"),
    "n_pil_px": ("int64", "", "PIL-mask pixels of the cut-out"),
    "pos_lat_deg": ("float64", "deg", "flux-weighted latitude of the positive polarity"),
    "pos_lon_deg": ("float64", "deg", "flux-weighted longitude of the positive polarity"),
    "neg_lat_deg": ("float64", "deg", "flux-weighted latitude of the negative polarity"),
    "neg_lon_deg": ("float64", "deg", "flux-weighted longitude of the negative polarity"),
    "leading_polarity": ("int64", "", "sign of the westernmost polarity (+1/-1), 0 if one is missing"),
    "hemisphere": ("str", "", "N or S"),
}

_IDENT = (
    Column("frame", "int64", "", "frame index in the prediction stores"),
    Column("time", "str", "", "observation time, ISO 8601 UTC"),
)


def _nullable(dtype: str) -> str:
    return {"int64": "Int64", "bool": "boolean"}.get(dtype, dtype)


FULLDISK = TableFile(
    "fulldisk.csv",
    (
        Column("pred", "str", "", "prediction name (store name without .zarr)"),
        Column("frame", "int64", "", "frame index in the prediction stores"),
        Column("truth_frame", "int64", "", "frame index in the truth store"),
        Column("time", "str", "", "observation time, ISO 8601 UTC"),
        *(Column(name, *_FRAME_UNITS[name]) for name in FRAME_COLUMNS),
        Column("footprint_abs_ratio", "float64", "",
               "generated / reference sum |B| A inside the truth regions' footprints (NaN: no footprint)"),
    ),
    "one row per frame and prediction; ref = truth, gen = prediction (euv2mag.audit.fulldisk)",
)

REGIONS = TableFile(
    "regions.csv",
    (
        Column("source", "str", "", "'truth' or the prediction name"),
        *_IDENT,
        Column("hale_conforming", "boolean", "", "truth regions: the generator's flag of the nearest injected region"),
        Column("hale_class", "str", "", "truth regions: hale / anti_hale / undetermined"),
        *(Column(name, *REGION_UNITS[name]) for name in REGION_COLUMNS),
        Column("region_id", "Int64", "",
               "truth regions: generator id of the nearest injected region within max_distance_deg (synthetic truth)"),
    ),
    "every region detected on every map (euv2mag.audit.detection, euv2mag.audit.measurement)",
)

MATCHES = TableFile(
    "matches.csv",
    (
        Column("pred", "str", "", "prediction name"),
        *_IDENT,
        Column("status", "str", "", "matched, missed (truth region without partner) or extra (generated only)"),
        Column("ref_label", "Int64", "", "label of the truth region"),
        Column("gen_label", "Int64", "", "label of the generated region"),
        Column("distance_deg", "float64", "deg", "great-circle distance of the centres (matched pairs)"),
        Column("hale_conforming", "boolean", "", "of the truth region"),
        Column("hale_class", "str", "", "of the truth region"),
        Column("ref_region_id", "Int64", "",
               "generator id of the truth region's nearest injected region (synthetic truth; the bootstrap's cluster)"),
        *(Column(f"ref_{p}", _nullable(REGION_UNITS[p][0]), REGION_UNITS[p][1], f"truth region: {REGION_UNITS[p][2]}")
          for p in MATCH_PARAMETERS),
        *(Column(f"gen_{p}", _nullable(REGION_UNITS[p][0]), REGION_UNITS[p][1], f"generated region: {REGION_UNITS[p][2]}")
          for p in MATCH_PARAMETERS),
        Column("fp_gen_leading_polarity", "Int64", "",
               "leading polarity of the generated map inside the truth region's footprint (0: a polarity missing)"),
        Column("fp_gen_nmf_mx", "float64", "Mx", "net flux of the generated map inside the truth region's footprint"),
    ),
    "one row per truth-prediction region pair and per missed or extra region (euv2mag.audit.match)",
)

VARIABILITY = TableFile(
    "variability.csv",
    (
        *_IDENT,
        Column("run_a", "str", "", "first prediction of the pair"),
        Column("run_b", "str", "", "second prediction of the pair"),
        Column("cc", "float64", "", "pixel Pearson r between the two runs"),
        Column("cc_binned", "float64", "", "same after k x k block means"),
        Column("rmse_g", "float64", "G", "root-mean-square difference"),
        Column("polarity_disagreement", "float64", "", "share of strong pixels of both runs with opposite signs"),
        Column("n_strong", "int64", "", "pixels strong in both runs"),
        Column("tumf_a_mx", "float64", "Mx", "TUMF of run a"),
        Column("tumf_b_mx", "float64", "Mx", "TUMF of run b"),
        Column("nmf_a_mx", "float64", "Mx", "NMF of run a"),
        Column("nmf_b_mx", "float64", "Mx", "NMF of run b"),
        Column("nmf_sign_agree", "bool", "", "NMF signs of the two runs equal"),
        Column("n_regions_a", "int64", "", "regions detected on run a"),
        Column("n_regions_b", "int64", "", "regions detected on run b"),
        Column("n_regions_matched", "int64", "", "regions matched between the runs"),
        Column("recall_a_in_b", "float64", "", "matched / n_regions_a"),
        Column("recall_b_in_a", "float64", "", "matched / n_regions_b"),
        Column("region_jaccard", "float64", "", "matched / (n_a + n_b - matched)"),
    ),
    "one row per frame and pair of predictions (euv2mag.audit.variability)",
)
