"""``totalseg.segment()``: the public Python entry point, and what the CLI calls."""

from __future__ import annotations

import difflib
import os
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import nibabel as nib
import torch
from tqdm import tqdm

from totalseg.anatomy.v1_order import reorder_like_v1
from totalseg.engine.devices import device_from_name
from totalseg.engine.pipeline import RunOptions
from totalseg.engine.precision import PRECISIONS
from totalseg.engine.segment import SegmentRequest, needed_models, segment_volume
from totalseg.errors import DownloadError, InputError, OutputError, WeightsError
from totalseg.imaging.volume import Volume
from totalseg.io import read_volume
from totalseg.io.dicom import default_task, is_dicom_source, read_dicom_input
from totalseg.io.nifti_ext import add_label_map_to_nifti
from totalseg.io.outputs import (
    DICOM_OUTPUT_TYPES,
    OutputPlan,
    normalize_output_types,
    plan_outputs,
    write_derived_body_masks,
    write_outputs,
)
from totalseg.io.run_report import build_run_report, write_run_report
from totalseg.io.writers import check_multilabel_path
from totalseg.limits import check_image_size
from totalseg.measure.reports import MeasureOptions, ModelGridCapture, write_reports
from totalseg.models.custom import custom_task
from totalseg.models.license import LicenseAccess, require_license, set_key
from totalseg.models.model import Model, load_model
from totalseg.models.store import WeightsStore
from totalseg.models.tasks import ModelSpec, Task, get_task
from totalseg.settings import Settings


