"""One definition of every CSV result file: its columns, their types and units.

A :class:`TableFile` names a file (``fulldisk.csv``, ``saturation.csv`` ...) and lists its
:class:`Column` entries (name, dtype, unit, meaning).  The command or library function that
writes the file builds its DataFrame with :meth:`TableFile.frame` and writes it with
:meth:`TableFile.write`; every reader (the report, the tests, a user's script) reads it back
with :meth:`TableFile.read`, which checks that the columns are there and gives them their
types.  A renamed or missing column is then an error at the reader, not a silently empty
figure.  The definitions themselves live next to the science that fills them (e.g.
:data:`euv2mag.audit.files.FULLDISK` for the audit, :data:`euv2mag.audit.saturation.SATURATION_CSV`).

Dtypes are pandas dtype names: ``"int64"``, ``"float64"``, ``"bool"``, ``"str"`` (object of
strings), and the nullable ``"Int64"`` / ``"boolean"`` for columns that may be empty in some
rows (e.g. the generated label of a missed region).  Units are written as in the rest of the
package (``"G"``, ``"Mx"``, ``"deg"``, ``"MSH"``, ``"Mm"``, ``"d"``); ``""`` means dimensionless
or not a quantity.
"""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from .errors import UserError

__all__ = ["Column", "TableFile", "JsonFile"]

_DTYPES = ("int64", "float64", "bool", "str", "Int64", "boolean")


@dataclasses.dataclass(frozen=True)
class Column:
    """One column of a result table.

    Parameters
    ----------
    name : str
        Column name in the CSV header.
    dtype : str
        pandas dtype name, one of ``int64``, ``float64``, ``bool``, ``str``, ``Int64``,
        ``boolean`` (the last two allow empty cells).
    unit : str
        Physical unit of the values (``""``: dimensionless or not a quantity).
    doc : str
        What the column holds.
    """

    name: str
    dtype: str = "float64"
    unit: str = ""
    doc: str = ""

    def __post_init__(self):
        if self.dtype not in _DTYPES:
            raise ValueError(f"column {self.name!r}: dtype {self.dtype!r} is not one of {_DTYPES}")


@dataclasses.dataclass(frozen=True)
class TableFile:
    """A CSV result file: name, columns in order, and how floats are written.

    Parameters
    ----------
    filename : str
        File name inside the result folder, e.g. ``"fulldisk.csv"``.
    columns : tuple of Column
        The columns, in file order.
    doc : str
        One sentence: what one row is.
    float_format : str, optional
        ``DataFrame.to_csv`` float format (None: full precision, values round-trip exactly).
    extra_columns : bool
        Whether writers may add columns after the defined ones (e.g. a leakage table's optional
        region counts); readers never need them.

    Examples
    --------
    >>> from euv2mag.tables import Column, TableFile
    >>> spec = TableFile("demo.csv", (Column("frame", "int64"), Column("tumf_mx", "float64", "Mx")), "one row per frame")
    >>> df = spec.frame([{"frame": 0, "tumf_mx": 1.5e22}])
    >>> list(df.columns), str(df["frame"].dtype)
    (['frame', 'tumf_mx'], 'int64')
    """

    filename: str
    columns: tuple[Column, ...]
    doc: str = ""
    float_format: str | None = None
    extra_columns: bool = False

    def __post_init__(self):
        names = [c.name for c in self.columns]
        if len(set(names)) != len(names):
            raise ValueError(f"{self.filename}: duplicate column names")

    @property
    def names(self) -> tuple[str, ...]:
        """Column names in file order."""
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        """The :class:`Column` called ``name``."""
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.filename} has no column {name!r}")

    def units(self) -> dict[str, str]:
        """Column name -> unit."""
        return {c.name: c.unit for c in self.columns}

    # ------------------------------------------------------------------ building
    def frame(self, rows: Iterable[Mapping] | None = None):
        """A DataFrame with exactly the defined columns (in order, typed) from row dicts.

        Keys of the rows that are not columns are dropped (unless ``extra_columns``, where they
        are kept after the defined ones); missing keys become empty cells.
        """
        import pandas as pd

        rows = list(rows or [])
        df = pd.DataFrame(rows)
        extra = [c for c in df.columns if c not in self.names] if self.extra_columns else []
        df = df.reindex(columns=[*self.names, *extra])
        return self._typed(df, source=None)

    def _typed(self, df, source):
        import numpy as np
        import pandas as pd

        out = {}
        for c in self.columns:
            values = df[c.name]
            try:
                if c.dtype == "str":
                    out[c.name] = values.astype(object).where(values.notna(), None)
                elif c.dtype == "bool":
                    if values.isna().any():
                        raise ValueError("empty cells in a bool column")
                    out[c.name] = values.map(_as_bool).astype(bool)
                elif c.dtype == "boolean":
                    out[c.name] = values.map(lambda v: pd.NA if _is_na(v) else _as_bool(v)).astype("boolean")
                elif c.dtype == "int64":
                    if values.isna().any():
                        raise ValueError("empty cells in an integer column")
                    out[c.name] = values.astype(np.int64)
                elif c.dtype == "Int64":
                    out[c.name] = pd.to_numeric(values, errors="raise").astype("Int64")
                else:
                    out[c.name] = pd.to_numeric(values, errors="raise").astype(np.float64)
            except (ValueError, TypeError) as exc:
                where = f"{source}: " if source else f"{self.filename}: "
                raise UserError(f"{where}column {c.name!r} does not hold {c.dtype} values ({exc})") from None
        typed = pd.DataFrame(out, index=df.index)
        for c in df.columns:
            if c not in typed.columns:
                typed[c] = df[c]
        return typed.reset_index(drop=True)

    # ------------------------------------------------------------------ file I/O
    def path(self, folder: str | os.PathLike) -> Path:
        """``folder / filename``."""
        return Path(folder) / self.filename

    def write(self, df, folder: str | os.PathLike) -> Path:
        """Write ``df`` (exactly the defined columns, in order) atomically to ``folder/filename``.

        Raises
        ------
        ValueError
            If ``df`` lacks a defined column or has an undefined one (a programming error: the
            writer must build its table with :meth:`frame`).
        """
        from ._io import atomic_path

        missing = [n for n in self.names if n not in df.columns]
        undefined = [n for n in df.columns if n not in self.names]
        if missing or (undefined and not self.extra_columns):
            raise ValueError(f"{self.filename}: table does not follow its definition "
                             f"(missing {missing}, undefined {undefined})")
        ordered = df[[*self.names, *undefined]] if self.extra_columns else df[list(self.names)]
        target = self.path(folder)
        with atomic_path(target) as tmp:
            ordered.to_csv(tmp, index=False, float_format=self.float_format)
        return target

    def read(self, path: str | os.PathLike):
        """Read the file at ``path`` (a file, or a folder holding ``filename``), typed.

        Raises
        ------
        UserError
            If the file is missing, unreadable, or lacks a defined column (one line naming the
            file and the columns).
        """
        import pandas as pd

        path = Path(path)
        if path.is_dir():
            path = self.path(path)
        if not path.is_file():
            raise UserError(f"no {self.filename} here", path=path)
        try:
            df = pd.read_csv(path, keep_default_na=True)
        except pd.errors.EmptyDataError:
            raise UserError(f"{self.filename} is empty (not even a header)", path=path) from None
        except (OSError, ValueError, pd.errors.ParserError) as exc:
            raise UserError(f"cannot read {self.filename}: {exc}", path=path) from None
        missing = [n for n in self.names if n not in df.columns]
        if missing:
            raise UserError(f"{self.filename} lacks column(s) {', '.join(missing)} "
                            "(written by another version of euv2mag?)", path=path)
        return self._typed(df, source=path)

    def describe(self) -> str:
        """A Markdown table of the columns (name, dtype, unit, meaning), for documentation."""
        lines = [f"``{self.filename}``: {self.doc}", "", "| column | dtype | unit | meaning |", "|---|---|---|---|"]
        lines += [f"| `{c.name}` | {c.dtype} | {c.unit} | {c.doc} |" for c in self.columns]
        return "\n".join(lines)


