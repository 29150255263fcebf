"""Write a column table as CSV or Parquet (chosen by the file extension), atomically; render Markdown."""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from totalseg.errors import InputError
from totalseg.io.atomic import atomic_path

TABLE_SUFFIXES = (".csv", ".parquet")


def table_format(path: str | os.PathLike) -> str:
    """``"csv"`` or ``"parquet"`` from the extension.

    Raises:
        InputError: any other extension.

    Examples:
        >>> table_format("manifest.parquet")
        'parquet'
    """
    suffix = Path(path).suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise InputError(f"{path}: unsupported table extension {suffix or '(none)'!r}; name it .csv or .parquet")
    return suffix[1:]


def write_table(columns: Mapping[str, Sequence], path: str | os.PathLike) -> Path:
    """Write ``{column: values}`` to ``path`` (``.csv`` or ``.parquet``) through a temporary file.

    CSV: comma-separated, UTF-8, NaN as an empty cell. Parquet needs pyarrow
    (``pip install 'totalseg[dataset]'``); integer columns keep their numpy dtype.

    Examples:
        >>> import tempfile
        >>> out = write_table({"a": [1, 2], "b": ["x", "y"]}, Path(tempfile.mkdtemp()) / "t.csv")
        >>> out.read_text()
        'a,b\\n1,x\\n2,y\\n'
    """
    path = Path(path)
    fmt = table_format(path)
    with atomic_path(path) as tmp:
        if fmt == "csv":
            _write_csv(columns, tmp)
        else:
            _write_parquet(columns, tmp)
    return path


def read_table(path: str | os.PathLike) -> dict[str, list]:
    """Read a table written by :func:`write_table` back as ``{column: values}`` (CSV cells as strings)."""
    path = Path(path)
    fmt = table_format(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file; build it with 'totalseg dataset manifest'")
    if fmt == "parquet":
        return _pyarrow_parquet().read_table(path).to_pydict()
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if header is None:
            raise InputError(f"{path}: empty file; build it again")
        rows = list(reader)
    return {name: [row[i] for row in rows] for i, name in enumerate(header)}


def markdown_table(columns: Mapping[str, Sequence]) -> str:
    """A GitHub Markdown table of the columns (NaN shown as ``-``).

    Examples:
        >>> print(markdown_table({"name": ["liver"], "cases": [3]}))
        | name | cases |
        |---|---|
        | liver | 3 |
    """
    names = list(columns)
    lines = ["| " + " | ".join(names) + " |", "|" + "---|" * len(names)]
    for row in zip(*columns.values()):
        lines.append("| " + " | ".join(_cell(v) or "-" for v in row) + " |")
    return "\n".join(lines)


def _cell(value) -> str:
    if isinstance(value, float) and math.isnan(value):
        return ""
    return str(value)


def _write_csv(columns: Mapping[str, Sequence], path: Path) -> None:
    with open(path, "x", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(columns)
        for row in zip(*columns.values()):
            writer.writerow([_cell(v) for v in row])


def _write_parquet(columns: Mapping[str, Sequence], path: Path) -> None:
    import numpy as np

    pq = _pyarrow_parquet()
    import pyarrow as pa

    arrays = {k: pa.array(v) if isinstance(v, np.ndarray) else pa.array(list(v)) for k, v in columns.items()}
    pq.write_table(pa.table(arrays), path)


def _pyarrow_parquet():
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise InputError("Parquet tables need pyarrow: pip install 'totalseg[dataset]' (or write .csv)") from None
    return pq
