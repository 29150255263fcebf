"""Data augmentation that decides, then does: every transform samples its parameters first
(``params = t.sample(rng)``, plain numbers, ``None`` to skip) and applies them second
(``t.apply(image, seg, params)``), so every batch can be logged and replayed exactly.

The spatial transform also cuts the patch: rotation, scaling and a cheap elastic deformation (a
coarse random displacement grid, upsampled) become one sampling grid read from the whole case with
``torch.nn.functional.grid_sample`` (linear for the image, nearest for labels, zeros outside); without
them the patch is a plain crop. The intensity transforms and their probabilities are nnU-Net v2's
defaults: Gaussian noise, Gaussian blur, brightness, contrast, low resolution, gamma (inverted and
not), mirroring along the allowed axes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage

Params = dict[str, Any]


@dataclass(frozen=True)
class SpatialTransform:
    """Patch extraction with random rotation, scaling and elastic deformation (array order Z, Y, X)."""

    patch_size: tuple[int, int, int]
    p_rotation: float = 0.2
    max_rotation_deg: float = 30.0
    p_scaling: float = 0.2
    scale_range: tuple[float, float] = (0.7, 1.4)
    p_elastic: float = 0.1
    elastic_grid: int = 4
    elastic_max_vox: float = 3.0

    def sample(self, rng: np.random.Generator, center: np.ndarray) -> Params:
        """Parameters for one patch centred at ``center`` (voxel coordinates of the case)."""
        matrix = np.eye(3)
        if rng.random() < self.p_rotation:
            angles = np.deg2rad(rng.uniform(-self.max_rotation_deg, self.max_rotation_deg, 3))
            matrix = _rotation(angles)
        if rng.random() < self.p_scaling:
            matrix = matrix * rng.uniform(*self.scale_range)
        elastic = None
        if rng.random() < self.p_elastic:
            shape = (3, *[self.elastic_grid] * 3)
            elastic = (rng.uniform(-1, 1, shape) * rng.uniform(0, self.elastic_max_vox)).round(4).tolist()
        return {"center": [float(c) for c in center], "matrix": matrix.round(6).tolist(), "elastic": elastic}

    def apply(self, data: np.ndarray, seg: np.ndarray, params: Params) -> tuple[torch.Tensor, torch.Tensor]:
        """(image (C, *patch) float32, seg (1, *patch) uint8) cut from a case's (C, Z, Y, X) arrays."""
        matrix = np.array(params["matrix"])
        if params["elastic"] is None and np.array_equal(matrix, np.eye(3)):
            return _crop(data, seg, params["center"], self.patch_size)
        return _resample(data, seg, self._source_coords(params), self.patch_size)

    def _source_coords(self, params: Params) -> np.ndarray:
        axes = [np.arange(n) - n // 2 for n in self.patch_size]
        offsets = np.stack(np.meshgrid(*axes, indexing="ij")).reshape(3, -1)
        coords = np.array(params["matrix"]) @ offsets
        if params["elastic"] is not None:
            coarse = torch.tensor(params["elastic"], dtype=torch.float32)[None]
            fine = F.interpolate(coarse, size=self.patch_size, mode="trilinear", align_corners=True)
            coords = coords + fine[0].reshape(3, -1).numpy()
        return coords + np.array(params["center"])[:, None]


class IntensityTransform(Protocol):
    """A transform of the patch's values (or orientation): sample, then apply."""

    name: str

    def sample(self, rng: np.random.Generator) -> Params | None: ...

    def apply(self, image: torch.Tensor, seg: torch.Tensor, params: Params) -> tuple[torch.Tensor, torch.Tensor]: ...


@dataclass(frozen=True)
class GaussianNoise:
    name: str = "noise"
    p: float = 0.1
    max_variance: float = 0.1

    def sample(self, rng):
        if rng.random() >= self.p:
            return None
        return {"variance": float(rng.uniform(0, self.max_variance)), "seed": int(rng.integers(2**31))}

    def apply(self, image, seg, params):
        gen = torch.Generator().manual_seed(params["seed"])
        return image + torch.randn(image.shape, generator=gen) * params["variance"] ** 0.5, seg


@dataclass(frozen=True)
class GaussianBlur:
    name: str = "blur"
    p: float = 0.2
    sigma_range: tuple[float, float] = (0.5, 1.0)

    def sample(self, rng):
        return None if rng.random() >= self.p else {"sigma": float(rng.uniform(*self.sigma_range))}

    def apply(self, image, seg, params):
        blurred = ndimage.gaussian_filter(image.numpy(), sigma=(0, *[params["sigma"]] * 3))
        return torch.from_numpy(blurred), seg


@dataclass(frozen=True)
class Brightness:
    name: str = "brightness"
    p: float = 0.15
    factor_range: tuple[float, float] = (0.75, 1.25)

    def sample(self, rng):
        return None if rng.random() >= self.p else {"factor": float(rng.uniform(*self.factor_range))}

    def apply(self, image, seg, params):
        return image * params["factor"], seg


@dataclass(frozen=True)
class Contrast:
    """Scale values around the mean, keeping the original value range."""

    name: str = "contrast"
    p: float = 0.15
    factor_range: tuple[float, float] = (0.75, 1.25)

    def sample(self, rng):
        return None if rng.random() >= self.p else {"factor": float(rng.uniform(*self.factor_range))}

    def apply(self, image, seg, params):
        mean = image.mean(dim=(1, 2, 3), keepdim=True)
        lo, hi = image.amin(dim=(1, 2, 3), keepdim=True), image.amax(dim=(1, 2, 3), keepdim=True)
        return torch.clamp((image - mean) * params["factor"] + mean, lo, hi), seg


@dataclass(frozen=True)
class LowResolution:
    """Downsample (nearest) by a random zoom and upsample back (linear)."""

    name: str = "lowres"
    p: float = 0.25
    zoom_range: tuple[float, float] = (0.5, 1.0)

    def sample(self, rng):
        return None if rng.random() >= self.p else {"zoom": float(rng.uniform(*self.zoom_range))}

    def apply(self, image, seg, params):
        shape = image.shape[1:]
        small = [max(1, round(n * params["zoom"])) for n in shape]
        low = F.interpolate(image[None], size=small, mode="nearest")
        return F.interpolate(low, size=shape, mode="trilinear", align_corners=False)[0], seg


@dataclass(frozen=True)
class Gamma:
    """``x ** gamma`` on values rescaled to [0, 1] (optionally of the inverted image), mean and std kept."""

    name: str = "gamma"
    p: float = 0.3
    invert: bool = False
    gamma_range: tuple[float, float] = (0.7, 1.5)

    def sample(self, rng):
        if rng.random() >= self.p:
            return None
        # Half of the draws below 1, as nnU-Net does, since the range is not symmetric around 1.
        low, high = self.gamma_range
        gamma = rng.uniform(low, 1) if rng.random() < 0.5 and low < 1 else rng.uniform(max(low, 1), high)
        return {"gamma": float(gamma), "invert": self.invert}

    def apply(self, image, seg, params):
        x = -image if params["invert"] else image
        mean, std = x.mean(), x.std()
        lo, hi = x.min(), x.max()
        x = ((x - lo) / torch.clamp(hi - lo, min=1e-7)) ** params["gamma"] * (hi - lo) + lo
        x = (x - x.mean()) / torch.clamp(x.std(), min=1e-7) * std + mean
        return (-x if params["invert"] else x), seg


@dataclass(frozen=True)
class Mirror:
    name: str = "mirror"
    axes: tuple[int, ...] = (0, 1, 2)
    p: float = 0.5

    def sample(self, rng):
        flips = [a for a in self.axes if rng.random() < self.p]
        return {"axes": flips} if flips else None

    def apply(self, image, seg, params):
        dims = [a + 1 for a in params["axes"]]
        return torch.flip(image, dims), torch.flip(seg, dims)


@dataclass(frozen=True)
class Augmentation:
    """The spatial transform followed by a list of intensity transforms."""

    spatial: SpatialTransform
    intensity: tuple[IntensityTransform, ...] = field(default_factory=tuple)

    def sample(self, rng: np.random.Generator, center: np.ndarray) -> Params:
        """All parameters for one patch: ``{"spatial": ..., "intensity": [[name, params], ...]}``."""
        spatial = self.spatial.sample(rng, center)
        steps = [[t.name, p] for t in self.intensity if (p := t.sample(rng)) is not None]
        return {"spatial": spatial, "intensity": steps}

    def apply(self, data: np.ndarray, seg: np.ndarray, params: Params) -> tuple[torch.Tensor, torch.Tensor]:
        """The augmented patch (image float32, seg uint8) of a case for sampled ``params``."""
        image, labels = self.spatial.apply(data, seg, params["spatial"])
        by_name = {t.name: t for t in self.intensity}
        for name, p in params["intensity"]:
            image, labels = by_name[name].apply(image, labels, p)
        return image.float(), labels


def default_augmentation(patch_size: tuple[int, int, int], *, mirror_axes: tuple[int, ...] = ()) -> Augmentation:
    """nnU-Net v2's default augmentations (elastic as a cheap coarse-grid variant, p=0.1)."""
    steps: list[IntensityTransform] = [
        GaussianNoise(), GaussianBlur(), Brightness(), Contrast(), LowResolution(),
        Gamma(name="gamma_inverted", p=0.1, invert=True), Gamma(),
    ]
    if mirror_axes:
        steps.append(Mirror(axes=tuple(mirror_axes)))
    return Augmentation(SpatialTransform(tuple(patch_size)), tuple(steps))


def no_augmentation(patch_size: tuple[int, int, int]) -> Augmentation:
    """Plain patch cropping (validation)."""
    return Augmentation(SpatialTransform(tuple(patch_size), p_rotation=0, p_scaling=0, p_elastic=0))


def _rotation(angles: np.ndarray) -> np.ndarray:
    a, b, c = angles
    rx = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    ry = np.array([[np.cos(b), 0, np.sin(b)], [0, 1, 0], [-np.sin(b), 0, np.cos(b)]])
    rz = np.array([[np.cos(c), -np.sin(c), 0], [np.sin(c), np.cos(c), 0], [0, 0, 1]])
    return rz @ ry @ rx


def _crop(data, seg, center, patch) -> tuple[torch.Tensor, torch.Tensor]:
    """A patch centred at ``center``, zero-padded where it leaves the case."""
    shape = np.array(data.shape[1:])
    start = np.round(np.array(center)).astype(int) - np.array(patch) // 2
    stop = start + np.array(patch)
    lo, hi = np.maximum(start, 0), np.minimum(stop, shape)
    image = np.zeros((data.shape[0], *patch), np.float32)
    labels = np.zeros((1, *patch), np.uint8)
    if np.all(hi > lo):
        src = tuple(slice(a, b) for a, b in zip(lo, hi))
        dst = tuple(slice(a - s, b - s) for a, b, s in zip(lo, hi, start))
        image[(slice(None), *dst)] = data[(slice(None), *src)]
        labels[(slice(None), *dst)] = seg[(slice(None), *src)]
    return torch.from_numpy(image), torch.from_numpy(labels)


def _resample(data, seg, coords: np.ndarray, patch) -> tuple[torch.Tensor, torch.Tensor]:
    """Read ``data``/``seg`` at voxel coordinates ``coords`` (3, N) into a patch."""
    shape = np.array(data.shape[1:])
    lo = np.clip(np.floor(coords.min(axis=1)).astype(int) - 1, 0, shape - 1)
    hi = np.clip(np.ceil(coords.max(axis=1)).astype(int) + 2, lo + 2, None)
    hi = np.minimum(hi, shape)
    if np.any(hi <= lo) or np.any(coords.max(axis=1) < 0) or np.any(coords.min(axis=1) > shape - 1):
        return torch.zeros((data.shape[0], *patch)), torch.zeros((1, *patch), dtype=torch.uint8)
    region = tuple(slice(a, b) for a, b in zip(lo, hi))
    image = torch.from_numpy(np.array(data[(slice(None), *region)], dtype=np.float32))
    labels = torch.from_numpy(np.ascontiguousarray(seg[(slice(None), *region)]).astype(np.float32))
    size = np.maximum(hi - lo - 1, 1)
    norm = 2 * (coords - lo[:, None]) / size[:, None] - 1
    # grid_sample wants (x, y, z) = (last, middle, first) array axis in the grid's last dimension.
    grid = torch.from_numpy(norm[::-1].T.reshape(1, *patch, 3).astype(np.float32))
    out = F.grid_sample(image[None], grid, mode="bilinear", padding_mode="zeros", align_corners=True)[0]
    lab = F.grid_sample(labels[None], grid, mode="nearest", padding_mode="zeros", align_corners=True)[0]
    return out, lab.round().to(torch.uint8)
