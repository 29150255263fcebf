"""A CT-like trunk phantom with the ``total`` task's labels laid out as in an adult, in world
coordinates: spine C1 to sacrum with its cord, ribs at their thoracic levels, lungs split into
lobes, heart, great vessels, abdominal organs, pelvis. Sizes, levels, body shape, voxel size,
contrast and storage orientation vary with the seed; every structure lies inside the image. The
clean cases of the QC benchmark and the known answers of its tests."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from totalseg.anatomy.class_maps import class_map
from totalseg.imaging.volume import LabelVolume, Volume
from totalseg.qc.reference import VERTEBRAE

_HU_NATIVE = {"liver": 60, "spleen": 50, "kidney": 35, "blood": 45, "bone": 380, "muscle": 50, "lung": -850,
              "air": -950, "fluid": 15, "soft": 40}
_HU_CONTRAST = {**_HU_NATIVE, "liver": 110, "spleen": 120, "kidney": 180, "blood": 220}


@dataclass
class _Canvas:
    """Labels and HU on an (x, y, z) grid of patient mm (x left, y anterior, z head)."""

    axes: tuple[np.ndarray, np.ndarray, np.ndarray]
    labels: np.ndarray
    image: np.ndarray
    ids: dict[str, int]
    hu: dict[str, float]

    def paint(self, name: str, tissue: str, mask_fn, lo: np.ndarray, hi: np.ndarray, clip=None) -> None:
        """Label voxels inside the box ``lo``..``hi`` (mm) where ``mask_fn(x, y, z)`` holds."""
        sl = tuple(slice(int(np.searchsorted(a, low)), int(np.searchsorted(a, high, side="right")))
                   for a, low, high in zip(self.axes, lo, hi))
        x, y, z = np.meshgrid(*(a[s] for a, s in zip(self.axes, sl)), indexing="ij")
        inside = mask_fn(x, y, z)
        if clip is not None:
            inside &= clip(x, y, z)
        self.labels[sl][inside] = self.ids[name]
        self.image[sl][inside] = self.hu[tissue]

    def ellipsoid(self, name: str, tissue: str, centre, radii, clip=None) -> None:
        c, r = np.asarray(centre, float), np.asarray(radii, float)
        self.paint(name, tissue, lambda x, y, z: ((x - c[0]) / r[0]) ** 2 + ((y - c[1]) / r[1]) ** 2
                   + ((z - c[2]) / r[2]) ** 2 <= 1, c - r, c + r, clip)

    def tube(self, name: str, tissue: str, points: np.ndarray, radius: float) -> None:
        """A tube of ``radius`` along a dense polyline of points (N, 3)."""
        for p in points:
            self.ellipsoid(name, tissue, p, (radius,) * 3)


def make_trunk_phantom(
    rng: np.random.Generator, *, spacing_mm: float | None = None, contrast: bool | None = None,
) -> tuple[Volume, LabelVolume, dict[int, str]]:
    """One phantom: (CT in HU as int16, labels of the ``total`` class map, that class map).

    Examples:
        >>> image, labels, classes = make_trunk_phantom(np.random.default_rng(0), spacing_mm=6.0)
        >>> classes[5], bool((labels.array == 5).any()), image.array.dtype
        ('liver', True, dtype('int16'))
    """
    spacing = float(spacing_mm if spacing_mm is not None else rng.choice([3.5, 4.0, 5.0]))
    contrast = bool(rng.random() < 0.5) if contrast is None else contrast
    classes = class_map("total")
    f = rng.uniform(0.92, 1.08)  # body scale
    pitch = np.r_[np.full(7, 15.0), np.linspace(20, 28, 12), np.linspace(33, 36, 5), 34.0] * f
    z_levels = -np.cumsum(np.r_[0, pitch[:-1]])  # C1 at 0 .. S1
    W, D = rng.uniform(140, 175), rng.uniform(100, 125)  # body half width, half depth
    yc = 0.0  # vertebral bodies
    yb = yc - 70 + D  # body centre
    lo = np.array([-W - 25, yc - 100, z_levels[-1] - 260 * f])
    hi = np.array([W + 25, yb + D + 25, 45.0])
    axes = tuple(np.arange(low, high, spacing) for low, high in zip(lo, hi))
    shape = tuple(len(a) for a in axes)
    hu = _HU_CONTRAST if contrast else _HU_NATIVE
    canvas = _Canvas(axes, np.zeros(shape, np.uint8), np.full(shape, -1000.0), {v: k for k, v in classes.items()}, hu)
    _body(canvas, W, D, yb, z_levels, f)
    geo = {"z": dict(zip(VERTEBRAE, z_levels)), "pitch": dict(zip(VERTEBRAE, pitch)), "W": W, "D": D, "yb": yb,
           "f": f, "yc": yc, "rng": rng}
    for part in (_thorax, _abdomen, _pelvis, _tubes, _spine, _ribs):
        part(canvas, geo)
    image = canvas.image + rng.normal(0, 15, shape)
    return _stored(rng, np.round(image).astype(np.int16), canvas.labels, lo, spacing, classes)


def _body(c: _Canvas, W: float, D: float, yb: float, z_levels: np.ndarray, f: float) -> None:
    x, y = np.meshgrid(c.axes[0], c.axes[1], indexing="ij")
    z = c.axes[2]
    inz = (z <= 40) & (z >= z_levels[-1] - 250 * f)
    r = (x / W) ** 2 + ((y - yb) / D) ** 2
    c.image[(r <= 1)[..., None] & inz] = -100.0
    c.image[(r <= (1 - 15 / min(W, D)) ** 2)[..., None] & inz] = 40.0


def _interior(geo: dict, margin: float):
    W, D, yb = geo["W"], geo["D"], geo["yb"]
    return lambda x, y, z: (x / (W - 20 - margin)) ** 2 + ((y - yb) / (D - 18 - margin)) ** 2 <= 1


def _at(geo: dict, level: str, frac: float = 0.0) -> float:
    """World z of a vertebra's centre, ``frac`` of a pitch towards the feet."""
    return geo["z"][f"vertebrae_{level}"] - frac * geo["pitch"][f"vertebrae_{level}"]


