"""Write totalseg's task catalog and class maps from the installed official package.

Run with the official tool's Python (``python benchmarks/harness.py`` creates that venv):

    .bench/official-venv/bin/python benchmarks/official_catalog.py

It reads the official tables (``map_tasks_config``, ``map_to_binary``, ``registry``) and writes them
in our own declarative form: ``src/totalseg/models/catalog.json`` (one entry per task: models per
mode, spacing, configuration, folds, crop rule, post-processing, licence) and the task maps in
``src/totalseg/anatomy/class_maps.json``. The rules the official code applies around its tables are
written out here once, so that the catalog says what runs (see the comments at each rule).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CATALOG = ROOT / "src" / "totalseg" / "models" / "catalog.json"
CLASS_MAPS = ROOT / "src" / "totalseg" / "anatomy" / "class_maps.json"
OFFICIAL_OUTPUT = ROOT / "tests" / "data" / "official_catalog"  # what the official commands print
MODES = {"default": "full", "fast": "fast", "fastest": "fastest"}
PART_SETS = {"total": "parts", "total_mr": "parts_mr", "total_v3": "parts_total_v3",
             "headneck_muscles": "parts_headneck_muscles"}
# Post-processing the official nnUNet_predict_image applies by task name.
POSTPROCESS = {"body": ["body_cleanup", "body_derived_masks"], "vertebrae_pp": ["vertebrae_pp"],
               "vertebrae_pp_refined": ["vertebrae_pp", "refine_vertebrae"]}
# The official step size: 0.8 for the task names total, total_v3 and total_mr, else 0.5.
STEP_08 = ("total", "total_v3", "total_mr")


def main() -> int:
    from totalsegmentator import map_to_binary as m2b
    from totalsegmentator import registry
    from totalsegmentator.map_tasks_config import DEFAULT_CONFIG, TASK_CONFIGS, TASK_ID_WEIGHTS_CONFIGS

    commercial_ids = set(m2b.commercial_models.values())
    license_names = {mid: name for name, mid in m2b.commercial_models.items()}
    models = {}
    for mid, info in TASK_ID_WEIGHTS_CONFIGS.items():
        version = info.get("version")
        models[str(mid)] = {
            "folder": info["foldername"],
            "release": None if version in (None, "TODO") else version,
            "license_server": mid in commercial_ids or bool(info.get("commercial")),
        }
        if mid in license_names:  # the name the licence server knows the model by
            models[str(mid)]["license_task"] = license_names[mid]
    tasks = {name: _task(name, TASK_CONFIGS[name], DEFAULT_CONFIG, registry, m2b, models)
             for name in registry.TASKS}
    source = f"TotalSegmentator {registry.package_version()}"
    CATALOG.write_text(json.dumps({"source": source, "models": models, "tasks": tasks}, indent=1) + "\n")

    maps = json.loads(CLASS_MAPS.read_text())
    for name, mapping in m2b.class_map.items():
        maps[name] = {str(k): v for k, v in mapping.items()}
    maps["parts_total_v3"] = _parts(m2b.class_map_5_parts_total_v3)
    maps["parts_headneck_muscles"] = _parts(m2b.class_map_parts_headneck_muscles)
    for table in (m2b.map_taskid_to_partname_ct, m2b.map_taskid_to_partname_ct_v3,
                  m2b.map_taskid_to_partname_mr, m2b.map_taskid_to_partname_headneck_muscles):
        maps["part_by_model_id"].update({str(k): v for k, v in table.items() if k != 517})
    CLASS_MAPS.write_text(json.dumps(maps, indent=1) + "\n")
    print(f"{len(tasks)} tasks, {len(models)} models from {source} -> {CATALOG.relative_to(ROOT)}")
    _official_output()
    return 0


def _official_output() -> None:
    """The official discovery commands' output, for the tests to compare ours with."""
    import subprocess

    bin_dir = Path(sys.executable).parent
    OFFICIAL_OUTPUT.mkdir(parents=True, exist_ok=True)
    runs = {"list_tasks.txt": ["TotalSegmentator", "--list-tasks"],
            "list_classes_teeth.txt": ["TotalSegmentator", "--list-classes", "teeth"],
            "list_classes_appendicular_bones.txt": ["TotalSegmentator", "--list-classes", "appendicular_bones"],
            "info.json": ["totalseg_info", "--json"],
            "info_list_tasks.json": ["totalseg_info", "--list-tasks", "--json"]}
    for name, cmd in runs.items():
        out = subprocess.run([str(bin_dir / cmd[0]), *cmd[1:]], capture_output=True, text=True, check=True).stdout
        (OFFICIAL_OUTPUT / name).write_text(out)
    import inspect

    from totalsegmentator.python_api import totalsegmentator

    signature = [[p.name, repr(p.default)] for p in inspect.signature(totalsegmentator).parameters.values()]
    (OFFICIAL_OUTPUT / "python_api_signature.json").write_text(json.dumps(signature, indent=1) + "\n")