def segment(
    input: str | os.PathLike | nib.Nifti1Image | Volume,
    output: str | os.PathLike | None = None,
    *,
    task: str | None = None,
    fast: bool = False,
    fastest: bool = False,
    ml: bool = False,
    output_type: str | Sequence[str] = "nifti",
    roi_subset: Sequence[str] | None = None,
    roi_subset_robust: Sequence[str] | None = None,
    robust_crop: bool = False,
    body_seg: bool = False,
    force_split: bool = False,
    resampling_order: int = 1,
    device: str = "cpu",
    quiet: bool = False,
    model_dir: str | os.PathLike | None = None,
    folds: Sequence[str | int] | None = None,
    step_size: float | None = None,
    precision: str = "nnunet",
    download: bool = True,
    settings: Settings | None = None,
    on_tile: Callable[[], None] | None = None,
    on_stage: Callable[[str], None] | None = None,
    statistics: bool | str | os.PathLike = False,
    statistics_extra: bool = False,
    statistics_include_incomplete: bool = False,
    statistics_aggregation: str = "mean",
    clinical: bool = False,
    preview: bool = False,
    keep_models: bool = True,
    no_derived_masks: bool = False,
    model_size: str = "big",
    remove_small_blobs: bool | float = False,
    v1_order: bool = False,
    skip_saving: bool = False,
    license_number: str | None = None,
    report: str | os.PathLike | None = None,
    save_lowres: bool = False,
    higher_order_resampling: bool = False,
    higher_order_resampling_LEGACY: bool = False,  # noqa: N803 - the official parameter name
    save_probabilities: str | os.PathLike | None = None,
    radiomics: bool = False,
    qc: bool = False,
    height_m: float | None = None,
    weight_kg: float | None = None,
) -> nib.Nifti1Image:
    """Segment a CT or MR image with the official TotalSegmentator models.

    Args:
        input: a NIfTI/NRRD/MHA path, a DICOM folder or ``.zip`` (the CT/MR series with the most
            slices), a nibabel image or an already read Volume.
        output: a folder for per-class ``<name>.nii.gz`` masks, or with ``ml=True`` the path of
            one multilabel file; with DICOM output types see :mod:`totalseg.io.outputs`;
            ``None`` writes nothing.
        task: any official task (``totalseg info`` lists them: ``total``, CT, 117 classes;
            ``total_mr``, MR, 50 classes; ``lung_vessels``, ...); by default ``total_mr`` for an MR
            DICOM series and ``total`` otherwise.
        fast, fastest: the 3 mm / 6 mm single models instead of the 1.5 mm ones (tasks without
            them run their one model, or refuse ``fast`` as the official tool does).
        ml: write one multilabel file instead of one file per class.
        output_type: ``nifti``, ``dicom_seg``, ``dicom_rtstruct`` or several of them (DICOM types
            need a DICOM input and write one multilabel NIfTI, as the official tool does).
        roi_subset: only these classes: the image is first cropped around them with a rough model
            and only the parts that predict them run.
        roi_subset_robust: as ``roi_subset``, cropped with the 3 mm model (more robust, slower).
        robust_crop: crop with the 3 mm total model instead of the 6 mm one, for ``roi_subset``
            and for the tasks that crop (``lung_vessels``, ``liver_vessels``, ...).
        body_seg: crop to the body with the 6 mm body model first (CT only).
        force_split: predict in 3 overlapping z-slabs, as the official tool does for huge volumes.
        resampling_order: spline order of the input resampling (official default 1).
        device: ``cpu``, ``gpu``, ``gpu:N`` or ``mps``.
        quiet: no progress bar.
        model_dir: run any nnU-Net v2 model folder instead of a registered task, exactly as
            ``nnUNetv2_predict`` does (without test-time mirroring): the image as stored, read
            the way its plans' reader reads it, resampled by nnU-Net to the plans spacing and back.
        folds: with ``model_dir``, the folds to average (``0``, ``1``, ..., ``"all"``); by default
            every fold present, as ``nnUNetv2_predict`` without ``-f``.
        step_size: with ``model_dir``, the tile step as a fraction of the patch (default 0.5).
        precision: ``nnunet`` (identical masks to the official tool), ``fp32`` accumulation, or
            ``bf16``: the network in bfloat16, about twice as fast on CPUs with AVX-512 BF16 or
            AMX, masks close to the official tool's but not identical (opt-in; see
            docs/benchmarks.md for its Dice cost).
        download: fetch missing official weights (as the official tool does); otherwise fail.
        settings: weights location; read from the environment when omitted.
        on_tile: called after each sliding-window tile (progress reporting, e.g. in the web app).
        on_stage: called with ``"load"``, ``"predict"`` and ``"write"`` as each stage begins
            (reading begins with the call): per-stage timings, and the batch runner's inference lock.
        statistics: write ``statistics.json`` (volume in mm3 and mean intensity per structure) as the
            official tool does, into the output folder, or to this path; with ``fast`` computed on
            the 3 mm model grid. See :mod:`totalseg.measure.statistics`.
        statistics_extra: add voxel count, intensity std/min/max/median, centroid and bounding box.
        statistics_include_incomplete: also measure structures within 3 voxels of the border.
        statistics_aggregation: ``mean`` (default) or ``median`` intensity.
        clinical: write ``clinical.json`` (bone density at L1, liver fat, organ volumes, aorta).
        preview: write ``preview_<task>.png`` (three slices with coloured overlays and a legend).
        no_derived_masks: with task ``body`` and per-class output, do not add ``body.nii.gz``
            (trunk and extremities) and ``skin.nii.gz``.
        model_size: ``small`` runs the smaller ResEnc models of ``total_v3``.
        remove_small_blobs: remove every structure's connected components of at most this many mm3
            (``True``: 200) on the model grid, as the official ``--remove_small_blobs``.
        v1_order: task ``total``: the multilabel output (``ml``, and the returned image) numbers the
            structures as TotalSegmentator v1 did; structures v1 lacks are dropped.
        skip_saving: write no segmentation, only the reports asked for (statistics, ...).
        save_lowres: with ``fast``/``fastest``, keep the masks on the model's 3 mm / 6 mm grid
            (in the input's axis order) instead of resampling them to the input's.
        higher_order_resampling: leave the resampling to nnU-Net (cubic to the model's grid) and
            bring the logits back class by class in boxes, as the official ``-ho`` does (slower,
            smoother masks); turns ``save_lowres`` off.
        higher_order_resampling_LEGACY: bring the labels back to the input grid one at a time,
            linearly (the official LEGACY variant of ``-ho``); no effect with ``higher_order_resampling``.
        save_probabilities: write nnU-Net's softmax output of the task's last model to this path
            (``.npz`` with ``probabilities``, classes x the model grid in nnU-Net's array order) and
            nnU-Net's properties of that image beside it (the same name ending ``.pkl``), as the
            official ``-sp`` (:mod:`totalseg.engine.probabilities`).
        radiomics: write ``statistics_radiomics.json`` into the mask folder: pyradiomics' shape and
            first-order features of each mask, as the official ``--radiomics``
            (:mod:`totalseg.measure.radiomics`; needs ``totalseg[radiomics]`` and per-class masks).
        qc: write ``qc.json`` beside the segmentation: the quality checks of :func:`totalseg.qc.run_qc`
            (laterality, vertebra order, field of view, fragments, volumes, intensities, expected
            structures, input), each ok / warn / fail with its reason.
        height_m, weight_kg: the patient's, where known: with ``qc`` the organ volume ranges are
            scaled by the body surface area (both needed); nothing else uses them.
        report: write the official run manifest (``--report run.json``: versions, device, task,
            options, classes produced, runtime, files written) to this path.
        keep_models: keep the loaded models for the next call in this process (batch runs, the
            web app); ``False`` loads each model when its turn comes and frees it after, which
            lowers the peak memory of a multi-model task (the ``totalseg`` command segments one
            image and passes ``False``).
        license_number: store this licence key first, as the official ``-l`` does (checked at the
            licence server unless it is the stored one); licensed tasks need a stored key.

    Returns:
        The multilabel segmentation (uint8) with the input's affine and header and the label
        names as a NIfTI extension.

    Examples:
        >>> seg = segment("ct.nii.gz", "segmentations", fast=True)  # doctest: +SKIP
        >>> seg.get_fdata().max() <= 117  # doctest: +SKIP
        True
    """
    started = time.monotonic()
    settings = settings or Settings.from_env()
    licensing = LicenseAccess.from_env(home_dir=settings.home_dir)
    if license_number is not None:
        set_key(licensing, license_number)
    output_types = normalize_output_types(output_type)
    if any(t in DICOM_OUTPUT_TYPES for t in output_types) and not _is_dicom_input(input):
        raise InputError("--output_type dicom_seg/dicom_rtstruct needs a DICOM input (a folder or .zip of a "
                         "series); use --output_type nifti for this input")
    series = read_dicom_input(input)
    if series is not None and not quiet:
        print(f"DICOM input: {series.description}", file=sys.stderr)
    task = task or default_task(series)
    robust = roi_subset_robust is not None
    request = _request(task, fast, fastest, roi_subset_robust if robust else roi_subset, body_seg, force_split,
                       resampling_order, precision, model_dir, folds, step_size,
                       robust_crop=robust_crop or robust, model_size=model_size)
    lowres = _lowres(save_lowres, request, output_type, ml, no_derived_masks) and (fast or fastest) \
        and not higher_order_resampling
    if higher_order_resampling:
        request = replace(request, task=replace(request.task, spacing_mm=None),
                          options=replace(request.options, cropped_logits=True))
    elif higher_order_resampling_LEGACY:
        request = replace(request, legacy_label_resampling=True)
    request = replace(request, remove_small_blobs_mm3=_small_blobs_mm3(remove_small_blobs), save_lowres=lowres)
    if save_probabilities is not None:
        request = replace(request, options=replace(request.options, probabilities=Path(save_probabilities).absolute()))
    if request.task.license:
        require_license(settings.home_dir, request.task.name)
    if request.task.info and not quiet:
        print(request.task.info, file=sys.stderr)
    plan = _plan(output, output_types, ml, request.task.name)
    if radiomics:
        _check_radiomics(plan)
    if qc and plan is None:
        raise InputError("--qc writes qc.json beside the segmentation: give an output (-o)")
    if qc and (height_m is None) != (weight_kg is None):
        raise InputError("--qc scales organ volumes by body surface area: give both height and weight, or neither")
    torch_device = device_from_name(device)
    measures = MeasureOptions(statistics, statistics_extra, statistics_include_incomplete, statistics_aggregation,
                              clinical, preview, fast=fast)
    reports = measures.targets(plan.folder if plan is not None else None, request.task.name)
    grid = ModelGridCapture() if ("statistics" in reports and fast) or request.save_lowres else None
    vol = series.volume if series is not None else input if isinstance(input, Volume) else read_volume(input)
    check_image_size(_source_name(input), vol.shape)
    stage = on_stage or (lambda name: None)
    stage("load")
    load = _ModelLoader(WeightsStore(settings.weights_dir, licensing), torch_device, model_dir, download=download,
                        progress=not quiet, keep=keep_models)
    for spec in needed_models(request):
        load.prepare(spec)
    stage("predict")
    with tqdm(desc="Predicting", unit="tile", disable=quiet, leave=False) as bar:
        labels = segment_volume(vol, request, load, progress=_TileBar(bar, on_tile), on_model_grid=grid)
    stage("write")
    classes = request.output_classes
    ml_labels, ml_classes = labels, classes
    if v1_order and request.task.name == "total":
        ml_labels, ml_classes = reorder_like_v1(labels, classes)
    if plan is not None and not skip_saving:
        written = write_outputs(labels, classes, plan, series, ml=(ml_labels, ml_classes))
        if "body_derived_masks" in request.task.postprocess and plan.nifti is not None and not plan.nifti_ml \
                and not no_derived_masks:
            written += write_derived_body_masks(vol, labels, request.task.classes, plan.nifti)
        if not quiet:
            print(f"Wrote {', '.join(str(path) for path in written)}", file=sys.stderr)
    if radiomics:
        _write_radiomics(input, vol, plan.nifti)
    report_image, report_labels = (grid.image, grid.labels) if request.save_lowres else (vol, labels)
    write_reports(report_image, report_labels, classes, measures, reports, modality=request.task.modality,
                  model_grid=grid,
                  title=f"totalseg {request.task.name}")
    if qc:
        from totalseg.qc import run_qc, write_qc

        write_qc(run_qc(report_image, report_labels, classes, modality=request.task.modality, height_m=height_m,
                        weight_kg=weight_kg), plan.folder / "qc.json")
    if report is not None:
        write_run_report(build_run_report(
            input="Nifti1Image" if isinstance(input, nib.Nifti1Image) else str(input),
            output=None if output is None else str(output), task=request.task.name,
            modality=request.task.modality.upper(), license_required=request.task.license, device=torch_device,
            fast=fast, fastest=fastest, ml=ml, output_type=output_types, roi_subset=request.roi_subset,
            save_lowres=request.save_lowres, classes=classes, runtime_seconds=time.monotonic() - started), Path(report))
    return add_label_map_to_nifti(ml_labels.to_nifti(dtype="uint8"), ml_classes)


