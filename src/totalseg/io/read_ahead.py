"""Read an image file in a forked process while this one goes on (Linux).

``totalseg segment`` spends its first second importing torch on one core while the other idles;
an image file can be read in that second. :class:`ReadAhead` forks before the import; the child
runs :func:`~totalseg.io.readers.read_volume` and hands the voxels over in an anonymous shared
file (``memfd``, no copy through a pipe) and the affine and header through a pipe.
:func:`~totalseg.io.readers.read_volume` accepts the ReadAhead and waits for it, so errors come
where they would have come: an unreadable file is the same one-line InputError, raised when the
volume is needed; anything unexpected in the child makes the parent read the file itself.
"""

from __future__ import annotations

import mmap
import os
import pickle
import sys
import warnings
from pathlib import Path

import numpy as np

from totalseg.imaging.volume import Volume


class ReadAhead:
    """A file being read by a child process; :meth:`volume` waits for it.

    Examples:
        >>> pending = ReadAhead("ct.nii.gz")  # doctest: +SKIP
        >>> import torch  # meanwhile  # doctest: +SKIP
        >>> pending.volume().shape  # doctest: +SKIP
        (122, 101, 30)
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._memfd = os.memfd_create("totalseg-input")
        read_end, write_end = os.pipe()
        self._pid = os.fork()
        if self._pid == 0:  # the child never returns
            os.close(read_end)
            _child(self.path, self._memfd, write_end)
        os.close(write_end)
        self._pipe = read_end
        self._volume: Volume | None = None

    @staticmethod
    def applies_to(path: str | os.PathLike) -> bool:
        """Whether ``path`` is an image file this platform can read ahead (Linux: fork and memfd).

        DICOM (a folder, ``.zip`` or ``.dcm``) is read in this process: the series it holds also
        decides the default task and makes DICOM outputs possible.
        """
        from totalseg.io.dicom import is_dicom_source  # it imports the readers, which import this module

        forks = sys.platform == "linux" and hasattr(os, "memfd_create")
        return forks and Path(path).is_file() and not is_dicom_source(path)

    def volume(self) -> Volume:
        """The volume, as :func:`~totalseg.io.readers.read_volume` reads it (waits for the child)."""
        if self._volume is None:
            self._volume = self._receive()
        return self._volume

    def _receive(self) -> Volume:
        from totalseg.io.readers import read_volume  # the readers import this module

        with os.fdopen(self._pipe, "rb") as pipe:
            message = pipe.read()
        os.waitpid(self._pid, 0)
        try:
            status, payload = pickle.loads(message)  # written by our own child, above
        except Exception:  # the child died before it could answer
            status, payload = "failed", None
        if status == "failed":
            os.close(self._memfd)
            return read_volume(self.path)
        result, caught = payload
        for text, category in caught:  # the reader's warnings, as if it had run here
            warnings.warn(text, category, stacklevel=3)
        if status == "error":
            os.close(self._memfd)
            raise result
        shape, dtype, order, affine, header = result
        array = _map_array(self._memfd, shape, dtype, order)
        return Volume(array, affine=affine, header=header)


def _map_array(memfd: int, shape: tuple[int, ...], dtype: str, order: str) -> np.ndarray:
    size = int(np.prod(shape)) * np.dtype(dtype).itemsize
    try:
        if size == 0:
            return np.zeros(shape, dtype, order=order)
        return _view(mmap.mmap(memfd, size), shape, dtype, order)  # the array keeps the mapping alive
    finally:
        os.close(memfd)


def _view(buffer, shape: tuple[int, ...], dtype: str, order: str) -> np.ndarray:
    return np.frombuffer(buffer, dtype=dtype).reshape(shape, order=order)


def _child(path: Path, memfd: int, pipe: int) -> None:
    """Read ``path`` into ``memfd`` and report on ``pipe``; then exit without Python's clean-up."""
    code = 0
    try:
        with warnings.catch_warnings(record=True) as caught:
            status, result = _read_into(path, memfd)
        relayed = [(str(w.message), w.category) for w in caught]
        with os.fdopen(pipe, "wb") as out:
            out.write(pickle.dumps((status, (result, relayed))))
    except BaseException:  # the parent reads the file itself and reports whatever happens
        code = 1
    finally:
        os._exit(code)


def _read_into(path: Path, memfd: int) -> tuple[str, object]:
    """``("ok", (shape, dtype, order, affine, header))`` with the voxels in ``memfd``, or ``("error", exc)``."""
    from totalseg.errors import TotalsegError
    from totalseg.io.readers import read_volume

    try:
        vol = read_volume(path)
    except TotalsegError as exc:
        return "error", exc
    array = vol.array
    order = "F" if array.flags.f_contiguous and not array.flags.c_contiguous else "C"
    if array.nbytes:
        os.ftruncate(memfd, array.nbytes)
        with mmap.mmap(memfd, array.nbytes) as shared:
            target = _view(shared, array.shape, array.dtype.str, order)
            target[...] = array
            del target  # before the mapping closes
    return "ok", (array.shape, array.dtype.str, order, vol.affine, vol.header)
