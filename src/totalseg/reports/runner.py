"""Several clinical reports of one CT in one call: ``totalseg segment/measure/batch --reports`` and the app.

The reports are data: :data:`REPORTS` maps a report name to a :class:`ReportSpec` (how to run it
from a CT and the masks at hand, its file names, its headline numbers). :func:`run_reports` runs the
named ones into ``out_dir/<name>/`` and returns name -> the report's JSON, or a one-line reason for a
report that could not be made (its error is recorded; the other reports still run).

Masks already made are reused where a report can use them (only what is missing is computed):

- ``seg_dir``: a folder of ``<class>.nii.gz`` masks (``totalseg segment`` output), ``<task>.nii.gz``
  multilabel files, the official report folders' intermediate files
  (``totalseg_vertebrae_pp_refined.nii.gz``, ``contrast_phase.json``; ``phase.json`` of
  ``totalseg batch --phase``);
- ``seg``: one multilabel file of the task ``seg_task`` (``totalseg segment --ml`` output).

Examples:
    >>> sorted(REPORTS)
    ['aorta', 'body_composition', 'pulmonary', 'spine']
    >>> headline("pulmonary", "not measurable, because no CT")
    {'mpa_diameter_mm': None, 'error': 'not measurable, because no CT'}
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from totalseg.errors import InputError, TotalsegError
from totalseg.settings import Settings

PATIENT_KEYS = ("height_m", "weight_kg", "sex", "nodeinfo")
PHASE_FILES = ("contrast_phase.json", "phase.json")  # the official reports' name, then `totalseg batch --phase`'s


@dataclass(frozen=True)
class ReportInputs:
    """What one report runs on: the CT, its own output folder, the masks at hand and the run options.

    Examples:
        >>> inputs = ReportInputs(Path("ct.nii.gz"), Path("out/spine"), seg=Path("v.nii.gz"),
        ...                       seg_task="vertebrae_pp_refined", patient={"height_m": 1.8})
        >>> inputs.multilabel("vertebrae_pp_refined"), inputs.multilabel("total"), inputs.option("sex")
        (PosixPath('v.nii.gz'), None, None)
    """

    ct: Path
    out_dir: Path
    seg_dir: Path | None = None
    seg: Path | None = None
    seg_task: str | None = None
    settings: Settings | None = None
    device: str = "cpu"
    download: bool = True
    quiet: bool = True
    patient: Mapping[str, Any] | None = None

    def option(self, key: str) -> Any:
        """A patient option (``height_m``, ``weight_kg``, ``sex``, ``nodeinfo``), None when not given."""
        return (self.patient or {}).get(key)

    def found(self, *names: str) -> Path | None:
        """The first of ``seg_dir/<name>`` that exists."""
        if self.seg_dir is None:
            return None
        return next((self.seg_dir / n for n in names if (self.seg_dir / n).is_file()), None)

    def multilabel(self, task: str) -> Path | None:
        """A multilabel file of ``task``: ``seg`` when it is that task's, else ``seg_dir/<task>.nii.gz``."""
        if self.seg is not None and self.seg_task == task:
            return self.seg
        return self.found(f"{task}.nii.gz")


@dataclass(frozen=True)
class ReportSpec:
    """One report: how to run it, the files it writes, its headline numbers (for tables)."""

    run: Callable[[ReportInputs], dict]
    json_name: str
    html_name: str
    headline: Callable[[dict], dict[str, Any]]
    columns: tuple[str, ...]
    title: str


