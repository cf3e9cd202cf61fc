"""The server's cap on glibc malloc arenas (rag.http.malloc)."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

from rag.http.malloc import limit_arenas
from tests.conftest import ROOT

GLIBC = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"


def test_no_cap_asked_or_the_users_own_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    assert limit_arenas(0) is False
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert limit_arenas(2) is False


@pytest.mark.skipif(not GLIBC, reason="glibc's mallopt")
def test_glibc_takes_the_cap_and_threads_share_two_arenas() -> None:
    """Eight threads that each allocate: with the cap, glibc's arena count stays at two
    (malloc_info lists one <heap> per arena)."""
    script = (
        "import ctypes, threading, sys\n"
        "from rag.http.malloc import limit_arenas\n"
        "assert limit_arenas(int(sys.argv[1])) is (sys.argv[1] != '0')\n"
        "barrier = threading.Barrier(8)\n"
        "def work():\n"
        "    barrier.wait(); blocks = [bytearray(4096) for _ in range(2000)]; barrier.wait()\n"
        "threads = [threading.Thread(target=work) for _ in range(8)]\n"
        "[t.start() for t in threads]; [t.join() for t in threads]\n"
        "libc = ctypes.CDLL('libc.so.6'); libc.fflush(None)\n"
        "libc.malloc_info(0, ctypes.c_void_p.in_dll(libc, 'stdout'))\n"
        "libc.fflush(None)\n"
    )
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    arenas = {}
    for cap in ("2", "0"):
        run = subprocess.run(
            [sys.executable, "-c", script, cap], capture_output=True, text=True, env=env, cwd=ROOT
        )
        assert run.returncode == 0, run.stderr
        arenas[cap] = run.stdout.count("<heap nr=")
    assert arenas["2"] <= 2 < arenas["0"], arenas
