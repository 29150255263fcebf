"""How the C heap treats the large, short-lived tensors of CPU inference (glibc only).

A U-Net forward pass on one 112 x 112 x 128 tile allocates and frees about 7 GB in blocks of
50-760 MB. glibc serves every block above 32 MB with a fresh ``mmap`` and unmaps it on ``free``,
so each block is faulted in and zeroed page by page again: 1.9 M page faults and about 3 s of
kernel time per tile on two cores, half the forward pass. :func:`keep_freed_memory` makes glibc
serve such blocks from its heap and keep freed pages for the next one; :func:`release_freed_memory`
hands the free pages back before an allocation that would otherwise land beyond the heap's
fragments (a 118-class segmentation layer's output, see :func:`~totalseg.engine.forward.forward_lean`)
and once the last tile is done, which keeps the peak close to the unmapped one.
Elsewhere (macOS, musl) both are no-ops. Measurements: docs/performance.md.
"""

from __future__ import annotations

import ctypes
import functools

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8
_LARGEST = 2**31 - 1  # mallopt takes a C int: blocks up to 2 GiB come from the heap
_keeping = False


@functools.cache
def _glibc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None


def keep_freed_memory() -> bool:
    """Serve blocks up to 2 GiB from the heap and keep freed pages for reuse; whether it applies.

    Process-wide and permanent; the ``totalseg`` command and batch workers call it before their
    first tile. The Python API leaves the process's allocator as it is unless you call it.

    Examples:
        >>> keep_freed_memory() in (True, False)
        True
    """
    global _keeping
    libc = _glibc()
    if libc is None:
        return False
    # One arena: a thread's own arena grows in 64 MB heaps and maps every larger block afresh, so
    # inference in a worker thread (totalseg batch) would not keep anything.
    _keeping = bool(libc.mallopt(_M_MMAP_THRESHOLD, _LARGEST) and libc.mallopt(_M_TRIM_THRESHOLD, _LARGEST)
                    and libc.mallopt(_M_ARENA_MAX, 1))
    return _keeping


def release_freed_memory() -> None:
    """Return the heap's free pages to the system (``malloc_trim``), if :func:`keep_freed_memory` applies."""
    if _keeping:
        _glibc().malloc_trim(0)
