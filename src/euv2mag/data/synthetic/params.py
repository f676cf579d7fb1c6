"""Parameters of the synthetic Sun: :class:`SynthParams` and the generator version.

Every frame of a synthetic series is a pure function of a :class:`SynthParams` and the frame
time, so a store records ``SynthParams.to_dict()`` in its ``params`` attribute and a resumed run
with the same parameters gives bit-identical frames.

Units of the parameters (as their names say): fluxes in Mx, fields in G, lengths in Mm, times
in days, diffusion in km^2/s; times of the series are ISO 8601 strings in UTC.
"""
from __future__ import annotations

import dataclasses
import math

from ...errors import UserError
from .timegrid import _parse_time, parse_cadence

__all__ = ["SynthParams", "GENERATOR_VERSION"]

#: Version of the generator's physics, stored with the parameters; a store made by another
#: version is not resumed.  Bump it only when the frames change.
GENERATOR_VERSION = 3


@dataclasses.dataclass(frozen=True)
class SynthParams:
    """Parameters of the synthetic Sun (all stored in the store's ``params`` attribute).

    Attributes
    ----------
    start, end : str
        First and last frame time (ISO 8601, UTC); frames every ``cadence`` from ``start``.
    cadence : str
        Frame spacing, e.g. "12h", "1d", "30min".
    size : int
        Image side N in pixels (power of two).
    seed : int
        Random seed.
    polarity_leak : float
        Amount of sign information mixed into the EUV image (0 = none).
    anti_hale_fraction : float
        Fraction of active regions with anti-Hale leading polarity.
    activity : str
        Activity envelope of the emergence rate: "observed" (the WDC-SILSO monthly sunspot
        number inside 2008-01 .. 2022-09, the analytic cycles outside, continuous at the joins)
        or "analytic" (the analytic cycles everywhere); see
        :func:`euv2mag.data.synthetic.cycle.activity_amplitude`.
    rate_scale : float
        Multiplier of the emergence rate (5 x SSN regions per year over the whole Sun).
    log_flux_mean : float
        Mean of log10 of the regions' maximum total unsigned flux (Mx).
    spot_fraction : float
        Share of a polarity's flux in its leading sunspot at maximum development (the trailing
        spot holds 0.6 of that; 0.45: issue 13 calibration).
    decay_days : float
        e-folding time (days) of the compact (spot + plage) flux of a 1e22 Mx region after
        maximum; scales as ``(Phi_max / 1e22 Mx)^0.5`` (small regions die in days, the largest
        last several rotations), clipped to 3-60 days.
    dispersed_decay_days : float
        e-folding time (days) of the decayed, dispersed flux (cancellation with the network).
    plage_field_g : float
        Mean surface-averaged field (G) of a polarity's compact plage disc.
    network_flux_mx : float
        Median flux (Mx) of one quiet-Sun network junction element.
    network_junctions : int
        Network junctions over the whole Sun per daily epoch.
    network_element_mm : float
        Gaussian width (Mm) of a network junction's flux cluster.
    element_mm : float
        Gaussian width (Mm) of compact plage elements before pixel sampling.
    plage_diffusion_km2_s : float
        Surface diffusion coefficient that spreads a region's decayed flux (km^2/s).
    noise_g : float
        HMI-like noise (G) at 4096^2; scaled by N/4096 (block averaging).
    rotation_model : str
        sunpy differential-rotation model.

    Raises
    ------
    euv2mag.errors.UserError
        On construction, for a value out of range (naming the ``euv2mag synth`` option), a bad
        cadence or time string, or ``end`` before ``start``.
    """

    start: str
    end: str
    cadence: str = "12h"
    size: int = 256
    seed: int = 0
    polarity_leak: float = 0.0
    anti_hale_fraction: float = 0.04
    activity: str = "observed"
    rate_scale: float = 1.0
    log_flux_mean: float = 21.65
    spot_fraction: float = 0.45
    decay_days: float = 14.0
    dispersed_decay_days: float = 10.0
    plage_field_g: float = 150.0
    network_flux_mx: float = 1.45e19
    network_junctions: int = 15000
    network_element_mm: float = 2.5
    element_mm: float = 1.0
    plage_diffusion_km2_s: float = 250.0
    noise_g: float = 6.0
    rotation_model: str = "howard"

    def __post_init__(self):
        if not isinstance(self.size, int) or self.size < 32 or self.size & (self.size - 1):
            raise UserError(f"--size must be a power of two >= 32, got {self.size}")
        if not math.isfinite(self.polarity_leak) or self.polarity_leak < 0:
            raise UserError(f"--polarity-leak must be a number >= 0, got {self.polarity_leak}")
        if not 0.0 <= self.anti_hale_fraction <= 1.0:
            raise UserError(f"--anti-hale-fraction must lie in [0, 1], got {self.anti_hale_fraction}")
        from .cycle import ACTIVITY_MODELS

        if self.activity not in ACTIVITY_MODELS:
            raise UserError(f"--activity must be one of {', '.join(ACTIVITY_MODELS)}, got {self.activity!r}")
        if not (self.rate_scale >= 0 and math.isfinite(self.rate_scale)):
            raise UserError(f"--rate-scale must be a number >= 0, got {self.rate_scale}")
        if self.noise_g < 0 or not math.isfinite(self.noise_g):
            raise UserError(f"--noise must be a number >= 0, got {self.noise_g}")
        if self.rotation_model not in ("howard", "snodgrass", "allen", "rigid"):
            raise UserError(f"unknown rotation model {self.rotation_model!r}")
        parse_cadence(self.cadence)
        s, e = _parse_time(self.start, "--start"), _parse_time(self.end, "--end")
        if e < s:
            raise UserError(f"--end {self.end} is before --start {self.start}")

    def to_dict(self) -> dict:
        """The parameters as stored in a store's ``params`` attribute (with generator name and version)."""
        return {"generator": "euv2mag.synthetic", "generator_version": GENERATOR_VERSION, **dataclasses.asdict(self)}

    @property
    def network_params(self) -> tuple:
        """``(seed, network_junctions, network_flux_mx)``: the parameters the quiet-Sun network depends on."""
        return (self.seed, self.network_junctions, self.network_flux_mx)
