"""A Ray cluster of several nodes on this machine, every process on 127.0.0.1, for the sweep's tests.

Each node is one `ray start --block` process (started and stopped by its PID) with its own temporary
directory, one CPU, a small object store, no dashboard and no usage statistics; the nodes share an
authentication token made for the cluster. `Node.kill` SIGKILLs a node's processes, as a lost machine
would be; `Node.start` starts it again.

Run as a script, this file is Ray's command line (`python ray_cluster.py start ...`) with one change:
Ray replaces a loopback node address (--node-ip-address=127.0.0.1, --address=127.0.0.1:port) by the
machine's routable one before it connects; here loopback addresses stay loopback, so no Ray process
of the test listens on or connects to anything but 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from typing import Callable, Dict, List

PYTHON = sys.executable
# Fast detection of a dead node (the defaults take ~30 s).
SYSTEM_CONFIG = {"health_check_initial_delay_ms": 1000, "health_check_period_ms": 1000,
                 "health_check_timeout_ms": 1000, "health_check_failure_threshold": 3}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_port_range(size: int = 40) -> int:
    """The first port of `size` consecutive ports that are free on 127.0.0.1 now."""
    for _ in range(200):
        base = 20000 + secrets.randbelow(12000)   # below the ephemeral range (32768 up)
        try:
            socks = []
            for port in range(base, base + size):
                s = socket.socket()
                socks.append(s)
                s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free port range found")


def children_of(pid: int) -> List[int]:
    """Every live descendant of `pid` (from /proc)."""
    parents: Dict[int, int] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        parents[int(name)] = int(stat.rsplit(")", 1)[1].split()[1])
    out, frontier = [], [pid]
    while frontier:
        p = frontier.pop()
        kids = [c for c, pp in parents.items() if pp == p]
        out += kids
        frontier += kids
    return out


def command_line(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


class Node:
    """One Ray node: a `ray start --block` process started and stopped by its PID."""

    def __init__(self, name: str, args: List[str], temp_dir: str, env: Dict[str, str], log_dir: str):
        self.name, self.args, self.temp_dir, self.env = name, args, temp_dir, env
        self.log_path = os.path.join(log_dir, f"{name}.out")
        self.proc: subprocess.Popen | None = None
        self.known: set = set()   # every PID seen in this node's process tree (for stop)

    def start(self, timeout: float = 120) -> None:
        log = open(self.log_path, "a")
        log.write(f"--- start {time.strftime('%H:%M:%S')}\n")
        log.flush()
        offset = log.tell()
        self.proc = subprocess.Popen(
            [PYTHON, os.path.abspath(__file__), "start", "--block", *self.args,
             f"--temp-dir={self.temp_dir}"], stdout=log, stderr=subprocess.STDOUT, env=self.env)
        log.close()
        deadline = time.time() + timeout
        while time.time() < deadline:
            with open(self.log_path) as f:
                f.seek(offset)
                text = f.read()
            if "Ray runtime started" in text:
                self.processes()
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.5)
        raise RuntimeError(f"Ray node {self.name} did not start; its output:\n{text[-3000:]}")

    def processes(self) -> List[int]:
        """The node's live processes: its `ray start` and every descendant."""
        if self.proc is None or self.proc.poll() is not None:
            return []
        pids = [self.proc.pid] + children_of(self.proc.pid)
        self.known.update(pids)
        return pids

    def kill(self, spare: Callable[[int], bool] = lambda pid: False) -> List[int]:
        """SIGKILLs the node's processes except those `spare` keeps (e.g. the training binaries,
        which then get SIGTERM from the kernel as their worker dies); returns the PIDs killed."""
        pids = [p for p in self.processes() if not spare(p)]
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait()
        return pids

    def stop(self) -> None:
        """SIGTERM to `ray start --block` (it stops its processes), then SIGKILL to any process of
        the node's tree that is left."""
        if self.proc is not None and self.proc.poll() is None:
            self.processes()
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        time.sleep(0.5)
        for pid in self.known:
            if alive(pid) and "ray" in command_line(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass


class LoopbackCluster:
    """A head node and `workers` more nodes on 127.0.0.1, one CPU each; their output goes to
    `directory`, their temporary directories under a short-named directory of /tmp (removed by stop)."""

    def __init__(self, directory: str, workers: int = 1, object_store_mb: int = 80):
        os.makedirs(directory, exist_ok=True)
        self.directory = directory
        # Ray's socket paths live in the temporary directories and must stay under 108 bytes.
        self.temp_root = tempfile.mkdtemp(prefix="ray-", dir="/tmp")
        self.port = free_port()
        self.env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0", RAY_AUTH_MODE="token",
                        RAY_AUTH_TOKEN=secrets.token_hex(32))
        # Set by a local Ray of this process (sweep.start_ray); it forbids joining a multi-node cluster.
        self.env.pop("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", None)
        common = ["--node-ip-address=127.0.0.1", "--num-cpus=1", "--disable-usage-stats",
                  f"--object-store-memory={object_store_mb * 1024 * 1024}"]

        def node_ports() -> List[str]:
            base = free_port_range()
            return [f"--min-worker-port={base}", f"--max-worker-port={base + 39}",
                    f"--dashboard-agent-listen-port={free_port()}",
                    f"--dashboard-agent-grpc-port={free_port()}", f"--metrics-export-port={free_port()}",
                    f"--runtime-env-agent-port={free_port()}"]

        head_args = ["--head", f"--port={self.port}", f"--ray-client-server-port={free_port()}",
                     "--include-dashboard=false", f"--system-config={json.dumps(SYSTEM_CONFIG)}",
                     *common, *node_ports()]
        self.head = Node("head", head_args, os.path.join(self.temp_root, "head"), self.env,
                         directory)
        self.workers = [Node(f"worker{i}", [f"--address={self.address}", *common, *node_ports()],
                             os.path.join(self.temp_root, f"w{i}"), self.env, directory)
                        for i in range(workers)]

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        self.head.start()
        for node in self.workers:
            node.start()

    def stop(self) -> None:
        for node in [*self.workers, self.head]:
            node.stop()
        shutil.rmtree(self.temp_root, ignore_errors=True)


def _loopback_stays_loopback() -> None:
    from ray._private import services

    resolve = services.resolve_ip_for_localhost

    def keep_loopback(host: str) -> str:
        return host if host in ("127.0.0.1", "localhost", "::1") else resolve(host)

    services.resolve_ip_for_localhost = keep_loopback


if __name__ == "__main__":
    _loopback_stays_loopback()
    from ray.scripts.scripts import main

    sys.exit(main())
