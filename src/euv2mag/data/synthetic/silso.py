"""Observed monthly mean total sunspot number (V2.0), January 2008 - September 2022.

Source: WDC-SILSO, Royal Observatory of Belgium, Brussels (https://www.sidc.be/silso), series
"SN_m_tot_V2.0" (monthly mean total sunspot number, version 2.0), licence CC BY-NC 4.0.  The
values below are copied unchanged from that series (column 4) and are shipped with this credit;
anything derived from them (the synthetic Sun's activity envelope,
:func:`euv2mag.data.synthetic.cycle.activity_amplitude`) carries it too.

Cycle 24 in these numbers: minimum December 2008, a first peak in late 2011 (November 2011:
139.1), a second, higher peak in early 2014 (February 2014: 146.1), minimum December 2019.

Units: sunspot number (dimensionless, V2.0 scale); times as decimal years of the months' middles
(SILSO's own column 3 convention, recomputed here as ``year + (month - 0.5) / 12``).
"""
from __future__ import annotations

import numpy as np

__all__ = ["SILSO_CREDIT", "SILSO_FIRST_MONTH", "SILSO_MONTHLY_SSN", "silso_month_years"]

#: Credit line required by the licence (CC BY-NC 4.0) wherever these numbers are used or shipped.
SILSO_CREDIT = "Source: WDC-SILSO, Royal Observatory of Belgium, Brussels (monthly mean total sunspot number V2.0, CC BY-NC 4.0)"
#: (year, month) of the first value of :data:`SILSO_MONTHLY_SSN`.
SILSO_FIRST_MONTH = (2008, 1)
#: Monthly mean total sunspot number V2.0, one value per month from :data:`SILSO_FIRST_MONTH` on.
SILSO_MONTHLY_SSN = (
    # 2008
    4.1, 2.9, 15.5, 3.6, 4.6, 5.2, 0.6, 0.3, 1.2, 4.2, 6.6, 1.0,
    # 2009
    1.3, 1.2, 0.6, 1.2, 2.9, 6.3, 5.5, 0.0, 7.1, 7.7, 6.9, 16.3,
    # 2010
    19.5, 28.5, 24.0, 10.4, 13.9, 18.8, 25.2, 29.6, 36.4, 33.6, 34.4, 24.5,
    # 2011
    27.3, 48.3, 78.6, 76.1, 58.2, 56.1, 64.5, 65.8, 120.1, 125.7, 139.1, 109.3,
    # 2012
    94.4, 47.8, 86.6, 85.9, 96.5, 92.0, 100.1, 94.8, 93.7, 76.5, 87.6, 56.8,
    # 2013
    96.1, 60.9, 78.3, 107.3, 120.2, 76.7, 86.2, 91.8, 54.5, 114.4, 113.9, 124.2,
    # 2014
    117.0, 146.1, 128.7, 112.5, 112.5, 102.9, 100.2, 106.9, 130.0, 90.0, 103.6, 112.9,
    # 2015
    93.0, 66.7, 54.5, 75.3, 88.8, 66.5, 65.8, 64.4, 78.6, 63.6, 62.2, 58.0,
    # 2016
    57.0, 56.4, 54.1, 37.9, 51.5, 20.5, 32.4, 50.2, 44.6, 33.4, 21.4, 18.5,
    # 2017
    26.1, 26.4, 17.7, 32.3, 18.9, 19.2, 17.8, 32.6, 43.7, 13.2, 5.7, 8.2,
    # 2018
    6.8, 10.7, 2.5, 8.9, 13.1, 15.6, 1.6, 8.7, 3.3, 4.9, 4.9, 3.1,
    # 2019
    7.7, 0.8, 9.4, 9.1, 9.9, 1.2, 0.9, 0.5, 1.1, 0.4, 0.5, 1.5,
    # 2020
    6.2, 0.2, 1.5, 5.2, 0.2, 5.8, 6.1, 7.5, 0.6, 14.6, 34.5, 23.1,
    # 2021
    10.4, 8.2, 17.2, 24.5, 21.2, 25.0, 34.3, 22.0, 51.3, 37.4, 34.8, 67.5,
    # 2022
    55.3, 60.9, 78.6, 84.1, 96.5, 70.5, 91.4, 75.4, 96.3,
)


def silso_month_years() -> np.ndarray:
    """Decimal years of the middles of the months of :data:`SILSO_MONTHLY_SSN` (``year + (month - 0.5)/12``)."""
    k = np.arange(len(SILSO_MONTHLY_SSN))
    return SILSO_FIRST_MONTH[0] + (SILSO_FIRST_MONTH[1] - 1 + k + 0.5) / 12.0