class _TileBar:
    """The progress bar of one pass at a time (its tiles, rate and time left); forwards each tile."""

    def __init__(self, bar: tqdm, on_tile: Callable[[], None] | None) -> None:
        self.bar, self.on_tile = bar, on_tile

    def begin(self, what: str, tiles: int) -> None:
        self.bar.set_description(f"Predicting {what}", refresh=False)
        self.bar.reset(total=tiles)  # also restarts the clock: rate and time left are this pass's

    def tile(self) -> None:
        self.bar.update()
        if self.on_tile is not None:
            self.on_tile()


def _lowres(save_lowres: bool, request: SegmentRequest, output_type, ml: bool, no_derived_masks: bool) -> bool:
    """``--save_lowres``, refused where the official tool refuses it (a crop) or fails (DICOM outputs,
    body's derived masks, which need the input grid)."""
    if not save_lowres:
        return False
    if request.crop is not None or request.body_seg:
        raise InputError("save_lowres is not supported together with cropping, roi_subset, body_seg, or cascade")
    if any(t in DICOM_OUTPUT_TYPES for t in normalize_output_types(output_type)):
        raise InputError("--save_lowres writes NIfTI only: DICOM outputs need the series' own grid")
    if "body_derived_masks" in request.task.postprocess and not ml and not no_derived_masks:
        raise InputError("--save_lowres with task body: body.nii.gz and skin.nii.gz need the input grid; "
                         "add --no_derived_masks or --ml")
    return True


