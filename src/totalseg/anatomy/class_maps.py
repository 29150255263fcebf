"""Label id -> structure name maps, as the official tool defines them."""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources


@lru_cache(maxsize=1)
def _maps() -> dict:
    return json.loads(resources.files("totalseg.anatomy").joinpath("class_maps.json").read_text())


def _int_keys(mapping: dict[str, str]) -> dict[int, str]:
    return {int(k): v for k, v in sorted(mapping.items(), key=lambda kv: int(kv[0]))}


def class_map(name: str) -> dict[int, str]:
    """The label map of a task or dataset, e.g. ``"total"`` (117 classes) or ``"total_mr"`` (50).

    Examples:
        >>> class_map("total")[5]
        'liver'
        >>> len(class_map("total_mr"))
        50
    """
    maps = _maps()
    if name not in maps or name.startswith("part"):
        raise KeyError(f"unknown class map {name!r}")
    return _int_keys(maps[name])


def part_map(part: str, *, modality: str = "ct", part_set: str | None = None) -> dict[int, str]:
    """The local label map of one part model, e.g. ``part_map("class_map_part_organs")``.

    ``part_set`` names the task's set of part maps (``parts``, ``parts_mr``, ``parts_total_v3``,
    ``parts_headneck_muscles``); by default the total or total_mr set of ``modality``.

    Examples:
        >>> part_map("class_map_part_vertebrae", part_set="parts_total_v3")[2]
        'vertebrae_L6'
    """
    part_set = part_set or ("parts_mr" if modality == "mr" else "parts")
    return _int_keys(_maps()[part_set][part])


def part_of_model(model_id: int) -> str:
    """The part map name a multi-part model predicts, e.g. 292 -> ``"class_map_part_vertebrae"``."""
    return _maps()["part_by_model_id"][str(model_id)]
