"""The weights store: official model folders under the weights dir, in the official tool's layout.

``<weights_dir>/<DatasetNNN_...>/<trainer>__nnUNetPlans__3d_fullres/{plans.json, dataset.json,
fold_0/checkpoint_final.pth}`` is exactly what TotalSegmentator writes, so a folder it already
filled is used as is, and folders filled here serve the official tool too.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from totalseg.errors import DownloadError, InputError, WeightsError
from totalseg.models.license import GET_A_KEY, LicenseAccess, download_licensed_zip
from totalseg.models.tasks import TASK_NAMES, ModelSpec, Task, all_models, catalog, get_task
from totalseg.transfer.archive import list_members, safe_extract
from totalseg.transfer.download import download as download_file

MODEL_FILES = ("plans.json", "dataset.json", "fold_0/checkpoint_final.pth")
_EXPECTED_ZIP = (
    "expected an official TotalSegmentator weights zip holding "
    "<DatasetNNN_name>/<trainer>__nnUNetPlans__3d_fullres/{plans.json,dataset.json,fold_0/checkpoint_final.pth}"
)


class ModelStatus(NamedTuple):
    """One registry model in the store: whether it is usable and how many bytes its folder holds."""

    spec: ModelSpec
    installed: bool
    size_bytes: int


@dataclass(frozen=True)
class WeightsStore:
    """Find, download and import the official models under one weights folder.

    Build it from :attr:`totalseg.settings.Settings.weights_dir`. Models that only the licence
    server hands out (``spec.license_server``) are downloaded with the key and from the server of
    ``license_access``; without one, from where the environment says (as ``totalseg weights`` does).

    Examples:
        >>> store = WeightsStore(Path("/weights"))
        >>> store.model_dir(all_models()[297]).relative_to("/weights").as_posix()
        'Dataset297_TotalSegmentator_total_3mm_1559subj/nnUNetTrainer_4000epochs_NoMirroring__nnUNetPlans__3d_fullres'
    """

    weights_dir: Path
    license_access: LicenseAccess | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "weights_dir", Path(self.weights_dir))

    def model_dir(self, spec: ModelSpec) -> Path:
        """``<weights_dir>/<folder>/<trainer>__<plans>__<configuration>``: the folder a model loads from."""
        return self.weights_dir / spec.folder / spec.model_subdir

    def has(self, spec: ModelSpec) -> bool:
        """Whether the model's folder holds plans.json, dataset.json and a non-empty checkpoint."""
        return self._problem(spec) is None

    def require(self, spec: ModelSpec) -> Path:
        """The model's folder, or a one-line :class:`WeightsError` saying how to install it."""
        problem = self._problem(spec)
        if problem is None:
            return self.model_dir(spec)
        flags = download_flags(spec)
        if spec.license_server:
            raise WeightsError(
                f"model {spec.model_id} ({spec.folder}) in {self.weights_dir} is {problem}; it is a licensed model: "
                f"run `totalseg license set KEY` ({GET_A_KEY}), then `totalseg weights download {flags}`"
            )
        if spec.release is None:
            raise WeightsError(self._no_download(spec, problem))
        fix = f"run `totalseg weights download {flags}`, or " if flags else ""
        raise WeightsError(
            f"model {spec.model_id} ({spec.folder}) in {self.weights_dir} is {problem}; "
            f"{fix}download {spec.url} and run `totalseg weights import {spec.zip_name}`"
        )

    def list(self) -> list[ModelStatus]:
        """Every registry model, by id, with its state in the store."""
        return [
            ModelStatus(spec, self.has(spec), _size_bytes(self.weights_dir / spec.folder))
            for _, spec in sorted(all_models().items())
        ]

    def unknown_folders(self) -> list[tuple[Path, int]]:
        """Folders in the weights dir that are no registry model (other official models, say), with sizes."""
        known = {spec.folder for spec in all_models().values()}
        if not self.weights_dir.is_dir():
            return []
        return [
            (path, _size_bytes(path))
            for path in sorted(self.weights_dir.iterdir())
            if path.is_dir() and not path.name.startswith(".") and path.name not in known
        ]

    def download(self, task: Task, *, progress: bool = True, base_url: str | None = None) -> list[Path]:
        """Download, extract and check each model of ``task`` that is not installed yet.

        Args:
            task: the task whose models are needed (``get_task("total", "fast")``).
            progress: show a progress bar per download.
            base_url: a mirror replacing the release host: the URL becomes
                ``{base_url}/{release}/{zip_name}`` (licensed models come from the licence server).

        Returns:
            The model folders installed by this call (empty when all were present).

        Raises:
            DownloadError: a download failed or did not hold the expected model.
            InputError: a licensed model is missing and no valid licence key is stored, or the
                licence server refused it.
        """
        installed = []
        for spec in task.models:
            if not self.has(spec):
                installed.append(self._download_one(spec, progress=progress, base_url=base_url))
        return installed

    def _no_download(self, spec: ModelSpec, problem: str) -> str:
        return (f"model {spec.model_id} ({spec.folder}) in {self.weights_dir} is {problem}; the official tool "
                f"publishes no download for it: place its folder {spec.folder}/{spec.model_subdir} there by hand")

    def _download_one(self, spec: ModelSpec, *, progress: bool, base_url: str | None) -> Path:
        if spec.release is None and not spec.license_server:
            raise WeightsError(self._no_download(spec, "not installed"))
        if spec.license_server:
            access = self.license_access or LicenseAccess.from_env()
            url = f"the licence server {access.server}"
            zip_path = download_licensed_zip(access, spec, self.weights_dir / spec.zip_name, progress=progress)
        else:
            url = spec.url if base_url is None else f"{base_url.rstrip('/')}/{spec.release}/{spec.zip_name}"
            zip_path = download_file(url, self.weights_dir / spec.zip_name, progress=progress)
        try:
            specs = self.import_zip(zip_path)
        except InputError as exc:
            raise DownloadError(f"the archive downloaded from {url} is unusable ({exc}); run again") from None
        finally:
            zip_path.unlink(missing_ok=True)
        if spec not in specs:
            raise DownloadError(f"{url} does not hold {spec.folder}/{spec.model_subdir}; check the mirror")
        return self.model_dir(spec)

    def import_zip(self, zip_path: Path) -> list[ModelSpec]:
        """Install the models of an official weights zip (already downloaded) into the store.

        The layout is checked before anything is written; each model folder then replaces any
        folder of the same name in one step.

        Returns:
            The registry models the zip installed, in zip order.

        Raises:
            InputError: the file is no zip, is corrupt, or does not hold official model folders.
        """
        specs = _specs_in_zip(Path(zip_path))
        safe_extract(zip_path, self.weights_dir)
        for spec in specs:
            problem = self._problem(spec)
            if problem is not None:
                raise WeightsError(f"{zip_path} was extracted but model {spec.model_id} is {problem}")
        return specs

    def _problem(self, spec: ModelSpec) -> str | None:
        """Why a model cannot load (``not installed``, ``incomplete (...)``), or ``None`` when it can."""
        folder = self.model_dir(spec)
        if not folder.is_dir():
            return "not installed"
        for name in MODEL_FILES:
            if not (folder / name).is_file():
                return f"incomplete ({spec.model_subdir}/{name} is missing)"
        if (folder / MODEL_FILES[-1]).stat().st_size == 0:
            return f"incomplete ({spec.model_subdir}/{MODEL_FILES[-1]} is empty)"
        return None


