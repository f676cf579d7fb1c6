"""SHARP-like CEA patch parameters (:func:`euv2mag.audit.patch.measure_patch`) on an analytic patch."""
from __future__ import annotations

import math

import numpy as np
import pytest

from euv2mag.audit.patch import measure_patch
from euv2mag.errors import UserError


def test_measure_patch_whole_and_masked():
    pix = math.radians(0.03) * 696.0
    b = np.zeros((200, 300))
    b[50:150, 100:150] = 500.0
    b[50:150, 150:200] = -500.0
    whole = measure_patch(b, 0.03, rsun_ref_m=6.96e8, dsun_obs_m=1.5e11)
    assert whole["tumf_mx"] == pytest.approx(500 * 10000 * pix**2 * 1e16)
    assert whole["nmf_mx"] == pytest.approx(0.0, abs=1e10)
    assert whole["area_mm2"] == pytest.approx(b.size * pix**2)
    assert whole["pil_count"] == 1
    # a 100 px (3 deg) line: 25-28 pixels on the 4x coarser PIL grid (dilation adds one at each end)
    assert 24 * 4 * pix <= whole["pil_length_mm"] <= 28 * 4 * pix
    mask = np.zeros(b.shape, bool)
    mask[:, :150] = True
    half = measure_patch(b, 0.03, rsun_ref_m=6.96e8, dsun_obs_m=1.5e11, mask=mask)
    assert half["nmf_mx"] == pytest.approx(whole["tumf_mx"] / 2)
    assert half["r_value"] == whole["r_value"]  # R uses the whole patch, as SHARP
    with pytest.raises(UserError, match="bitmap shape"):
        measure_patch(b, 0.03, mask=mask[1:])
