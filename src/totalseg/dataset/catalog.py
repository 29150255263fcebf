"""The published TotalSegmentator datasets on Zenodo: record, archive name, size, md5, layout."""

from __future__ import annotations

from dataclasses import dataclass

from totalseg.errors import InputError

ZENODO_URL = "https://zenodo.org"


@dataclass(frozen=True)
class DatasetSpec:
    """One published dataset.

    Attributes:
        name: the ``--dataset`` name.
        record: Zenodo record id.
        filename: the archive in that record.
        size_bytes: archive size, when published; else read from the Zenodo record.
        md5: archive md5, when published; else read from the Zenodo record.
        class_map: the class list of its masks.
        description: one line for listings.
    """

    name: str
    record: int
    filename: str
    size_bytes: int | None
    md5: str | None
    class_map: str
    description: str

    def file_url(self, base_url: str = ZENODO_URL) -> str:
        return f"{base_url.rstrip('/')}/records/{self.record}/files/{self.filename}?download=1"

    def record_url(self, base_url: str = ZENODO_URL) -> str:
        """The record's JSON (file sizes and checksums) in the Zenodo REST API."""
        return f"{base_url.rstrip('/')}/api/records/{self.record}"


DATASETS: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in (
        DatasetSpec("ct-v2", 10047292, "Totalsegmentator_dataset_v201.zip", 23_581_218_285,
                    "fe250e5718e0a3b5df4c4ea9d58a62fe", "total", "CT v2.0.1: 1228 subjects, 117 classes, CC-BY-4.0"),
        DatasetSpec("ct-v2-small", 10047263, "Totalsegmentator_dataset_small_v201.zip", 3_244_617_817,
                    "6b5524af4b15e6ba06ef2d700c0c73e0", "total", "CT v2.0.1 small: 102 subjects, 117 classes"),
        DatasetSpec("ct-v1", 6802614, "Totalsegmentator_dataset.zip", None, None, "total_v1",
                    "CT v1: 1204 subjects, 104 classes"),
        DatasetSpec("mri", 11367005, "TotalsegmentatorMRI_dataset_v100.zip", None, None, "mri_dataset_v100",
                    "MRI v1.0.0: 298 subjects, 56 classes"),
    )
}


def get_dataset_spec(name: str) -> DatasetSpec:
    """The spec of a published dataset by its ``--dataset`` name.

    Examples:
        >>> get_dataset_spec("ct-v2").record
        10047292
    """
    try:
        return DATASETS[name]
    except KeyError:
        raise InputError(f"unknown dataset {name!r}; use one of {', '.join(DATASETS)}") from None