def download_flags(spec: ModelSpec) -> str:
    """The ``totalseg weights download`` flags of the first task mode that runs ``spec``.

    Examples:
        >>> download_flags(all_models()[297])
        '--task total --fast'
        >>> download_flags(all_models()[292])
        '--task total'
    """
    for name in TASK_NAMES:
        for mode in catalog()["tasks"][name]["modes"]:
            if any(m.model_id == spec.model_id for m in get_task(name, mode).models):
                return f"--task {name}" + ("" if mode == "full" else f" --{mode}")
    return ""


def _specs_in_zip(zip_path: Path) -> list[ModelSpec]:
    """The registry models a zip holds in the official layout; refuses anything else."""
    members = list_members(zip_path)
    by_folder = {spec.folder: spec for spec in all_models().values()}
    tops = list(dict.fromkeys(name.split("/", 1)[0] for name in members))
    if not tops:
        raise InputError(f"{zip_path}: the archive holds no files; {_EXPECTED_ZIP}")
    specs = []
    for top in tops:
        spec = by_folder.get(top)
        if spec is None:
            raise InputError(f"{zip_path}: {top!r} is not the folder of a model totalseg runs; {_EXPECTED_ZIP}")
        for name in MODEL_FILES:
            if not members.get(f"{top}/{spec.model_subdir}/{name}"):
                raise InputError(f"{zip_path}: {top}/{spec.model_subdir}/{name} is missing or empty; {_EXPECTED_ZIP}")
        specs.append(spec)
    return specs


def _size_bytes(folder: Path) -> int:
    if not folder.is_dir():
        return 0
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())
