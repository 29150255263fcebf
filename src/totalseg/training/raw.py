"""An nnU-Net raw-format dataset: ``dataset.json``, ``imagesTr/<case>_0000.nii.gz``,
``labelsTr/<case>.nii.gz`` and optionally ``splits_final.json`` (what ``totalseg dataset to-nnunet``
writes)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from totalseg.dataset.splits import kfold_split
from totalseg.errors import InputError


@dataclass(frozen=True)
class RawCase:
    """One training case: its image and label map."""

    case_id: str
    image: Path
    label: Path


@dataclass(frozen=True)
class RawDataset:
    """The training cases of a raw dataset and its ``dataset.json``."""

    root: Path
    dataset_json: dict
    cases: tuple[RawCase, ...]

    @classmethod
    def from_folder(cls, root: str | os.PathLike) -> RawDataset:
        """Read ``root``; every image in imagesTr needs its label map in labelsTr.

        Raises:
            InputError: no dataset.json, more than one input channel, no cases, or a missing label.

        Examples:
            >>> ds = RawDataset.from_folder("Dataset297_TotalSegmentator")  # doctest: +SKIP
            >>> ds.labels[1]  # doctest: +SKIP
            'spleen'
        """
        root = Path(root)
        meta = _dataset_json(root)
        ending = meta.get("file_ending", ".nii.gz")
        channels = meta.get("channel_names", meta.get("modality", {}))
        if len(channels) != 1:
            raise InputError(f"{root}/dataset.json: {len(channels)} input channels; totalseg trains "
                             "single-channel (CT or MR) models")
        images = sorted((root / "imagesTr").glob(f"*_0000{ending}"))
        if not images:
            raise InputError(f"{root}/imagesTr: no images named <case>_0000{ending}; "
                             "convert the data with `totalseg dataset to-nnunet`")
        cases = []
        for image in images:
            case_id = image.name[: -len(f"_0000{ending}")]
            label = root / "labelsTr" / f"{case_id}{ending}"
            if not label.is_file():
                raise InputError(f"{label} is missing; every training image needs its label map")
            cases.append(RawCase(case_id, image, label))
        return cls(root, meta, tuple(cases))

    @property
    def labels(self) -> dict[int, str]:
        """Label id -> name, background included."""
        return {int(v): str(k) for k, v in sorted(self.dataset_json["labels"].items(), key=lambda kv: int(kv[1]))}

    @property
    def modality(self) -> str:
        """``ct`` when the channel is named CT (nnU-Net's rule for CT normalization), else ``mr``."""
        channels = self.dataset_json.get("channel_names", self.dataset_json.get("modality", {}))
        return "ct" if str(next(iter(channels.values()))).upper() == "CT" else "mr"

    def split(self, fold: int = 0, *, n_folds: int = 5) -> tuple[list[str], list[str]]:
        """(train ids, validation ids): from ``splits_final.json`` if present, else nnU-Net's default
        seeded 5-fold split (fewer folds for fewer than 5 cases)."""
        ids = [c.case_id for c in self.cases]
        path = self.root / "splits_final.json"
        if path.is_file():
            try:
                splits = json.loads(path.read_text())
                train, val = list(splits[fold]["train"]), list(splits[fold]["val"])
            except (ValueError, KeyError, IndexError, TypeError) as exc:
                raise InputError(f"{path}: no fold {fold} with 'train' and 'val' lists ({exc})") from None
            unknown = sorted(set(train + val) - set(ids))
            if unknown:
                raise InputError(f"{path}: cases {', '.join(unknown[:5])} are not in imagesTr")
            return train, val
        if len(ids) < 2:
            raise InputError(f"{self.root}: {len(ids)} case(s); training needs at least 2 (one for validation)")
        folds = kfold_split(ids, folds=min(n_folds, len(ids)))
        if not 0 <= fold < len(folds):
            raise InputError(f"fold {fold} does not exist; {len(folds)} folds for {len(ids)} cases")
        return folds[fold]["train"], folds[fold]["val"]

def _dataset_json(root: Path) -> dict:
    path = root / "dataset.json"
    if not path.is_file():
        raise InputError(f"{path} is missing; pass an nnU-Net raw dataset folder (dataset.json, imagesTr, labelsTr)")
    try:
        meta = json.loads(path.read_text())
        labels = meta["labels"]
        if not isinstance(labels, dict) or sorted(int(v) for v in labels.values())[0] != 0:
            raise ValueError("labels must map names to ids, background 0 included")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{path}: not an nnU-Net dataset.json ({exc})") from None
    return meta
