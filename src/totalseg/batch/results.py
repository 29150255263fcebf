"""The results table of a batch: one row per case, written as ``results.parquet`` and ``results.csv``.

Columns: ``case``, ``input``, ``status`` (``ok``/``error``), ``error``, seconds per stage
(``read_s``, ``load_s``, ``wait_s``, ``predict_s``, ``write_s``, ``total_s``), ``worker``,
``finished_at`` (UTC), ``phase``/``phase_probability``/``pi_time`` and
``modality``/``modality_probability`` when asked for (``--phase``, ``--modality``), the clinical
reports' headline numbers as ``<report>_<number>`` and ``<report>_error`` (``--reports``), ``qc_status``
and ``qc_<check>`` (``--qc``), then, when the
cases have a ``statistics.json``, two columns per structure in class-map order:
``<structure>_volume_mm3`` and ``<structure>_intensity`` (mean HU for CT), and any further numeric
statistics as ``<structure>_<key>``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from totalseg.batch.runner import TIMINGS, CaseResult
from totalseg.io.atomic import atomic_path

TIMING_COLUMNS = tuple(f"{s}_s" for s in TIMINGS)
BASE_COLUMNS = ("case", "input", "status", "error", *TIMING_COLUMNS, "worker", "finished_at")
_RENAMED = {"volume": "volume_mm3"}


def result_row(result: CaseResult) -> dict[str, Any]:
    """One table row: the base columns, then the per-structure statistics.

    Examples:
        >>> r = CaseResult("p1", "p1.nii.gz", "ok", statistics={"liver": {"volume": 1.5e6, "intensity": 61.2}})
        >>> row = result_row(r)
        >>> row["liver_volume_mm3"], row["liver_intensity"], row["status"]
        (1500000.0, 61.2, 'ok')
    """
    row: dict[str, Any] = {"case": result.case, "input": result.input, "status": result.status,
                           "error": result.error or None}
    for stage in TIMINGS:
        row[f"{stage}_s"] = result.timings_s.get(stage)
    row["worker"] = result.worker or None
    row["finished_at"] = datetime.fromtimestamp(result.finished_at, timezone.utc) if result.finished_at else None
    row.update(measure_columns(result.measures or {}))
    row.update(report_columns(result.reports or {}))
    row.update(qc_columns(result.qc or {}))
    row.update(statistics_columns(result.statistics or {}))
    return row


def measure_columns(measures: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """``phase``, ``phase_probability``, ``pi_time`` and ``modality``, ``modality_probability``
    from the per-case measures a batch was asked for.

    Examples:
        >>> measure_columns({"phase": {"phase": "native", "probability": 1.0, "pi_time": 2.1},
        ...                  "modality": {"modality": "ct", "probability": 0.8}})
        {'phase': 'native', 'phase_probability': 1.0, 'pi_time': 2.1, 'modality': 'ct', 'modality_probability': 0.8}
    """
    columns: dict[str, Any] = {}
    if "phase" in measures:
        phase = measures["phase"]
        columns.update(phase=phase["phase"], phase_probability=phase["probability"], pi_time=phase["pi_time"])
    if "modality" in measures:
        columns.update(modality=measures["modality"]["modality"],
                       modality_probability=measures["modality"]["probability"])
    return columns


def report_columns(reports: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Each report's headline numbers as ``<report>_<number>`` columns, and ``<report>_error`` (why it
    was not made, else None).

    Examples:
        >>> report_columns({"pulmonary": {"mpa_diameter_mm": 27.0, "error": None}})
        {'pulmonary_mpa_diameter_mm': 27.0, 'pulmonary_error': None}
    """
    return {f"{name}_{key}": value for name, numbers in reports.items() for key, value in numbers.items()}


def qc_columns(qc: Mapping[str, Any]) -> dict[str, Any]:
    """``qc.json`` as ``qc_status`` and one ``qc_<check>`` column (ok / warn / fail) per check.

    Examples:
        >>> qc_columns({"status": "warn", "checks": [{"name": "laterality", "status": "ok"},
        ...                                          {"name": "volumes", "status": "warn"}]})
        {'qc_status': 'warn', 'qc_laterality': 'ok', 'qc_volumes': 'warn'}
    """
    if not qc:
        return {}
    return {"qc_status": qc["status"], **{f"qc_{c['name']}": c["status"] for c in qc["checks"]}}


def statistics_columns(stats: Mapping[str, Mapping[str, Any]]) -> dict[str, float]:
    """``statistics.json`` content ({structure: {"volume": mm3, "intensity": HU, ...}}) as flat columns;
    list-valued entries (centroids, bounding boxes) are left out."""
    columns: dict[str, float] = {}
    for structure, values in stats.items():
        for key, value in values.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                columns[f"{structure}_{_RENAMED.get(key, key)}"] = float(value)
    return columns


def write_results(rows: Iterable[Mapping[str, Any]], folder: str | os.PathLike) -> tuple[Path, Path]:
    """Write ``results.parquet`` and ``results.csv`` into ``folder`` atomically; return both paths."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    rows = list(rows)
    names = list(BASE_COLUMNS) + list(dict.fromkeys(k for row in rows for k in row if k not in BASE_COLUMNS))
    types = {"finished_at": pa.timestamp("ms", tz="UTC")}
    for name in ("case", "input", "status", "error", "worker", "phase", "modality"):
        types[name] = pa.string()
    for name in names:
        if name.endswith("_error") or name.startswith("qc_"):  # a report's reason, a check's ok/warn/fail
            types[name] = pa.string()
    table = pa.table({n: pa.array([row.get(n) for row in rows], type=types.get(n, pa.float64())) for n in names})
    folder = Path(folder)
    parquet, csv = folder / "results.parquet", folder / "results.csv"
    with atomic_path(parquet) as tmp:
        pq.write_table(table, tmp)
    with atomic_path(csv) as tmp:
        pacsv.write_csv(table, tmp)
    return parquet, csv
