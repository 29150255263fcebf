"""The task registry: which official models a task runs, at which spacing, with which labels.

Every official task is a row of ``catalog.json`` (written from the official tables by
``benchmarks/official_catalog.py``); adding a task is a change to that table, not to code.

Examples:
    >>> get_task("lung_vessels").crop.classes[0]
    'lung_upper_lobe_left'
    >>> get_task("total", "fast").models[0].model_id
    297
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from functools import cache, lru_cache
from importlib import resources

from totalseg.anatomy import class_map, part_map, part_of_model
from totalseg.errors import InputError

WEIGHTS_URL = "https://github.com/wasserth/TotalSegmentator/releases/download"
MODES = ("full", "fast", "fastest")
MODEL_SIZES = ("big", "small")


@dataclass(frozen=True)
class ModelSpec:
    """One official nnU-Net model: its id, folder, trainer, release and the labels it predicts.

    ``labels`` maps the model's own output ids to structure names; for multi-part models these are
    the part map's local ids, translated to the task's global ids when parts are merged.
    ``release`` is the GitHub release that hosts the zip, None for models that only the licence
    server hands out (``license_server``) or that have no public download.
    """

    model_id: int
    folder: str
    trainer: str
    release: str | None
    labels: dict[int, str] = field(compare=False)
    plans: str = "nnUNetPlans"
    configuration: str = "3d_fullres"
    folds: tuple[str, ...] | None = ("0",)  # None: every fold present, as nnUNetv2_predict without -f
    license_server: bool = False

    @property
    def zip_name(self) -> str:
        return f"{self.folder}.zip"

    @property
    def url(self) -> str:
        return f"{WEIGHTS_URL}/{self.release}/{self.zip_name}"

    @property
    def model_subdir(self) -> str:
        """``<trainer>__<plans>__<configuration>``: where plans.json and fold_0/ live."""
        return f"{self.trainer}__{self.plans}__{self.configuration}"


@dataclass(frozen=True)
class CropRule:
    """The official crop before a task runs: the union of ``classes`` in a rough segmentation,
    its bounding box plus ``margin_mm``.

    ``source`` is ``total`` (the 6 mm total model, 3 mm when ``robust`` or asked for, total_mr
    3 mm for MR tasks), ``body`` (the 6 mm body model) or the name of a task run in full first.
    """

    classes: tuple[str, ...]
    source: str
    margin_mm: float
    robust: bool = False


@dataclass(frozen=True)
class Task:
    """A segmentation task in one mode: the models to run and the output label map.

    Attributes:
        name: official task name (``total``, ``lung_vessels``, ...).
        mode: ``full``, ``fast`` or ``fastest``.
        models: models in merge order (a later part wins where parts overlap).
        classes: global label id -> structure name of the output.
        spacing_mm: the voxel size the official tool resamples inputs to before nnU-Net; None
            leaves resampling to nnU-Net (to the plans spacing, and the logits back).
        step_size: sliding-window tile step as a fraction of the patch.
        modality: ``ct`` or ``mr``.
        canonical: the image is reoriented to the closest canonical (RAS) orientation before the
            models see it, as the official tool does; ``False`` hands the models the image as
            stored, as ``nnUNetv2_predict`` does (``--model-dir``).
        license: the weights need a (free, non-commercial) licence key.
        crop: the crop the official tool makes before the task runs, if any.
        aux_labels: ids the model predicts only to help itself; removed from the output.
        postprocess: the official post-processing steps, by name (``body_cleanup``,
            ``body_derived_masks``, ``vertebrae_pp``, ``refine_vertebrae``).
        remove_outside: structures of the rough run (and a dilation in mm) outside which labels
            are removed.
        refine_task: the task whose labels refine this one's (``vertebrae_body``).
        info: a note the official tool prints when the task runs.
        usable: False for catalog entries the official tool cannot download weights for.
    """

    name: str
    mode: str
    models: tuple[ModelSpec, ...]
    classes: dict[int, str]
    spacing_mm: float | tuple[float, float, float] | None
    step_size: float
    modality: str
    canonical: bool = True
    license: bool = False
    crop: CropRule | None = None
    aux_labels: tuple[int, ...] = ()
    postprocess: tuple[str, ...] = ()
    remove_outside: tuple[tuple[str, ...], float] | None = None
    refine_task: str | None = None
    info: str | None = None
    usable: bool = True


@lru_cache(maxsize=1)
def catalog() -> dict:
    """The official task catalog as stored (``tasks`` and ``models`` tables)."""
    return json.loads(resources.files("totalseg.models").joinpath("catalog.json").read_text())


TASK_NAMES = tuple(catalog()["tasks"])


def get_task(name: str, mode: str = "full", *, model_size: str = "big") -> Task:
    """Look a task up by name and mode, as the official tool resolves ``--fast``/``--fastest``.

    A task without fast variants runs its one model for ``fast`` and ``fastest`` too, unless it
    refuses ``--fast`` (``InputError``, the official message).

    Examples:
        >>> get_task("total", "fast").models[0].model_id
        297
        >>> get_task("lung_vessels", "fast").models[0].model_id
        117
    """
    if name not in catalog()["tasks"]:
        raise InputError(f"unknown task {name!r}; `totalseg info` lists the {len(TASK_NAMES)} tasks")
    if mode not in MODES:
        raise InputError(f"unknown mode {mode!r} for task {name}; choose one of: {', '.join(MODES)}")
    if model_size not in MODEL_SIZES:
        raise InputError(f"unknown model size {model_size!r}; choose one of: {', '.join(MODEL_SIZES)}")
    row = catalog()["tasks"][name]
    if mode not in row["modes"]:
        if mode == "fast" and row["disallow_fast"]:
            raise InputError(f"task {name} does not work with option --fast")
        mode = "full"
    task = _build_task(name, mode)
    if model_size == "small" and "small_plans" in row:
        task = replace(task, models=tuple(replace(m, plans=row["small_plans"]) for m in task.models))
    return task


@cache
def _build_task(name: str, mode: str) -> Task:
    row = catalog()["tasks"][name]
    sub = row["modes"][mode]
    spacing = sub["spacing_mm"]
    crop = row["crop"]
    outside = row["remove_outside"]
    return Task(
        name=name, mode=mode, models=tuple(_model(name, mid, sub["trainer"], row, parts=len(sub["models"]) > 1)
                                        for mid in sub["models"]),
        classes=class_map(name), spacing_mm=tuple(spacing) if isinstance(spacing, list) else spacing,
        step_size=row["step_size"], modality=row["modality"], license=row["license"],
        crop=None if crop is None else CropRule(tuple(crop["classes"]), crop["source"], crop["margin_mm"],
                                                crop["robust"]),
        aux_labels=tuple(row["aux_labels"]), postprocess=tuple(row["postprocess"]),
        remove_outside=None if outside is None else (tuple(outside["classes"]), outside["dilation_mm"]),
        refine_task=row.get("refine_task"), info=row["info"], usable=row["usable"],
    )


def _model(name: str, model_id: int, trainer: str, row: dict, *, parts: bool) -> ModelSpec:
    info = catalog()["models"].get(str(model_id), {"folder": f"Dataset{model_id}", "release": None,
                                                     "license_server": False})
    if parts:
        labels = part_map(part_of_model(model_id), part_set=row["part_set"])
    else:
        labels = class_map(name)  # a single model writes its own ids; the task's map names them
    folds = None if row["folds"] is None else tuple(str(f) for f in row["folds"])
    return ModelSpec(model_id, info["folder"], trainer, info["release"], labels, plans=row["plans"],
                     configuration=row["configuration"], folds=folds, license_server=info["license_server"])


def all_models() -> dict[int, ModelSpec]:
    """Every model the catalog's usable tasks run, by id (big models, as downloaded)."""
    models = {}
    for name in TASK_NAMES:
        for mode in catalog()["tasks"][name]["modes"]:
            task = _build_task(name, mode)
            if task.usable:
                models.update({m.model_id: m for m in task.models})
    return models