def _jit(geo: dict, *values: float, s: float = 0.06) -> np.ndarray:
    return np.asarray(values) * geo["rng"].uniform(1 - s, 1 + s, len(values))


def _thorax(c: _Canvas, geo: dict) -> None:
    yb, clip = geo["yb"], _interior(geo, 8)
    zc = _at(geo, "T6")
    for side in (1, -1):
        cx, cy = 68 * side, yb - 15
        radii = _jit(geo, 62, 76, 125 * geo["f"], s=0.05)
        def lobe_fn(which, side=side, cx=cx, cy=cy, radii=radii):
            def fn(x, y, z):
                inside = ((x - cx) / radii[0]) ** 2 + ((y - cy) / radii[1]) ** 2 + ((z - zc) / radii[2]) ** 2 <= 1
                front = (z - zc) > -0.9 * (y - cy) - 20  # the oblique fissure
                upper = (z - zc) > 10  # the right horizontal fissure
                part = {"upper": front & (upper if side < 0 else True), "middle": front & ~upper, "lower": ~front}
                return inside & part[which]
            return fn
        s = "left" if side > 0 else "right"
        names = [(w, f"lung_{w}_lobe_{s}") for w in (("upper", "lower") if side > 0 else ("upper", "middle", "lower"))]
        for which, name in names:
            c.paint(name, "lung", lobe_fn(which), np.r_[cx, cy, zc] - radii, np.r_[cx, cy, zc] + radii, clip)
    c.ellipsoid("heart", "blood", (22, yb + 10, _at(geo, "T8")), _jit(geo, 52, 45, 55), clip)
    c.ellipsoid("sternum", "bone", (0, yb + geo["D"] - 22, _at(geo, "T5")), (14, 7, 75 * geo["f"]))


def _abdomen(c: _Canvas, geo: dict) -> None:
    yb, clip = geo["yb"], _interior(geo, 10)
    c.ellipsoid("liver", "liver", (-62, yb - 5, _at(geo, "T11", 0.5)), _jit(geo, 85, 78, 66), clip)
    c.ellipsoid("spleen", "spleen", (92, yb - 40, _at(geo, "T11", 0.5)), _jit(geo, 33, 50, 46, s=0.05), clip)
    c.ellipsoid("stomach", "fluid", (52, yb + 25, _at(geo, "T11")), _jit(geo, 40, 32, 50), clip)
    c.ellipsoid("kidney_left", "kidney", (72, 20, _at(geo, "L1")), _jit(geo, 28, 26, 52), clip)
    c.ellipsoid("kidney_right", "kidney", (-72, 20, _at(geo, "L1", 0.5)), _jit(geo, 28, 26, 52), clip)
    for side, name in ((1, "iliopsoas_left"), (-1, "iliopsoas_right")):
        c.ellipsoid(name, "muscle", (36 * side, 18, _at(geo, "L4")), (16, 16, 95 * geo["f"]))
    for side, name in ((1, "autochthon_left"), (-1, "autochthon_right")):
        zt, zl = _at(geo, "T1"), _at(geo, "L5")
        c.ellipsoid(name, "muscle", (32 * side, -40, (zt + zl) / 2), (14, 14, (zt - zl) / 2))


