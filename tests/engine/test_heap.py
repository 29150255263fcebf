"""glibc heap settings: freed large blocks are reused, and released on request."""

import subprocess
import sys

import pytest

from totalseg.engine.heap import _glibc

pytestmark = pytest.mark.skipif(_glibc() is None, reason="needs glibc (mallopt, malloc_trim)")

# Minor page faults of re-allocating a freed 256 MiB block, and the resident size after a release.
# In a subprocess: the settings are process-wide and permanent.
PROBE = """
import resource, sys
import numpy as np
from totalseg.engine.heap import keep_freed_memory, release_freed_memory
np._core.multiarray._set_madvise_hugepage(False)  # count 4 KiB pages, as torch's tensors have them
if sys.argv[1] == "keep":
    assert keep_freed_memory()
def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096
def reallocate():
    block = np.ones(2**25)  # 256 MiB, every page touched
    del block
    before = faults()
    block = np.ones(2**25)
    print(faults() - before)
if sys.argv[2] == "thread":  # as batch workers run inference
    import threading
    worker = threading.Thread(target=reallocate)
    worker.start()
    worker.join()
else:
    reallocate()
release_freed_memory()
print(rss() // 2**20)
"""


def probe(mode: str, where: str = "main") -> tuple[int, int]:
    done = subprocess.run([sys.executable, "-c", PROBE, mode, where], capture_output=True, text=True, check=True)
    faults, rss_mib = map(int, done.stdout.split())
    return faults, rss_mib


def test_kept_blocks_are_reused_without_page_faults_and_released_on_request():
    default_faults, _ = probe("default")
    kept_faults, kept_rss = probe("keep")
    assert default_faults > 60_000  # 65,536 pages of 4 KiB: the block is faulted in anew
    assert kept_faults < 1_000  # the freed block's pages are reused
    assert kept_rss < 200  # released: the 256 MiB are no longer resident


def test_kept_in_a_worker_thread_too():
    assert probe("default", "thread")[0] > 60_000
    assert probe("keep", "thread")[0] < 1_000  # one arena: a thread's own would map large blocks afresh