def run_reports(ct: str | os.PathLike, out_dir: str | os.PathLike, names: Sequence[str], *,
                seg_dir: str | os.PathLike | None = None, seg: str | os.PathLike | None = None,
                seg_task: str | None = None, settings: Settings | None = None, device: str = "cpu",
                download: bool = True, quiet: bool = True, **patient: Any) -> dict[str, dict | str]:
    """Run the named reports of the CT ``ct`` into ``out_dir/<name>/``.

    Args:
        ct: the CT (any format ``totalseg segment`` reads).
        out_dir: the folder the reports' folders go into (created).
        names: report names of :data:`REPORTS` (``spine``, ``aorta``, ``pulmonary``, ``body_composition``).
        seg_dir: a folder of masks to reuse (see the module's notes).
        seg: a multilabel file to reuse, of the task ``seg_task`` (default ``total``).
        seg_task: the task of ``seg``.
        settings: weights location; read from the environment when omitted.
        device: where missing masks are segmented (``cpu``, ``gpu``, ``gpu:N``, ``mps``).
        download: fetch missing weights.
        quiet: no progress output.
        **patient: ``height_m``, ``weight_kg``, ``sex`` (body composition), ``nodeinfo`` (a JSON of
            DICOM fields for the spine, aorta and pulmonary metadata blocks).

    Returns:
        Report name -> its JSON (as written), or the one-line reason it could not be made.

    Raises:
        InputError: an unknown report name or patient option, or no CT at ``ct``.

    Examples:
        >>> run_reports("ct.nii.gz", "out", ["body_composition"], seg_dir="seg", height_m=1.8)  # doctest: +SKIP
        {'body_composition': {'report': 'body_composition', 'status': 'measured', ...}}
        >>> run_reports("ct.nii.gz", "out", ["liver"])
        Traceback (most recent call last):
        totalseg.errors.InputError: unknown report 'liver'; choose from spine, aorta, pulmonary, body_composition
    """
    check_names(names)
    unknown = sorted(set(patient) - set(PATIENT_KEYS))
    if unknown:
        raise InputError(f"unknown report option {', '.join(unknown)}; the reports take {', '.join(PATIENT_KEYS)}")
    ct = Path(ct)
    if not ct.exists():
        raise InputError(f"{ct}: no such CT file or folder; pass the CT the reports are made from")
    results: dict[str, dict | str] = {}
    for name in dict.fromkeys(names):
        inputs = ReportInputs(ct, Path(out_dir) / name, _path(seg_dir), _path(seg),
                              (seg_task or "total") if seg else None, settings, device, download, quiet, dict(patient))
        try:
            results[name] = REPORTS[name].run(inputs)
        except TotalsegError as exc:  # this report cannot be made; the others still can
            results[name] = " ".join(str(exc).split()) or type(exc).__name__
    return results


def check_segment_request(names: Sequence[str], *, output: str | os.PathLike | None, task: str | None = None,
                          save_lowres: bool = False) -> None:
    """Refuse, before a segmentation runs, reports it cannot be followed by (one line each).

    Examples:
        >>> check_segment_request(["spine"], output="seg", task="total_mr")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        totalseg.errors.InputError: --reports measure CTs, but task total_mr segments MR images; ...
    """
    from totalseg.models.tasks import catalog

    check_names(names)
    if output is None:
        raise InputError("--reports writes into the output folder (<output>/reports/<name>/); pass -o")
    if task is not None and catalog()["tasks"].get(task, {}).get("modality", "ct") != "ct":
        raise InputError(f"--reports measure CTs, but task {task} segments MR images; drop --reports or segment a "
                         "CT task")
    if save_lowres:
        raise InputError("--reports reuse masks on the image's grid, --save_lowres writes them on the model's; "
                         "drop one of them")


def reports_after_segment(ct: str | os.PathLike, output: str | os.PathLike, names: Sequence[str], *,
                          task: str | None = None, ml: bool = False, output_type: str | Sequence[str] = "nifti",
                          skip_saving: bool = False, **options: Any) -> tuple[Path, dict[str, dict | str]]:
    """The reports after ``totalseg segment`` wrote ``output``: into ``<output folder>/reports/<name>/``
    (the mask folder, or the multilabel file's folder), reusing the masks it wrote (the mask folder,
    or the multilabel file and what its folder holds).

    ``options`` go to :func:`run_reports`. Returns the reports' folder and :func:`run_reports`'s result.

    Examples:
        >>> reports_after_segment("ct.nii.gz", "seg", ["spine"], device="cpu")  # doctest: +SKIP
        (PosixPath('seg/reports'), {'spine': {'results': ..., 'metadata': ..., 'totalseg_additions': ...}})
    """
    from totalseg.io.outputs import normalize_output_types, plan_outputs

    plan = plan_outputs(output, normalize_output_types(output_type), ml=ml, task_name=task or "total")
    written = None if skip_saving or plan.nifti is None or not plan.nifti.exists() else plan.nifti
    seg = written if written is not None and written.is_file() else None
    seg_dir = written if written is not None and written.is_dir() else plan.folder if seg is not None else None
    folder = plan.folder / "reports"
    return folder, run_reports(ct, folder, names, seg_dir=seg_dir, seg=seg, seg_task=task or "total", **options)


