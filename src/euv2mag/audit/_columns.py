"""An audit table's columns as NumPy arrays, converted once and indexed by row positions.

The bootstrap (:func:`euv2mag.audit.summary.bootstrap_intervals`) recomputes the summary numbers
on 1000 replicates, each a selection of the rows of the same four tables.  Selecting rows of a
pandas DataFrame and converting its columns to float again in every replicate cost most of an
audit's time; here every column is converted once (by the same element-wise conversion the
summary functions use) and a replicate only indexes the arrays with its row positions.  Because
every conversion is element-wise, ``table.floats(c)[rows]`` holds exactly the values that
converting ``df.iloc[rows][c]`` would give, so the numbers are bit-identical to those of a
DataFrame selection; :func:`euv2mag.audit.summary.summarize_tables` goes through the same path
with all rows.
"""
from __future__ import annotations

import numpy as np


def float_values(values) -> np.ndarray:
    """``values`` as float64 the way :func:`euv2mag.audit.summary._mean` reads them (None, NA -> NaN)."""
    try:
        return np.asarray(values if isinstance(values, np.ndarray) else list(values), dtype=float)
    except (TypeError, ValueError):
        import pandas as pd

        return pd.to_numeric(pd.Series(list(values), dtype=object), errors="coerce").to_numpy(dtype=float)


class TableColumns:
    """Columns of one table (pandas.DataFrame or None) as arrays, each converted on first use.

    Parameters
    ----------
    table : pandas.DataFrame or None
        An audit table (``fulldisk``, ``regions``, ``matches`` or ``variability``).
    """

    def __init__(self, table):
        self.table = table
        self.n = 0 if table is None else len(table)
        self.columns = () if table is None else tuple(table.columns)
        self._memo: dict = {}

    def __contains__(self, name) -> bool:
        return name in self.columns

    def _get(self, key, make):
        value = self._memo.get(key)
        if value is None:
            value = self._memo[key] = make()
        return value

    def floats(self, name: str) -> np.ndarray:
        """``column.astype("float64")`` as an array (:func:`euv2mag.audit.hale._floats`)."""
        return self._get(("astype", name), lambda: np.asarray(self.table[name].astype("float64"), dtype=np.float64))

    def asarray(self, name: str) -> np.ndarray:
        """``np.asarray(column, dtype=float64)`` (:func:`euv2mag.audit.fulldisk.series_metrics`)."""
        return self._get(("asarray", name), lambda: np.asarray(self.table[name], dtype=np.float64))

    def mean_values(self, name: str) -> np.ndarray:
        """The column as :func:`float_values` reads it (:func:`euv2mag.audit.summary._mean`)."""
        return self._get(("mean", name), lambda: float_values(self.table[name]))

    def astype_float(self, name: str) -> np.ndarray:
        """``column.astype(float)`` as an array (bool columns: 0.0 / 1.0)."""
        return self._get(("float", name), lambda: np.asarray(self.table[name].astype(float)))

    def equals(self, name: str, value) -> np.ndarray:
        """Boolean mask ``column == value``."""
        return self._get(("eq", name, value), lambda: (self.table[name] == value).to_numpy(dtype=bool))

    def isin(self, name: str, values: tuple) -> np.ndarray:
        """Boolean mask ``column.isin(values)``."""
        return self._get(("isin", name, values), lambda: self.table[name].isin(list(values)).to_numpy(dtype=bool))

    def all_rows(self) -> np.ndarray:
        """Positions of every row."""
        return np.arange(self.n, dtype=np.int64)
