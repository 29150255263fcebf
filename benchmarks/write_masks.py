"""Time writing 117 per-class masks: the official way (``nib.save`` per class) against ours.

Usage::

    python benchmarks/write_masks.py                     # 488x404x269, 117 classes
    python benchmarks/write_masks.py --shape 512 512 900 --skip-naive

The label volume is synthetic but shaped like a real one: ~107 irregular blobs of organ-like
sizes inside a body outline (a few long in z, like the aorta or spinal cord), 10 classes absent.
"""

from __future__ import annotations

import argparse
import gzip
import tempfile
import time
from pathlib import Path

import nibabel as nib
import numpy as np

from totalseg.imaging.volume import LabelVolume
from totalseg.io.writers import write_class_masks


def realistic_labels(
    shape: tuple[int, int, int], n_classes: int = 117, n_empty: int = 10, n_ribs: int = 24, seed: int = 0
):
    """A uint8 label volume of rib-like arcs and irregular blobs; returns (labels, ids present)."""
    rng = np.random.default_rng(seed)
    labels = np.zeros(shape, np.uint8)
    ids = rng.permutation(np.arange(1, n_classes + 1))[n_empty:]
    for class_id in ids[:n_ribs]:
        _draw_rib(labels, class_id, rng)
    for class_id in ids[n_ribs:]:
        radii = _radii(rng, shape)
        center = _center(rng, shape, radii)
        lo = np.maximum(0, (center - radii).astype(int))
        hi = np.minimum(shape, (center + radii).astype(int) + 1)
        grid = np.ogrid[tuple(slice(a, b) for a, b in zip(lo, hi))]
        rel = [(g - c) / r for g, c, r in zip(grid, center, radii)]
        wobble = 0.25 * np.sin(3 * rel[0] + rng.uniform(0, 6)) * np.cos(2 * rel[1] + 3 * rel[2])
        blob = (rel[0] ** 2 + rel[1] ** 2 + rel[2] ** 2 + wobble) < 1
        labels[tuple(slice(a, b) for a, b in zip(lo, hi))][blob] = class_id
    return labels, sorted(int(i) for i in ids)


def _draw_rib(labels: np.ndarray, class_id: int, rng) -> None:
    """A thin tilted half-ellipse around the body axis, like a rib (a large, sparse bounding box)."""
    nx, ny, nz = labels.shape
    side = rng.choice([-1, 1])
    t = np.linspace(-0.5 * np.pi, 0.5 * np.pi, 400)
    z0, tilt = rng.uniform(0.2, 0.8) * nz, rng.uniform(0.05, 0.15) * nz
    points = np.stack([nx / 2 + side * 0.38 * nx * np.cos(t), ny / 2 + 0.33 * ny * np.sin(t), z0 + tilt * np.sin(t)])
    for dx, dy, dz in np.ndindex(3, 3, 3):
        idx = np.clip(
            np.round(points).astype(int) + np.array([[dx - 1], [dy - 1], [dz - 1]]),
            0,
            np.array(labels.shape)[:, None] - 1,
        )
        labels[idx[0], idx[1], idx[2]] = class_id


def _radii(rng, shape) -> np.ndarray:
    if rng.random() < 0.06:  # long structures: aorta, spinal cord, esophagus
        return np.array([rng.uniform(4, 10), rng.uniform(4, 10), shape[2] * rng.uniform(0.3, 0.5)])
    size = rng.choice([rng.uniform(6, 15), rng.uniform(15, 35), rng.uniform(35, 70)], p=[0.35, 0.45, 0.2])
    return size * rng.uniform(0.6, 1.4, 3) * np.array([1.0, 1.0, 0.8])


def _center(rng, shape, radii) -> np.ndarray:
    angle, r = rng.uniform(0, 2 * np.pi), np.sqrt(rng.uniform(0, 1))
    x = shape[0] / 2 + 0.4 * shape[0] * r * np.cos(angle)
    y = shape[1] / 2 + 0.35 * shape[1] * r * np.sin(angle)
    z = rng.uniform(min(radii[2], shape[2] / 2), max(shape[2] - radii[2], shape[2] / 2))
    return np.array([x, y, z])


def naive_save(labels: np.ndarray, affine, header, out_dir: Path, label_map) -> None:
    """What the official tool does with one saving thread."""
    new_header = header.copy()
    new_header.set_data_dtype(np.uint8)
    for class_id, name in label_map.items():
        mask = (labels == class_id).astype(np.uint8)
        nib.save(nib.Nifti1Image(mask, affine, new_header), out_dir / f"{name}.nii.gz")


def _folder_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.glob("*.nii.gz")) / 1e6


def _check(labels: np.ndarray, folder: Path, label_map, ids) -> None:
    for class_id in [ids[0], ids[len(ids) // 2], max(label_map)]:
        path = folder / f"{label_map[class_id]}.nii.gz"
        decoded = np.asanyarray(nib.load(path).dataobj)
        assert np.array_equal(decoded, labels == class_id), path
        raw = gzip.decompress(path.read_bytes())
        assert len(raw) == 352 + labels.size, path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", type=int, nargs=3, default=(488, 404, 269))
    parser.add_argument("--skip-naive", action="store_true")
    parser.add_argument("--threads", type=int, nargs="*", default=[1, None])
    args = parser.parse_args()
    shape = tuple(args.shape)
    t0 = time.perf_counter()
    labels, ids = realistic_labels(shape)
    labels = np.asfortranarray(labels)
    print(
        f"labels {shape} ({labels.size / 1e6:.0f} M voxels), {len(ids)} of 117 classes present, "
        f"{(labels > 0).mean():.1%} labelled, made in {time.perf_counter() - t0:.1f} s"
    )
    affine = np.diag([0.8, 0.8, 1.5, 1.0])
    header = nib.Nifti1Image(np.zeros((1, 1, 1), np.int16), affine).header
    label_map = {i: f"class_{i:03d}" for i in range(1, 118)}
    vol = LabelVolume(labels, affine=affine, header=header)
    with tempfile.TemporaryDirectory() as tmp:
        if not args.skip_naive:
            folder = Path(tmp) / "naive"
            folder.mkdir()
            t0 = time.perf_counter()
            naive_save(labels, affine, header, folder, label_map)
            print(f"naive nib.save loop : {time.perf_counter() - t0:7.2f} s  ({_folder_mb(folder):.1f} MB)")
        for threads in args.threads:
            folder = Path(tmp) / f"ours_{threads}"
            t0 = time.perf_counter()
            write_class_masks(vol, folder, label_map, threads=threads)
            elapsed = time.perf_counter() - t0
            print(f"write_class_masks threads={threads}: {elapsed:7.2f} s  ({_folder_mb(folder):.1f} MB)")
            _check(labels, folder, label_map, ids)


if __name__ == "__main__":
    main()