def outcome_lines(folder: str | os.PathLike, results: Mapping[str, dict | str]) -> list[str]:
    """One line per report for the command line: where it was written, or why it was not made.

    Examples:
        >>> outcome_lines("seg/reports", {"spine": {}, "aorta": "no aorta mask"})
        ['Report spine: wrote seg/reports/spine', 'Report aorta: not made: no aorta mask']
    """
    return [f"Report {name}: " + (f"wrote {Path(folder) / name}" if isinstance(result, dict) else
                                  f"not made: {result}") for name, result in results.items()]


def check_names(names: Sequence[str]) -> None:
    """Refuse names that are not reports, in one line.

    Examples:
        >>> check_names(["spine", "aorta"]) is None
        True
    """
    for name in names:
        if name not in REPORTS:
            raise InputError(f"unknown report {name!r}; choose from {', '.join(REPORTS)}")


def headline(name: str, result: dict | str) -> dict[str, Any]:
    """The report's few headline numbers (None where not measurable) and ``error`` (its reason, or None).

    Examples:
        >>> headline("body_composition", {"measurements": {"skeletal_muscle_area": {"value": 150.2}}})
        {'sma_cm2': 150.2, 'smi_cm2_m2': None, 'vat_cm2': None, 'sat_cm2': None, 'error': None}
    """
    spec = REPORTS[name]
    if isinstance(result, str):
        return {**dict.fromkeys(spec.columns), "error": result}
    return {**spec.headline(result), "error": None}


def _path(value: str | os.PathLike | None) -> Path | None:
    return None if value is None else Path(value)


def _copy_in(source: Path | None, target: Path) -> None:
    """Copy a reusable input into a report's working folder (atomically; the source wins)."""
    if source is None or source.resolve() == target.resolve():
        return
    from totalseg.io.atomic import atomic_path

    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(target) as tmp:
        shutil.copyfile(source, tmp)


def _read_phase(inputs: ReportInputs) -> str | None:
    path = inputs.found(*PHASE_FILES)
    if path is None:
        return None
    try:
        return str(json.loads(path.read_text())["phase"])
    except (ValueError, KeyError, TypeError):
        raise InputError(f"{path}: no 'phase' in it; pass the JSON `totalseg phase` writes or remove it") from None


# the reports -------------------------------------------------------------------------------------------------

def _spine(inputs: ReportInputs) -> dict:
    """The spine report; its intermediate files live in its own folder (copied in from ``seg_dir``/``seg``)."""
    from totalseg.reports.spine.inputs import PHASE_FILE, VERTEBRAE_FILE, VERTEBRAE_TASK
    from totalseg.reports.spine.report import create_spine_report

    work = inputs.out_dir
    _copy_in(inputs.found(VERTEBRAE_FILE) or inputs.multilabel(VERTEBRAE_TASK), work / VERTEBRAE_FILE)
    _copy_in(inputs.found(*PHASE_FILES), work / PHASE_FILE)
    report = create_spine_report(inputs.ct, work, nodeinfo=inputs.option("nodeinfo"), device=inputs.device,
                                 download=inputs.download, quiet=inputs.quiet, settings=inputs.settings)
    return report.report


def _aorta(inputs: ReportInputs) -> dict:
    """The aorta report from ``seg_dir``'s masks and/or a ``total`` multilabel file, else our ``total`` run."""
    import nibabel as nib

    from totalseg.reports.aorta.outputs import ReportRequest, run_report
    from totalseg.reports.nodeinfo import check_ct_shape

    ct = _nifti_ct(inputs)
    seg_dir = inputs.seg_dir if inputs.found("aorta.nii.gz") else None
    total = inputs.multilabel("total")
    if seg_dir is None and total is None:  # as the command, with this run's weights and download options
        from totalseg.reports.aorta.segmentation import segment_total

        check_ct_shape(nib.load(ct).shape, ct)
        seg_dir = inputs.out_dir / "models"
        ct = segment_total(ct, seg_dir, device=inputs.device, quiet=inputs.quiet, settings=inputs.settings,
                           download=inputs.download)
    nodeinfo = inputs.option("nodeinfo")
    request = ReportRequest(ct=ct, out_dir=inputs.out_dir, seg_dir=seg_dir, seg=total, device=inputs.device,
                            phase=_read_phase(inputs), nodeinfo=None if nodeinfo is None else Path(nodeinfo),
                            quiet=inputs.quiet)
    return run_report(request).json