def _task(name: str, raw: dict, default: dict, registry, m2b, models: dict) -> dict:
    base = {**default, **{k: v for k, v in raw.items() if k != "sub_modes"}}
    subs = raw.get("sub_modes", {"default": {}})
    modes = {}
    for official, ours in MODES.items():
        sub = subs.get(official)
        if sub is None and official == "fastest" and "fast" in subs:
            sub = subs["fast"]  # official: fastest falls back to fast where only fast exists (body)
        if sub is None:
            continue
        conf = {**base, **sub}
        ids = conf["task_id"] if isinstance(conf["task_id"], list) else [conf["task_id"]]
        modes[ours] = {"models": ids, "trainer": conf["trainer"], "spacing_mm": conf["resample"]}
    usable = all(str(i) in models and (models[str(i)]["release"] or models[str(i)]["license_server"])
                 for mode in modes.values() for i in mode["models"])
    entry = {
        "modality": registry.task_modality(name).lower(),
        "license": registry.requires_license(name),
        "modes": modes,
        "configuration": base["model"],
        "plans": base["plans"] or "nnUNetPlans",
        "folds": base["folds"],
        "step_size": 0.8 if name in STEP_08 else 0.5,
        "part_set": PART_SETS.get(name),
        "crop": _crop(name, base),
        "remove_outside": None if base["remove_outside"] is None else {
            "classes": base["remove_outside"], "dilation_mm": base["remove_outside_dilation"]},
        "aux_labels": sorted(m2b.class_map.get(f"{name}_auxiliary", {})),
        "postprocess": POSTPROCESS.get(name, []),
        "disallow_fast": bool(raw.get("disallow_fast", False)),
        "info": raw.get("info_msg", "").strip() or None,
        "usable": usable and isinstance(base["crop"], (list, type(None))),
    }
    if name == "total_v3":
        entry["small_plans"] = "nnUNetResEncUNetLPlans_8"  # official get_task_config, --model_size small
    if name == "vertebrae_pp_refined":
        entry["refine_task"] = "vertebrae_body"  # official python_api: an extra 305 run before the main one
    return entry


def _crop(name: str, conf: dict) -> dict | None:
    """The official crop rule: a rough run, its union of ``classes``, the bbox plus ``margin_mm``.

    ``source`` is ``total`` (298 at 6 mm; 297 at 3 mm when robust; 852 for ``*_mr`` tasks), ``body``
    (300, when the classes are body classes) or the name of a nested task (``crop_model``). The
    configured margins are used only with a nested task: crops from a total or body model get 20 mm.
    """
    crop = conf["crop"]
    if not isinstance(crop, list):
        return None
    if conf["crop_model"] is not None:
        return {"classes": crop, "source": conf["crop_model"], "margin_mm": conf["crop_addon"][0], "robust": False}
    body = "body_trunc" in crop or "body_extremities" in crop
    return {"classes": crop, "source": "body" if body else "total", "margin_mm": 20,
            "robust": bool(conf["robust_crop"])}


def _parts(part_maps: dict) -> dict:
    return {part: {str(k): v for k, v in mapping.items()} for part, mapping in part_maps.items()}


if __name__ == "__main__":
    sys.exit(main())
