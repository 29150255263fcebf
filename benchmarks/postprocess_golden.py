"""Golden cases for the official post-processing steps, made by TotalSegmentator 2.18.0 itself.

Usage (the official tool's venv; nothing is downloaded, no model runs)::

    .bench/official-venv/bin/python benchmarks/postprocess_golden.py

builds seeded phantoms, runs the official functions on them the way ``nnunet.py`` calls them
(float32 header zooms, ``np.prod`` of them as the voxel volume) and writes inputs and outputs to
``tests/data/postprocess_golden/``:

- ``vertebrae.npz``: ``postprocess_vertebrae_pp`` (touching labels with fragments, C1 without L5,
  labels apart, more bodies than ids, ties, size at the threshold, unknown labels, an empty map,
  random blobs; spacings (1.5, 1.5, 1.5), (0.8, 0.8, 2.5) and odd ones), the case where the
  official code raises, ``refine_vertebrae_pp_with_body_mask`` and ``get_ellipsoid_structuring_element``;
- ``blobs.npz``: ``keep_largest_blob_multilabel``, ``remove_small_blobs_multilabel``;
- ``masks.npz``: ``remove_auxiliary_labels``, ``remove_outside_of_mask`` (margins 0, 1, 3, -1, an
  empty mask) and the margin in voxels ``nnunet.py`` computes for it;
- ``skin.npz``: ``libs.combine_masks(folder, "body")`` on per-class files and ``extract_skin`` on
  CT-like images (values on both thresholds, int16 and float64).

Each file holds ``meta`` (JSON: the cases and their parameters) and ``<case>/<array>`` arrays.
``tests/engine/test_postprocess_official.py`` requires totalseg's ports to give the same arrays.
Seeded, with fixed zip member times: a rerun writes the same bytes.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import nibabel as nib
import numpy as np
from npz import save_npz
from scipy import ndimage
from totalsegmentator.libs import combine_masks
from totalsegmentator.map_to_binary import class_map
from totalsegmentator.postprocessing import (
    extract_skin,
    get_ellipsoid_structuring_element,
    keep_largest_blob_multilabel,
    postprocess_vertebrae_pp,
    refine_vertebrae_pp_with_body_mask,
    remove_auxiliary_labels,
    remove_outside_of_mask,
    remove_small_blobs_multilabel,
)

OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "postprocess_golden"
VERTEBRAE = class_map["vertebrae_pp"]
SHAPE = (40, 40, 60)
ISO, ANISO, ODD = (1.5, 1.5, 1.5), (0.8, 0.8, 2.5), (1.2, 0.9, 3.1)


def zooms(spacing) -> tuple:
    """The spacing as ``header.get_zooms()`` gives it: a tuple of float32."""
    img = nib.Nifti1Image(np.zeros((2, 2, 2), np.uint8), np.diag([*spacing, 1.0]))
    return img.header.get_zooms()


def ellipsoid(shape, centre, radii) -> np.ndarray:
    """Voxels within the ellipsoid ``centre``, ``radii`` (in voxels)."""
    grids = np.ogrid[tuple(slice(0, n) for n in shape)]
    return sum(((g - c) / r) ** 2 for g, c, r in zip(grids, centre, radii)) <= 1


def column(rng, *, count, shape=SHAPE, height=6.0, gap=2.0, z0=3.0) -> list[np.ndarray]:
    """``count`` vertebral bodies stacked bottom to top along z, jittered, ``gap`` voxels apart."""
    bodies, z = [], z0
    for _ in range(count):
        h = height + rng.uniform(-1, 1)
        centre = (shape[0] / 2 + rng.uniform(-2, 2), shape[1] / 2 + rng.uniform(-2, 2), z + h / 2)
        bodies.append(ellipsoid(shape, centre, (rng.uniform(6, 9), rng.uniform(5, 8), h / 2)))
        z += h + gap
    return bodies


def paint(bodies, labels, shape=SHAPE) -> np.ndarray:
    """A uint8 map with ``bodies[i]`` painted ``labels[i]`` (later bodies on top)."""
    out = np.zeros(shape, np.uint8)
    for body, label in zip(bodies, labels):
        out[body] = label
    return out


def leak(seg, body, label, rng) -> None:
    """Relabel the upper part of ``body`` (a random cut) as ``label``: two labels touch inside it."""
    zs = np.nonzero(body)[2]
    cut = int(rng.integers(zs.min() + 1, zs.max() + 1))
    part = body.copy()
    part[:, :, :cut] = False
    seg[part] = label


def fragments(seg, rng, labels, *, count, max_size=6) -> None:
    """``count`` small boxes of random ``labels`` at random places (may overwrite or touch)."""
    for _ in range(count):
        size = rng.integers(1, max_size + 1, 3)
        at = [int(rng.integers(0, n - s)) for n, s in zip(seg.shape, size)]
        seg[tuple(slice(a, a + s) for a, s in zip(at, size))] = rng.choice(labels)


def random_blobs(rng, *, shape=SHAPE, level=0.55, sigma=3.0) -> np.ndarray:
    """A seeded smooth random field thresholded into blobs (bool)."""
    field = ndimage.gaussian_filter(rng.random(shape), sigma)
    field = (field - field.min()) / (field.max() - field.min())
    return field > level


def random_vertebrae(rng, *, level) -> np.ndarray:
    """Random blobs labelled by z band (lower = higher id) with noise flips: many touching labels."""
    blobs = random_blobs(rng, level=level)
    band = 24 - (np.arange(SHAPE[2]) // 6)
    seg = np.where(blobs, band[None, None, :], 0).astype(np.uint8)
    flip = blobs & (rng.random(SHAPE) < 0.05)
    seg[flip] = rng.integers(10, 25, int(flip.sum()))
    return seg


def vertebrae_inputs() -> list[tuple[str, np.ndarray, tuple, str]]:
    """(name, labels, spacing, what) of every ``postprocess_vertebrae_pp`` case."""
    rng = np.random.default_rng(803)
    cases = []
    bodies = column(rng, count=7)  # bottom to top: L5, L4, ..., T11
    seg = paint(bodies, range(24, 17, -1))
    leak(seg, bodies[2], 21, rng)
    fragments(seg, rng, [19, 20, 22, 24], count=8)
    cases.append(("leak-lumbar-iso", seg, ISO, "T11-L5 with a leak and fragments, 1.5 mm"))
    seg = paint(bodies, range(24, 17, -1))
    leak(seg, bodies[4], 19, rng)
    fragments(seg, rng, [18, 21], count=4, max_size=4)
    cases.append(("leak-lumbar-aniso", seg, ANISO, "the same column at 0.8 x 0.8 x 2.5 mm"))
    top = column(rng, count=6, gap=2.5, z0=8.0)[::-1]  # top to bottom: C1, C2, ...
    seg = paint(top, range(1, 7))
    leak(seg, top[3], 3, rng)
    seg[2:4, 2:4, 0:3] = 24  # an L5 fragment below 100 mm3: L5 is absent once it is dropped
    cases.append(("c1-no-l5-aniso", seg, ANISO, "C1-C6, no L5 after cleaning: numbered from the top"))
    seg = paint(top, range(1, 7))
    leak(seg, top[1], 1, rng)
    cases.append(("c1-no-l5-iso", seg, ISO, "C1-C6 from the top, 1.5 mm"))
    apart = column(rng, count=5, gap=3.0)
    seg = paint(apart, [24, 22, 23, 20, 21])
    cases.append(("apart-aniso", seg, ANISO, "labels not touching, wrong order: only the regrowth"))
    cases.append(("apart-iso-odd", paint(apart, [24, 22, 23, 20, 21]), ODD, "labels apart, 1.2 x 0.9 x 3.1 mm"))
    cases.append(("empty", np.zeros(SHAPE, np.uint8), ISO, "an empty map"))
    many = column(rng, count=6)
    seg = paint(many, [3, 2, 2, 3, 2, 3])
    leak(seg, many[0], 2, rng)
    cases.append(("more-bodies-than-ids", seg, ISO, "6 bodies, highest id 3: ids run out at the top"))
    seg = np.zeros(SHAPE, np.uint8)
    seg[5:7, 5:7, 5:7], seg[5:7, 5:7, 7:9] = 20, 21
    seg[20:22, 20:22, 30:33] = 22
    cases.append(("all-small", seg, ISO, "touching labels, every body below 100 mm3: all zero"))
    seg = paint(column(rng, count=3), [30, 31, 30])
    seg[:, :, 6:8][seg[:, :, 6:8] > 0] = 31
    cases.append(("unknown-touching", seg, ISO, "ids 30, 31 (not vertebrae) touching: all zero"))
    cases.append(("unknown-apart", paint(column(rng, count=3), [30, 7, 31]), ISO, "ids 30, 31 apart: kept as they are"))
    cases += tie_inputs()
    cases.append(("size-threshold", size_threshold_input(), (1.0, 1.0, 1.0), "bodies of 100 and 99 voxels at 1 mm3"))
    cases += float32_volume_inputs()
    both = column(rng, count=5)
    seg = paint(both, [24, 20, 12, 5, 1])
    leak(seg, both[3], 4, rng)
    cases.append(("c1-and-l5", seg, ISO, "C1 and L5 present: numbered from the bottom"))
    for seed, spacing, level in ((1, ODD, 0.55), (2, (0.7, 0.7, 2.0), 0.55), (3, (1.4985, 1.5021, 1.5), 0.55),
                                 (4, (0.7, 0.7, 2.0), 0.62)):
        cases.append((f"random-{seed}", random_vertebrae(np.random.default_rng(seed), level=level), spacing,
                      f"random blobs over {level}, banded labels with 5 % flips, {spacing} mm"))
    seg = np.zeros(SHAPE, np.uint8)
    seg[10:20, 10:20, 10:20], seg[10:20, 10:20, 20:30] = 20, 21
    cases.append(("single-component", seg, ISO, "two touching labels, one body: the official code raises"))
    return cases


def tie_inputs() -> list[tuple[str, np.ndarray, tuple, str]]:
    """Two bodies side by side (equal z-centroids) below and above others: numbered in scan order."""
    seg = np.zeros(SHAPE, np.uint8)
    seg[4:14, 10:20, 4:10], seg[24:34, 10:20, 4:10] = 24, 23
    seg[10:30, 10:20, 14:20], seg[10:30, 10:20, 24:30] = 22, 21
    seg[10:30, 10:20, 27:30] = 20
    bottom = seg.copy()
    top = np.zeros(SHAPE, np.uint8)
    top[4:14, 10:20, 50:56], top[24:34, 10:20, 50:56] = 1, 2
    top[10:30, 10:20, 40:46], top[10:30, 10:20, 43:46] = 3, 4
    return [("tie-bottom", bottom, ISO, "equal z-centroids, counted from the bottom"),
            ("tie-top", top, ISO, "equal z-centroids, counted from the top")]


def float32_volume_inputs() -> list[tuple[str, np.ndarray, tuple, str]]:
    """Bodies whose fate turns on the voxel volume being the float32 product of float32 zooms.

    (1.25, 1.25, 1.28): float32 product 2.0, float64 product 1.99999996: 50 voxels are 100 mm3
    (kept). (0.64, 1.25, 1.25): float32 product 0.99999994, float64 1.0: 100 voxels fall short.
    """
    kept = np.zeros(SHAPE, np.uint8)
    kept[5:10, 5:10, 5:7], kept[5:10, 5:10, 6:7] = 24, 23  # 50 voxels, two labels touching
    kept[20:30, 20:30, 30:40] = 22
    dropped = np.zeros(SHAPE, np.uint8)
    dropped[5:10, 5:10, 5:9], dropped[5:10, 5:10, 8:9] = 24, 23  # 100 voxels
    dropped[20:30, 20:30, 30:40] = 22
    dropped[30:36, 5:10, 45:55] = 21  # two bodies stay: one kept body is the case the official code fails
    return [("float32-volume-kept", kept, (1.25, 1.25, 1.28), "50 voxels x float32 2.0 mm3 = 100: kept"),
            ("float32-volume-dropped", dropped, (0.64, 1.25, 1.25), "100 voxels x 0.99999994 mm3: dropped")]


def size_threshold_input() -> np.ndarray:
    """Touching labels; bodies of exactly 100 (kept: >= 100 mm3) and 99 voxels (dropped) at 1 mm."""
    seg = np.zeros(SHAPE, np.uint8)
    seg[5:10, 5:10, 5:9] = 24  # 100 voxels
    seg[5:10, 5:10, 7:9] = 23
    seg[20:23, 20:23, 20:31] = 22  # 99 voxels
    seg[20:30, 20:30, 40:50] = 21
    return seg


def vertebrae_case(name, seg, spacing, what) -> tuple[dict, dict]:
    """Run the official post-processing as ``nnunet.py`` calls it; (meta, arrays)."""
    z = zooms(spacing)
    meta = {"name": name, "what": what, "spacing": [float(v) for v in z]}
    arrays = {f"{name}/labels": seg}
    try:
        out = postprocess_vertebrae_pp(seg.copy(), VERTEBRAE, voxel_volume=np.prod(z), voxel_spacing=z)
        arrays[f"{name}/expected"] = out
        meta["error"] = None
    except Exception as error:  # recorded: the test checks that this case still fails officially
        meta["error"] = type(error).__name__
    return meta, arrays


def refine_cases() -> tuple[list, dict]:
    """``refine_vertebrae_pp_with_body_mask`` on bodies and a vertebrae_body map (1 body, 2 disc)."""
    rng = np.random.default_rng(305)
    metas, arrays = [], {}
    for name, spacing in (("refine-aniso", ANISO), ("refine-odd", ODD), ("refine-0.976x3", (0.976, 0.976, 3.0))):
        bodies = column(rng, count=6)
        seg = paint(bodies, range(24, 18, -1))
        grown = ndimage.binary_dilation(seg > 0, iterations=2)
        body = np.where(grown & (rng.random(SHAPE) < 0.95), 1, 0).astype(np.uint8)
        body[ndimage.binary_dilation(grown, iterations=1) & ~grown] = 2
        z = zooms(spacing)
        out = refine_vertebrae_pp_with_body_mask(seg.copy(), body, VERTEBRAE, voxel_spacing=z, dilation_mm=2)
        metas.append({"name": name, "spacing": [float(v) for v in z]})
        arrays |= {f"{name}/labels": seg, f"{name}/body": body, f"{name}/expected": out}
    return metas, arrays


def kernel_cases() -> tuple[list, dict]:
    """Ellipsoid structuring elements over spacings and radii (radius 0 included)."""
    spacings = [ISO, ANISO, ODD, (1.0, 1.0, 1.0), (0.7, 0.7, 2.0), (0.390625, 0.390625, 0.5000016),
                (0.976562, 0.976562, 3.0), (3.0, 3.0, 3.0), (1.4985, 1.5021, 1.5), (6.0, 6.0, 6.0), (0.3, 0.6, 0.9)]
    metas, arrays = [], {}
    for i, spacing in enumerate(spacings):
        for radius in (0, 1, 2, 3):
            name = f"kernel-{i}-r{radius}"
            z = zooms(spacing)
            metas.append({"name": name, "spacing": [float(v) for v in z], "radius_mm": radius})
            arrays[f"{name}/expected"] = get_ellipsoid_structuring_element(z, radius)
    return metas, arrays


def vertebrae_file() -> dict[str, np.ndarray]:
    """Everything of ``vertebrae.npz``."""
    metas, arrays = [], {}
    for case in vertebrae_inputs():
        meta, more = vertebrae_case(*case)
        metas.append(meta)
        arrays |= more
    refine_meta, refine_arrays = refine_cases()
    kernel_meta, kernel_arrays = kernel_cases()
    meta = {"postprocess": metas, "refine": refine_meta, "kernels": kernel_meta, "class_map": VERTEBRAE}
    return {"meta": np.array(json.dumps(meta)), **arrays, **refine_arrays, **kernel_arrays}


def labelled_blobs(rng, *, labels=(1, 2, 3, 4), shape=SHAPE) -> np.ndarray:
    """Random blobs, each 6-connected component one random label of ``labels``."""
    components, count = ndimage.label(random_blobs(rng, level=0.6, sigma=2.0, shape=shape))
    lut = np.concatenate([[0], rng.choice(labels, count)]).astype(np.uint8)
    return lut[components]


def blob_file() -> dict[str, np.ndarray]:
    """Everything of ``blobs.npz``: keep-largest and remove-small, per label, as ``nnunet.py`` calls them."""
    rng = np.random.default_rng(299)
    names = {1: "body_trunc", 2: "body_extremities", 3: "c", 4: "d"}
    metas, arrays = [], {}
    seg = labelled_blobs(rng)
    seg[0:5, 0:5, 0:4], seg[0:5, 10:15, 0:4] = 3, 3  # two equal 100-voxel blobs (ties if the largest)
    for name, rois in (("largest-trunc", ["body_trunc"]), ("largest-many", ["body_trunc", "c", "d"])):
        out = keep_largest_blob_multilabel(seg.copy(), names, rois, quiet=True)
        metas.append({"name": name, "kind": "largest", "rois": rois})
        arrays |= {f"{name}/labels": seg, f"{name}/expected": out}
    tie = np.zeros((10, 10, 10), np.uint8)
    tie[0:2, 0:2, 0:2], tie[5:7, 5:7, 5:7], tie[9, 9, 9] = 1, 1, 1
    metas.append({"name": "largest-tie", "kind": "largest", "rois": ["body_trunc"]})
    arrays |= {"largest-tie/labels": tie,
               "largest-tie/expected": keep_largest_blob_multilabel(tie.copy(), names, ["body_trunc"], quiet=True)}
    seg = labelled_blobs(rng, labels=(1, 2))
    for box in ((slice(30, 38), slice(0, 10), slice(50, 55)), (slice(0, 8), slice(30, 40), slice(50, 55)),
                (slice(20, 29), slice(20, 29), slice(0, 5))):  # 400, 400 and 405 voxels
        seg[tuple(slice(max(b.start - 1, 0), b.stop + 1) for b in box)] = 0
        seg[box] = 2
    seg[20, 20, 0] = 0  # 404 voxels: kept where the threshold is 400 or 402
    for name, spacing, rois in (("small-5mm", (5.0, 5.0, 5.0), ["body_extremities"]),
                                ("small-6mm", (6.0, 6.0, 6.0), ["body_extremities", "body_trunc"]),
                                ("small-odd", (5.0, 5.0, 4.975), ["body_extremities"])):
        z = zooms(spacing)
        min_voxels = 50000 / np.prod(z)
        out = remove_small_blobs_multilabel(seg.copy(), names, rois, interval=[min_voxels, 1e10], quiet=True)
        metas.append({"name": name, "kind": "small", "rois": rois, "spacing": [float(v) for v in z],
                      "mm3": 50000})
        arrays |= {f"{name}/labels": seg, f"{name}/expected": out}
    return {"meta": np.array(json.dumps({"cases": metas, "class_map": names})), **arrays}


def mask_file() -> dict[str, np.ndarray]:
    """Everything of ``masks.npz``: auxiliary labels, remove-outside and its margin in voxels."""
    rng = np.random.default_rng(304)
    metas, arrays = [], {}
    seg = rng.integers(0, 16, (16, 16, 16)).astype(np.uint8)
    affine = np.diag([1.5, 1.5, 1.5, 1.0])
    for task in ("appendicular_bones", "total"):
        out = remove_auxiliary_labels(nib.Nifti1Image(seg.astype(np.float64), affine), task)
        metas.append({"name": f"aux-{task}", "kind": "aux",
                      "ids": sorted(class_map.get(f"{task}_auxiliary", {}))})
        arrays |= {f"aux-{task}/labels": seg, f"aux-{task}/expected": out.get_fdata().astype(np.uint8)}
    seg = labelled_blobs(rng, labels=(1, 2, 5))
    mask = ellipsoid(SHAPE, (20, 20, 30), (10, 8, 15)).astype(np.uint8)
    arrays |= {"outside/labels": seg, "outside/mask": mask}
    for addon, empty in ((0, False), (1, False), (3, False), (-1, False), (0, True), (2, True)):
        name = f"outside-{addon}{'-empty' if empty else ''}"
        m = np.zeros_like(mask) if empty else mask
        out = remove_outside_of_mask(seg.copy(), m.astype(np.float64), addon=addon)
        metas.append({"name": name, "kind": "outside", "addon": addon, "empty_mask": empty})
        arrays[f"{name}/expected"] = out.astype(np.uint8)
    margins = []
    for spacing in (ISO, ANISO, ODD, (0.976562, 0.976562, 3.0), (0.3, 0.3, 0.3), (12.0, 12.0, 12.0)):
        z = zooms(spacing)
        margins.append({"spacing": [float(v) for v in z], "mm": 10, "voxels": int(10 / np.mean(z))})
    return {"meta": np.array(json.dumps({"cases": metas, "margins": margins})), **arrays}


TINY_PIECES = ((0, 31, 20), (31, 2, 25), (slice(31, 32), 0, slice(10, 12)))  # skin blobs of 5, 6 and 8 voxels


def ct_phantom(rng, labels, *, dtype) -> np.ndarray:
    """A CT-like image: air outside the body, soft tissue inside, a bone core, values on the skin thresholds."""
    noise = np.round(rng.normal(0, 6, labels.shape)) * 10  # 10 HU steps: the file stays small
    ct = np.where(labels > 0, 20 + noise, -1000 + noise / 3)
    ct[ndimage.binary_erosion(labels == 1, iterations=6)] = 700
    spots = rng.random(labels.shape)
    for value, below in ((-200, 0.03), (250, 0.06), (-199, 0.08), (249, 0.10), (-500, 0.14), (600, 0.17)):
        ct[(spots >= below - 0.03) & (spots < below)] = value
    for at in TINY_PIECES:  # soft tissue around the tiny body pieces: their whole skin counts
        piece = np.zeros(labels.shape, bool)
        piece[at] = True
        ct[ndimage.binary_dilation(piece)] = 40
    if dtype == np.float64:
        ct[(spots >= 0.17) & (spots < 0.19)] = -200 + 1e-9
        ct[(spots >= 0.19) & (spots < 0.21)] = 250 - 1e-9
        return ct
    return np.round(ct).astype(dtype)


def body_labels(shape=(32, 32, 30)) -> np.ndarray:
    """A trunk (label 1) through the whole z range and two arms (label 2), one on an x face."""
    seg = np.zeros(shape, np.uint8)
    seg[ellipsoid(shape, (16, 16, 15), (10, 7, 30))] = 1
    seg[ellipsoid(shape, (3, 16, 15), (2.5, 2.5, 10))] = 2
    seg[ellipsoid(shape, (30, 16, 15), (2.5, 2.5, 10))] = 2
    for at in TINY_PIECES:
        seg[at] = 2
    return seg


def skin_case(name, labels, ct) -> tuple[dict, dict]:
    """The official ``body.nii.gz`` and ``skin.nii.gz`` from per-class files, as ``nnunet.py`` makes them."""
    affine = np.diag([0.8, 0.8, 2.5, 1.0])
    names = class_map["body"]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for label, part in names.items():
            nib.save(nib.Nifti1Image((labels == label).astype(np.uint8), affine), folder / f"{part}.nii.gz")
        nib.save(combine_masks(folder, "body"), folder / "body.nii.gz")
        body_img = nib.load(folder / "body.nii.gz")
        body = np.asanyarray(body_img.dataobj)
        skin = extract_skin(nib.Nifti1Image(ct, affine), body_img)
    meta = {"name": name, "ct_dtype": str(ct.dtype), "body_dtype": str(body.dtype)}
    return meta, {f"{name}/labels": labels, f"{name}/ct": ct, f"{name}/body": body,
                  f"{name}/expected": np.asanyarray(skin.dataobj)}


def skin_file() -> dict[str, np.ndarray]:
    """Everything of ``skin.npz``."""
    rng = np.random.default_rng(300)
    labels = body_labels()
    metas, arrays = [], {}
    for name, seg, ct in (("skin-int16", labels, ct_phantom(rng, labels, dtype=np.int16)),
                          ("skin-float64", labels, ct_phantom(rng, labels, dtype=np.float64)),
                          ("skin-empty", np.zeros_like(labels), ct_phantom(rng, labels, dtype=np.int16))):
        meta, more = skin_case(name, seg, ct)
        metas.append(meta)
        arrays |= more
    return {"meta": np.array(json.dumps({"cases": metas, "class_map": class_map["body"]})), **arrays}


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, build in (("vertebrae", vertebrae_file), ("blobs", blob_file), ("masks", mask_file),
                        ("skin", skin_file)):
        path = OUT / f"{name}.npz"
        save_npz(path, build())
        print(f"{path.relative_to(OUT.parents[2])}: {path.stat().st_size / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
