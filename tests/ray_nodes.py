"""Ray nodes on this machine for tests and benchmarks: `ray start` in a process group of its own,
stopped by that group (never `ray stop`, which ends every Ray process on the machine)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

RAY = shutil.which("ray") or str(Path(sys.executable).with_name("ray"))
ENV = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_node(*args: str, cpus: int = 1) -> int:
    """``ray start`` with these arguments; the id of the process group its daemons stay in."""
    process = subprocess.Popen([RAY, "start", "--num-cpus", str(cpus), "--disable-usage-stats",
                                "--dashboard-agent-listen-port", str(free_port()), *args],
                               env=ENV, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output, _ = process.communicate(timeout=180)
    if process.returncode != 0:
        raise RuntimeError(f"ray start {' '.join(args)} failed:\n{output}")
    return process.pid


def stop_node(group: int) -> None:
    """End the daemons of one ``start_node`` (its process group) and wait until they are gone."""
    for sig, wait in ((signal.SIGTERM, 5), (signal.SIGKILL, 10)):  # Ray's daemons linger after SIGTERM
        try:
            os.killpg(group, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                os.killpg(group, 0)
            except ProcessLookupError:
                return
            time.sleep(0.2)


class LocalCluster:
    """A head node (``head_cpus`` CPUs for tasks) and worker nodes added one by one."""

    def __init__(self, head_cpus: int = 1):
        self.temp = tempfile.mkdtemp(prefix="guifan-ray-", dir="/tmp")  # Ray's sockets need a short path
        port = free_port()
        self.address = f"127.0.0.1:{port}"
        try:
            self.groups = [start_node("--head", "--port", str(port), "--include-dashboard=false", "--temp-dir", self.temp,
                                      cpus=head_cpus)]
        except BaseException:
            shutil.rmtree(self.temp, ignore_errors=True)
            raise

    def add_worker(self, cpus: int = 1) -> None:
        self.groups.append(start_node("--address", self.address, cpus=cpus))

    def stop(self) -> None:
        for group in reversed(self.groups):
            stop_node(group)
        self.groups = []
        shutil.rmtree(self.temp, ignore_errors=True)


@contextmanager
def local_cluster(head_cpus: int = 1, workers: int = 0) -> Iterator[LocalCluster]:
    cluster = LocalCluster(head_cpus)
    try:
        for _ in range(workers):
            cluster.add_worker()
        yield cluster
    finally:
        cluster.stop()
