"""The task registry: which official models a task runs, at which spacing, with which labels."""

from __future__ import annotations

from dataclasses import dataclass

from totalseg.anatomy import class_map, part_map, part_of_model
from totalseg.errors import InputError

WEIGHTS_URL = "https://github.com/wasserth/TotalSegmentator/releases/download"


@dataclass(frozen=True)
class ModelSpec:
    """One official nnU-Net model: its id, folder, trainer, release and the labels it predicts.

    ``labels`` maps the model's own output ids to structure names; for multi-part models these are
    the part map's local ids, translated to the task's global ids when parts are merged.
    """

    model_id: int
    folder: str
    trainer: str
    release: str
    labels: dict[int, str]
    plans: str = "nnUNetPlans"
    configuration: str = "3d_fullres"
    folds: tuple[str, ...] | None = ("0",)  # None: every fold present, as nnUNetv2_predict without -f

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
class Task:
    """A segmentation task in one mode: the models to run and the output label map.

    Attributes:
        name: official task name (``total``, ``total_mr``, ``body``).
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
    """

    name: str
    mode: str
    models: tuple[ModelSpec, ...]
    classes: dict[int, str]
    spacing_mm: float | tuple[float, float, float] | None
    step_size: float
    modality: str
    canonical: bool = True


_CT_V2 = "v2.0.0-weights"
_MR_V2 = "v2.5.0-weights"
_NOMIRROR = "nnUNetTrainerNoMirroring"
_CT_4000 = "nnUNetTrainer_4000epochs_NoMirroring"
_MR_2000 = "nnUNetTrainer_2000epochs_NoMirroring"

_CT_PARTS = {
    291: "Dataset291_TotalSegmentator_part1_organs_1559subj",
    292: "Dataset292_TotalSegmentator_part2_vertebrae_1532subj",
    293: "Dataset293_TotalSegmentator_part3_cardiac_1559subj",
    294: "Dataset294_TotalSegmentator_part4_muscles_1559subj",
    295: "Dataset295_TotalSegmentator_part5_ribs_1559subj",
}
_MR_PARTS = {
    850: "Dataset850_TotalSegMRI_part1_organs_1088subj",
    851: "Dataset851_TotalSegMRI_part2_muscles_1088subj",
}


def _part_models(folders: dict[int, str], trainer: str, release: str, modality: str):
    return tuple(
        ModelSpec(mid, folder, trainer, release, part_map(part_of_model(mid), modality=modality))
        for mid, folder in folders.items()
    )


def _build_registry() -> dict[tuple[str, str], Task]:
    total, total_mr, body = class_map("total"), class_map("total_mr"), class_map("body")
    ct_fast = ModelSpec(297, "Dataset297_TotalSegmentator_total_3mm_1559subj", _CT_4000, _CT_V2, total)
    ct_fastest = ModelSpec(298, "Dataset298_TotalSegmentator_total_6mm_1559subj", _CT_4000, _CT_V2, total)
    mr_fast = ModelSpec(852, "Dataset852_TotalSegMRI_total_3mm_1088subj", _MR_2000, _MR_V2, total_mr)
    mr_fastest = ModelSpec(853, "Dataset853_TotalSegMRI_total_6mm_1088subj", _MR_2000, _MR_V2, total_mr)
    body_full = ModelSpec(299, "Dataset299_body_1559subj", "nnUNetTrainer", _CT_V2, body)
    body_6mm = ModelSpec(300, "Dataset300_body_6mm_1559subj", "nnUNetTrainer", _CT_V2, body)
    tasks = [
        Task("total", "full", _part_models(_CT_PARTS, _NOMIRROR, _CT_V2, "ct"), total, 1.5, 0.8, "ct"),
        Task("total", "fast", (ct_fast,), total, 3.0, 0.8, "ct"),
        Task("total", "fastest", (ct_fastest,), total, 6.0, 0.8, "ct"),
        Task("total_mr", "full", _part_models(_MR_PARTS, _MR_2000, _MR_V2, "mr"), total_mr, 1.5, 0.8, "mr"),
        Task("total_mr", "fast", (mr_fast,), total_mr, 3.0, 0.8, "mr"),
        Task("total_mr", "fastest", (mr_fastest,), total_mr, 6.0, 0.8, "mr"),
        Task("body", "full", (body_full,), body, 1.5, 0.5, "ct"),
        Task("body", "fast", (body_6mm,), body, 6.0, 0.5, "ct"),
        Task("body", "fastest", (body_6mm,), body, 6.0, 0.5, "ct"),
    ]
    return {(t.name, t.mode): t for t in tasks}


_REGISTRY = _build_registry()
TASK_NAMES = tuple(dict.fromkeys(name for name, _ in _REGISTRY))
MODES = ("full", "fast", "fastest")


def get_task(name: str, mode: str = "full") -> Task:
    """Look a task up by name and mode.

    Examples:
        >>> get_task("total", "fast").models[0].model_id
        297
    """
    if (name, mode) not in _REGISTRY:
        if name not in TASK_NAMES:
            raise InputError(f"unknown task {name!r}; choose one of: {', '.join(TASK_NAMES)}")
        raise InputError(f"unknown mode {mode!r} for task {name}; choose one of: {', '.join(MODES)}")
    return _REGISTRY[(name, mode)]


def all_models() -> dict[int, ModelSpec]:
    """Every model the registry knows, by id."""
    return {m.model_id: m for t in _REGISTRY.values() for m in t.models}
