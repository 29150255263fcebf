"""The official phase and modality classifier files, fetched once into the weights folder.

The official tool ships them inside its Python package (``totalsegmentator/resources``); we fetch
the same files of release 2.18.0 from the project's GitHub repository, check their size and
sha256, and keep them in ``<weights_dir>/classifiers/``. A download is resumable and only a
verified file gets its final name (:func:`totalseg.transfer.download.download`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from totalseg.errors import DownloadError, WeightsError
from totalseg.transfer.download import download

RESOURCES_URL = "https://raw.githubusercontent.com/wasserth/TotalSegmentator/v2.18.0/totalsegmentator/resources"
FOLDER = "classifiers"


@dataclass(frozen=True)
class ClassifierFile:
    """One official resource file: name, size in bytes and sha256."""

    name: str
    size: int
    sha256: str


PHASE_FILE = ClassifierFile("contrast_phase_classifiers_2024_07_19.pkl", 1565223,
                            "7ecd43bf3fb6a6770c26c77cfbbb46e8a190eeddd53351138aa21715c4e273b2")
MODALITY_FILES = tuple(ClassifierFile(f"modality_classifiers_2025_02_24.json.{fold}", size, sha) for fold, (size, sha)
                       in enumerate([
                           (76696, "b7ad23eff039a7044f5260f5ebd934d3faa6cc5106a37d71ebde12eec65491ba"),
                           (76696, "e983df155d02da883df735f9d46ccc36db7320715d282920da8f334406a83155"),
                           (76696, "0b2ba52bcbec1eb693a5eb59143c7bdf1295531438e4b736f87b2960ff321590"),
                           (76695, "14b6b92ab138fe5e4a151c9076d7f1e5fa4c861748e7de94df4e72316c89c357"),
                           (76695, "34aed06bcd82351d5de2194a437ed7e4d69dcad5c84a02f09fd8d9083f9bf361"),
                       ]))
NORMALIZED_MODALITY_FILES = tuple(
    ClassifierFile(f"modality_classifiers_normalized_2025_02_24.json.{fold}", size, sha) for fold, (size, sha)
    in enumerate([
        (103164, "74832a50485c1d036bf9833097956eaa82f11fa2fe6d9baf3443841eefd8550a"),
        (104740, "545df93f9b5914737a2e96a21a5476f28240ef27be680ce0cef3f69ea107c358"),
        (105423, "0370d52fceff16834f2c68f6e31b34f8d257a420778f265347d8f8007197e99b"),
        (105283, "de3d213007d6cf8267569becc7c759f9954d44a421acd3388cb7e98f761d1a03"),
        (103776, "16641e6ea57268fb30181f1ab97321a31f85973d4b475b1e9df8585a261df92a"),
    ]))


def classifier_path(file: ClassifierFile, *, weights_dir: Path, download_missing: bool = True,
                    base_url: str = RESOURCES_URL, progress: bool = False) -> Path:
    """The verified local copy of ``file``, downloaded from ``base_url`` first when missing.

    Raises:
        WeightsError: the file is missing (or damaged) and ``download_missing`` is off.
        DownloadError: the download failed or its sha256 is not the official file's.
    """
    dest = Path(weights_dir) / FOLDER / file.name
    if dest.is_file() and _verified(dest, file):
        return dest
    if not download_missing:
        state = "damaged (size or sha256 differs)" if dest.exists() else "missing"
        raise WeightsError(f"{dest} is {state}; allow downloads or place the official TotalSegmentator 2.18.0 "
                           f"file {file.name} there")
    dest.unlink(missing_ok=True)
    download(f"{base_url.rstrip('/')}/{file.name}", dest, expected_size=file.size, progress=progress)
    if not _verified(dest, file):
        dest.unlink(missing_ok=True)
        raise DownloadError(f"{file.name} from {base_url} is not the official file (sha256 differs); "
                            "check the URL or place the file by hand")
    return dest


def _verified(path: Path, file: ClassifierFile) -> bool:
    if path.stat().st_size != file.size:
        return False
    return hashlib.sha256(path.read_bytes()).hexdigest() == file.sha256