def _nifti_ct(inputs: ReportInputs) -> Path:
    """The CT as a NIfTI file (the aorta report reads NIfTI): itself, or converted once into the report folder."""
    if inputs.ct.name.endswith((".nii", ".nii.gz")):
        return inputs.ct
    import nibabel as nib

    from totalseg.io import read_volume
    from totalseg.io.atomic import atomic_path

    path = inputs.out_dir / "ct.nii.gz"
    inputs.out_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        nib.save(read_volume(inputs.ct).to_nifti(), tmp)
    return path


def _pulmonary(inputs: ReportInputs) -> dict:
    """The pulmonary report from ``seg_dir``'s masks and a multilabel file of its tasks, else our engine."""
    from totalseg.reports.pulmonary.pipeline import pulmonary_report

    tasks = ("heartchambers_highres", "pulmonary_artery_landmarks", "total_v1")
    seg = [inputs.seg] if inputs.seg is not None and inputs.seg_task in tasks else []
    return pulmonary_report(inputs.ct, inputs.out_dir, seg_dir=inputs.seg_dir, seg=seg,
                            nodeinfo=inputs.option("nodeinfo"), device=inputs.device, settings=inputs.settings,
                            quiet=inputs.quiet)


def _body_composition(inputs: ReportInputs) -> dict:
    """Body composition; a reusable multilabel ``seg`` goes into its mask cache as ``<task>.nii.gz``."""
    from totalseg.reports.body_composition import body_composition
    from totalseg.reports.body_composition.protocol import needed_masks

    if inputs.seg is not None and inputs.seg_task in needed_masks():
        _copy_in(inputs.seg, inputs.out_dir / "segmentations" / f"{inputs.seg_task}.nii.gz")
    segment_kwargs = {"download": inputs.download} | ({"settings": inputs.settings} if inputs.settings else {})
    return body_composition(inputs.ct, inputs.out_dir, seg_dirs=[inputs.seg_dir] if inputs.seg_dir else [],
                            height_m=inputs.option("height_m"), weight_kg=inputs.option("weight_kg"),
                            sex=inputs.option("sex"), device=inputs.device, quiet=inputs.quiet,
                            segment_kwargs=segment_kwargs)


# headline numbers ----------------------------------------------------------------------------------------------

def _spine_headline(report: dict) -> dict[str, Any]:
    graded = [g for g in report.get("totalseg_additions", {}).get("genant", {}).values() if g["grade"] is not None]
    return {"max_height_loss_percent": max((g["height_loss_percent"] for g in graded), default=None),
            "worst_genant_grade": max((g["grade"] for g in graded), default=None)}


def _aorta_headline(report: dict) -> dict[str, Any]:
    cm = [v["diameter"] for v in report["landmarks"].values()] + \
         [v.get("max_diameter") for v in report["section_stats"].values()]
    cm = [v for v in cm if v is not None]
    return {"max_diameter_mm": round(max(cm) * 10, 1) if cm else None}


def _pulmonary_headline(report: dict) -> dict[str, Any]:
    diameter = report["landmarks"]["1"]["diameter"]  # the proximal main pulmonary artery, cm
    return {"mpa_diameter_mm": None if diameter is None else round(diameter * 10, 1)}


def _body_composition_headline(report: dict) -> dict[str, Any]:
    values = {k: v.get("value") for k, v in report.get("measurements", {}).items()}
    return {"sma_cm2": values.get("skeletal_muscle_area"), "smi_cm2_m2": values.get("skeletal_muscle_index"),
            "vat_cm2": values.get("visceral_fat_area"), "sat_cm2": values.get("subcutaneous_fat_area")}


REPORTS: dict[str, ReportSpec] = {
    "spine": ReportSpec(_spine, "spine_report.json", "spine_report.html", _spine_headline,
                        ("max_height_loss_percent", "worst_genant_grade"),
                        "Spine: vertebral heights, height loss (Genant grade), volume and HU"),
    "aorta": ReportSpec(_aorta, "aorta_report.json", "aorta_report.html", _aorta_headline, ("max_diameter_mm",),
                        "Aorta: diameters at 11 landmarks, section lengths and volumes"),
    "pulmonary": ReportSpec(_pulmonary, "pulmonary_report.json", "pulmonary_report.html", _pulmonary_headline,
                            ("mpa_diameter_mm",), "Pulmonary artery: diameters at five landmarks"),
    "body_composition": ReportSpec(_body_composition, "body_composition.json", "body_composition.html",
                                   _body_composition_headline, ("sma_cm2", "smi_cm2_m2", "vat_cm2", "sat_cm2"),
                                   "Body composition at L3: muscle and fat areas"),
}