def _is_na(value) -> bool:
    import pandas as pd

    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _as_bool(value) -> bool:
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("true", "1", "yes"):
            return True
        if text in ("false", "0", "no"):
            return False
        raise ValueError(f"not a boolean: {value!r}")
    return bool(value)


def columns(spec: Sequence[tuple]) -> tuple[Column, ...]:
    """Columns from ``(name, dtype, unit, doc)`` tuples (a compact way to write a definition)."""
    return tuple(Column(*item) for item in spec)


__all__.append("columns")


class JsonFile:
    """Mixin: the one writer and reader of a JSON result file (``FILENAME``) of a typed summary.

    The class defines ``FILENAME``, ``to_dict()`` and ``from_dict(obj, *, path=None)`` (which
    checks the keys and raises a one-line :class:`~euv2mag.errors.UserError` naming ``path``).
    A dataclass whose JSON layout is just its fields needs neither: the defaults below write
    and read the fields, and name ``DESCRIPTION`` when a key is missing.
    """

    FILENAME: str = ""
    #: What the file holds, for the default reader's error ("not a far-side study summary").
    DESCRIPTION: str = "an euv2mag result file"

    def to_dict(self) -> dict:
        """The fields of a dataclass summary (classes with another layout override this)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, obj, *, path=None):
        """A dataclass summary from its fields; a missing or unexpected key is a one-line error."""
        try:
            return cls(**{f.name: obj[f.name] for f in dataclasses.fields(cls)})
        except (KeyError, TypeError) as exc:
            raise UserError(f"not {cls.DESCRIPTION} ({exc})", path=path) from None

    def write(self, folder) -> Path:
        """Write ``folder/FILENAME`` atomically (NaN as ``null``) and return its path."""
        from ._io import atomic_write_json

        return atomic_write_json(Path(folder) / self.FILENAME, self.to_dict())

    @classmethod
    def read(cls, path):
        """Read ``FILENAME`` (the file, or the folder holding it).

        Raises
        ------
        UserError
            If the file is missing, not JSON, or lacks a key (one line naming the file).
        """
        from ._io import read_json_file

        obj, path = read_json_file(path, cls.FILENAME)
        return cls.from_dict(obj, path=path)