def _small_blobs_mm3(value: bool | float) -> float | None:
    """``--remove_small_blobs``: off, the official 200 mm3, or a positive size."""
    if value is False or value is None:
        return None
    size = 200.0 if value is True else float(value)
    if not size > 0:
        raise InputError(f"--remove_small_blobs takes a positive size in mm3, got {value}")
    return size


def _request(task, fast, fastest, roi_subset, body_seg, force_split, order, precision, model_dir, folds=None,
             step_size=None, *, robust_crop=False, model_size="big") -> SegmentRequest:
    if fast and fastest:
        raise InputError("--fast and --fastest exclude each other; pick one")
    if not 0 <= int(order) <= 5:
        raise InputError(f"resampling order must be 0..5, got {order}")
    if precision not in PRECISIONS:
        raise InputError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    mode = "fast" if fast else "fastest" if fastest else "full"
    if model_dir is None and (folds is not None or step_size is not None):
        raise InputError("--folds and --step_size choose how a --model-dir model runs; the official tasks "
                         "run as the official tool runs them")
    the_task = (custom_task(Path(model_dir), folds=folds, step_size=step_size) if model_dir is not None
                else get_task(task, mode, model_size=model_size))
    roi = _check_roi(roi_subset, the_task) if roi_subset else None
    if roi is not None and model_dir is not None:
        raise InputError("--roi_subset needs a registered task (total or total_mr), not --model-dir")
    options = RunOptions(resampling_order=int(order), force_split=force_split, precision=precision)
    if body_seg and (model_dir is not None or the_task.modality != "ct"):
        # the official tool drops the flag for MR tasks with a note; a model folder has no body model
        what = "--model-dir" if model_dir is not None else f"the MR task {the_task.name}"
        warnings.warn(f"--body_seg crops CT scans with the CT body model; ignored for {what}", stacklevel=3)
        body_seg = False
    if roi is not None or the_task.crop is not None:
        body_seg = False  # the official tool crops once: to the ROI or the task's structures
    return SegmentRequest(the_task, roi, body_seg, options, robust_crop=robust_crop)


