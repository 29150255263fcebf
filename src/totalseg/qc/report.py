"""The QC result types: one :class:`Check` per check, one :class:`QcReport` per case."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

Status = Literal["ok", "warn", "fail"]
_RANK = {"ok": 0, "warn": 1, "fail": 2}
CHECK_NAMES = ("laterality", "vertebra_order", "field_of_view", "fragmentation", "volumes", "intensities",
               "expected_structures", "input")


def worst(statuses: list[Status] | tuple[Status, ...]) -> Status:
    """The most severe status (``ok`` for none).

    Examples:
        >>> worst(["ok", "warn", "ok"])
        'warn'
    """
    return max(statuses, key=_RANK.__getitem__, default="ok")


@dataclass(frozen=True)
class Check:
    """One check's verdict: a status, one plain sentence, and the numbers behind it (JSON types)."""

    name: str
    status: Status
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "status": self.status, "message": self.message, "evidence": self.evidence}


@dataclass(frozen=True)
class QcReport:
    """All checks of one case; ``status`` is the worst of them.

    Examples:
        >>> r = QcReport((Check("input", "ok", "The image looks fine."), Check("volumes", "warn", "Big.")))
        >>> r.status, r.check("volumes").status
        ('warn', 'warn')
    """

    checks: tuple[Check, ...]

    @property
    def status(self) -> Status:
        return worst([c.status for c in self.checks])

    def check(self, name: str) -> Check:
        """The check called ``name`` (KeyError if it did not run)."""
        for c in self.checks:
            if c.name == name:
                return c
        raise KeyError(name)

    @property
    def not_measurable(self) -> list[str]:
        """Structures cut off by the field of view: their whole-organ numbers are not measurable."""
        try:
            return list(self.check("field_of_view").evidence.get("cut_off", {}))
        except KeyError:
            return []

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "checks": [c.to_dict() for c in self.checks]}


def write_qc(report: QcReport, path: str | os.PathLike) -> Path:
    """Write ``qc.json`` atomically.

    Examples:
        >>> import json, tempfile
        >>> p = write_qc(QcReport((Check("input", "ok", "Fine."),)), Path(tempfile.mkdtemp()) / "qc.json")
        >>> json.loads(p.read_text())["status"]
        'ok'
    """
    from totalseg.measure.files import write_json

    return write_json(report.to_dict(), path, indent=2)
