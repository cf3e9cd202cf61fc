"""Starting and stopping local servers on loopback, shared by the benchmarks and the tests:
a free port, waiting for a URL to answer 200, and stopping a server process."""

from __future__ import annotations

import socket
import subprocess
import time

import httpx


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_up(
    url: str,
    seconds: float,
    process: subprocess.Popen[bytes] | None = None,
    interval: float = 0.2,
) -> None:
    """Poll `url` until it answers 200; RuntimeError after `seconds`, or as soon as
    `process` (the server, when it is one) has exited."""
    deadline = time.monotonic() + seconds
    while True:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the server for {url} exited during start-up")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not answer within {seconds:.0f} s")
        time.sleep(interval)


def stop(process: subprocess.Popen[bytes], timeout: float) -> None:
    """Terminate a server process; kill it if it has not exited within `timeout` seconds."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=timeout)