def _check_roi(roi_subset: Sequence[str], task: Task) -> tuple[str, ...]:
    if not task.name.startswith("total"):
        raise InputError(f"--roi_subset works with the total tasks (total, total_v3, total_mr), not {task.name}")
    names = set(task.classes.values())
    for name in roi_subset:
        if name not in names:
            close = difflib.get_close_matches(name, names, n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else "; see `totalseg info --task " + task.name + "`"
            raise InputError(f"unknown ROI class {name!r} for task {task.name}{hint}")
    return tuple(dict.fromkeys(roi_subset))


def _source_name(input) -> str:
    return str(input) if isinstance(input, (str, os.PathLike)) else "the input image"


def _is_dicom_input(input) -> bool:
    return isinstance(input, (str, os.PathLike)) and is_dicom_source(input)


def _check_radiomics(plan: OutputPlan | None) -> None:
    """``--radiomics`` reads the per-class NIfTI masks: refuse it before any work where there are none."""
    from totalseg.measure.radiomics import require_pyradiomics

    if plan is None or plan.nifti is None or plan.nifti_ml:
        raise InputError("--radiomics measures the per-class mask files: give an output folder, without --ml, "
                         "with the nifti output type")
    require_pyradiomics()


def _write_radiomics(source, vol: Volume, masks: Path) -> None:
    """statistics_radiomics.json of the masks in ``masks``, on the input file as given (NIfTI, NRRD,
    MHA), or on the volume as read (DICOM, images in memory) written to a scratch NIfTI file."""
    from totalseg.measure.radiomics import radiomics_of_folder

    path = getattr(source, "path", source)  # a ReadAhead of the file: its path
    with tempfile.TemporaryDirectory(prefix="totalseg-radiomics-") as scratch:
        if not (isinstance(path, (str, os.PathLike)) and Path(path).is_file() and Path(path).suffix != ".zip"):
            path = Path(scratch) / "image.nii.gz"
            nib.save(vol.to_nifti(), path)
        radiomics_of_folder(path, masks, masks / "statistics_radiomics.json")


def _plan(output, output_types: tuple[str, ...], ml: bool, task_name: str) -> OutputPlan | None:
    """Where each output goes, checked before any work."""
    if output is None:
        return None
    plan = plan_outputs(output, output_types, ml=ml, task_name=task_name)
    for path, is_file in ((plan.nifti, plan.nifti_ml), (plan.dicom_seg, True), (plan.dicom_rtstruct, True)):
        if path is not None:
            _check_output(path, is_file)
    return plan


def _check_output(output, ml: bool) -> Path | None:
    """Refuse an output we cannot write before doing any work."""
    if output is None:
        return None
    path = Path(output)
    folder = path.parent if ml else path
    if ml and path.is_dir():
        raise OutputError(f"{path} is a folder; with --ml the output is a file such as seg.nii.gz")
    if ml and path.suffix.lower() != ".dcm":
        check_multilabel_path(path)
    if not ml and path.exists() and not path.is_dir():
        raise OutputError(f"{path} is a file; without --ml the output is a folder of masks")
    probe = folder
    while not probe.exists():
        probe = probe.parent
    try:
        with tempfile.TemporaryFile(dir=probe):
            pass
    except OSError as exc:
        raise OutputError(f"cannot write to {probe} ({exc.strerror}); choose another output") from None
    return path


class _ModelLoader:
    """Loads the model of a spec: from ``model_dir``, or from the weights store (downloading it first
    when allowed); ``keep`` leaves it in the process's model cache."""

    def __init__(self, store: WeightsStore, device: torch.device, model_dir, *, download: bool, progress: bool,
                 keep: bool) -> None:
        self.store, self.device, self.model_dir = store, device, model_dir
        self.download, self.progress, self.keep = download, progress, keep

    def folder(self, spec: ModelSpec) -> Path:
        """The model's folder, downloaded if missing and allowed; WeightsError when it is not there."""
        if self.model_dir is not None:
            return Path(spec.folder)
        if self.download and not self.store.has(spec):
            _download(self.store, spec, self.progress)
        return self.store.require(spec)

    def prepare(self, spec: ModelSpec) -> None:
        """Fail on missing weights before any work; models to keep are loaded now."""
        if self.keep:
            self(spec)
        else:
            self.folder(spec)

    def __call__(self, spec: ModelSpec) -> Model:
        return load_model(self.folder(spec), device=self.device, folds=spec.folds, cache=self.keep)


def _download(store: WeightsStore, spec: ModelSpec, progress: bool) -> None:
    """Fetch one missing official model; without network, say which zip to get and how to import it."""
    try:
        store.download(replace(get_task("total", "fast"), models=(spec,)), progress=progress)
    except DownloadError as exc:
        try:
            store.require(spec)
        except WeightsError as missing:
            raise WeightsError(f"{missing} (automatic download failed: {exc})") from None