def _tubes(c: _Canvas, geo: dict) -> None:
    """Great vessels and airways, painted over the organs they pass."""
    c.tube("aorta", "blood", _line((22, 40, _at(geo, "T4")), (22, 40, _at(geo, "L4")), 4), 12)
    c.tube("inferior_vena_cava", "blood", _line((-24, 42, _at(geo, "T9")), (-24, 42, _at(geo, "L4")), 4), 11)
    c.tube("trachea", "air", _line((0, 58, _at(geo, "C6")), (0, 58, _at(geo, "T4")), 4), 9)
    c.tube("esophagus", "soft", _line((-5, 38, _at(geo, "C7")), (-5, 38, _at(geo, "T10")), 4), 6)


def _pelvis(c: _Canvas, geo: dict) -> None:
    yb, z1 = geo["yb"], _at(geo, "S1")
    c.ellipsoid("urinary_bladder", "fluid", (0, yb + 30, z1 - 95 * geo["f"]), _jit(geo, 38, 32, 28))
    c.ellipsoid("sacrum", "bone", (0, -12, z1 - 55 * geo["f"]), (40, 18, 42 * geo["f"]))
    for side in (1, -1):
        s = "left" if side > 0 else "right"
        c.ellipsoid(f"gluteus_maximus_{s}", "muscle", (72 * side, -45, z1 - 100 * geo["f"]), (40, 22, 60))
        c.ellipsoid(f"hip_{s}", "bone", (88 * side, 10, z1 - 45 * geo["f"]), (20, 45, 62 * geo["f"]))
        c.ellipsoid(f"femur_{s}", "bone", (105 * side, 40, z1 - 150 * geo["f"]), (22, 22, 45))


def _spine(c: _Canvas, geo: dict) -> None:
    for i, v in enumerate(VERTEBRAE):
        t = min(i / 20, 1.0)
        p, z = geo["pitch"][v], geo["z"][v]
        rx = 12 + 10 * t
        c.ellipsoid(v, "bone", (0, 0, z), (rx, 0.8 * rx, 0.4 * p))
        c.ellipsoid(v, "bone", (0, -0.8 * rx - 16, z - 0.1 * p), (0.9 * rx, 7, 0.3 * p))
        c.ellipsoid(v, "bone", (0, -0.8 * rx - 6, z), (0.9 * rx, 10, 0.3 * p))  # pedicles join body and arch
    cord = [(0, -0.8 * (12 + 10 * min(i / 20, 1.0)) - 8, geo["z"][v]) for i, v in enumerate(VERTEBRAE[:21])]
    c.tube("spinal_cord", "soft", np.concatenate([_line(a, b, 3) for a, b in zip(cord, cord[1:])]), 4.5)


def _ribs(c: _Canvas, geo: dict) -> None:
    W, D, yb = geo["W"], geo["D"], geo["yb"]
    for k in range(1, 13):
        frac = 0.1 if k in (1, 10, 11, 12) else 0.45  # single-facet ribs at their vertebra, others at the disc above
        above = "C7" if k == 1 else f"T{k - 1}"
        zh = _at(geo, f"T{k}") + frac * (_at(geo, above) - _at(geo, f"T{k}"))
        a = {1: 0.45, 2: 0.7}.get(k, 1.0) * (W - 20)
        b = {1: 0.55, 2: 0.8}.get(k, 1.0) * (D - 18)
        end = {11: 0.0, 12: -0.4}.get(k, 1.0 if k < 8 else 0.7)
        phi = np.linspace(-np.pi / 2 + 0.25, end, 60)
        for side in (1, -1):
            arc = np.c_[side * a * np.cos(phi), yb + b * np.sin(phi), zh - 35 * (phi - phi[0]) / np.pi]
            head = _line((side * 20, -4, zh), tuple(arc[0]), 3)
            c.tube(f"rib_{'left' if side > 0 else 'right'}_{k}", "bone", np.r_[head, arc], 5.5)


def _line(a, b, step: float) -> np.ndarray:
    a, b = np.asarray(a, float), np.asarray(b, float)
    n = max(2, int(np.linalg.norm(b - a) / step) + 1)
    return a + np.linspace(0, 1, n)[:, None] * (b - a)


def _stored(rng, image, labels, lo, spacing, classes):
    """The arrays in a random storage orientation (axes permuted and flipped), the affine saying so."""
    affine = np.diag([spacing, spacing, spacing, 1.0])
    affine[:3, 3] = lo
    perm = rng.permutation(3) if rng.random() < 0.3 else np.arange(3)
    image, labels = image.transpose(perm), labels.transpose(perm)
    affine[:3, :3] = affine[:3, :3][:, perm]
    for axis in range(3):
        if rng.random() < 0.4:
            image, labels = np.flip(image, axis), np.flip(labels, axis)
            affine[:3, 3] += affine[:3, axis] * (image.shape[axis] - 1)
            affine[:3, axis] *= -1
    image, labels = np.ascontiguousarray(image), np.ascontiguousarray(labels)
    return Volume(image, affine=affine), LabelVolume(labels, affine=affine), classes
