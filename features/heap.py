"""Keep freed memory in an extraction worker's heap instead of handing it back to the system.

Every file makes the same few arrays of a few hundred kilobytes each (frames, spectrum,
magnitudes, power, the descriptor rows) and frees them at its end. glibc's malloc serves
blocks of that size with ``mmap`` or returns the freed top of its heap to the kernel once
more than ~2 blocks' worth is free (its dynamic thresholds, ``mallopt(3)``), so every file
paid for the same pages again: one page fault per 4 KiB (~340,000 minor faults on 200 files,
~34,000 with this; 10-25 % of the bank's time in one process). Raising both
thresholds lets the next file reuse the pages the last one freed; the peak resident size
does not change, since it is the same working set, only no longer returned between files.
"""

from __future__ import annotations

import ctypes
import functools
import sys

#: Blocks up to this size come from the heap, not their own ``mmap`` (glibc's maximum on
#: 64-bit systems, 32 MiB: the arrays of a file up to about a minute long).
MMAP_THRESHOLD = 32 << 20
#: Free memory at the top of the heap is returned to the system only above this size.
TRIM_THRESHOLD = 64 << 20
# mallopt(3) parameter numbers, from glibc's <malloc.h>
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3


@functools.lru_cache(maxsize=1)
def keep_freed_memory() -> bool:
    """Set this process's malloc thresholds (once); True where that was possible (glibc),
    False elsewhere (macOS, musl, Windows), where nothing changes."""
    if not sys.platform.startswith("linux"):
        return False
    try:  # the symbols already loaded into this process, libc's among them: no library search
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc: no mallopt to call
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)
                and mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
