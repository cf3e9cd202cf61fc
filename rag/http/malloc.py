"""Fewer glibc malloc arenas for the server: its memory then stops growing with the threads
that answer.

glibc gives threads up to eight malloc arenas per core, and a server's request threads,
OpenVINO's and Chroma's each grow their own and keep what they freed. Capped at two, the
100k-chunk server's peak RSS fell 1,579 → 1,498 MB (`bench.server_100k`, README). The cap
is set with `mallopt(M_ARENA_MAX)` before the server starts its threads, as the
`MALLOC_ARENA_MAX` variable would, which wins when set.
"""

from __future__ import annotations

import ctypes
import os
import sys

M_ARENA_MAX = -8  # glibc's malloc.h


def limit_arenas(arenas: int) -> bool:
    """Cap glibc's malloc arenas at `arenas` (0: leave glibc's default); False when nothing
    was changed (not glibc, a cap of 0, or MALLOC_ARENA_MAX set by the user)."""
    if arenas <= 0 or not sys.platform.startswith("linux") or "MALLOC_ARENA_MAX" in os.environ:
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        return bool(libc.mallopt(M_ARENA_MAX, arenas))
    except (OSError, AttributeError):  # musl and others: no such library or function
        return False
