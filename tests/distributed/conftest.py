"""A real Ray cluster on this machine for the distributed tests: a head and a second node (`ray start --block`,
one CPU each, so two worker processes hold the actors); teardown stops the processes descending from those two
commands and no others."""
from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

RAY_START_SECONDS = 120
ALIVE_NODES = "import ray, sys; ray.init(address=sys.argv[1]); print(sum(n['Alive'] for n in ray.nodes()))"


@dataclass
class RayCluster:
    address: str
    roots: list[int]  # the `ray start --block` processes: every process of this cluster descends from one
    env: dict[str, str]  # what a driver needs to reach it

    def processes(self, title_prefix: str = "") -> list[int]:
        """Pids of this cluster's processes whose title (Ray's `ray::Name`) starts with `title_prefix`."""
        parents, titles = {}, {}
        for entry in Path("/proc").iterdir():
            try:
                stat = (entry / "stat").read_text()
                titles[int(entry.name)] = (entry / "cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
            except (OSError, ValueError):
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
        return [pid for pid, title in titles.items() if title.startswith(title_prefix) and self._ours(pid, parents)]

    def _ours(self, pid: int, parents: dict[int, int]) -> bool:
        while pid > 1:
            if pid in self.roots:
                return True
            pid = parents.get(pid, 0)
        return False


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _node_ports() -> list[str]:
    """Two nodes on one machine each need their own agent and manager ports."""
    flags = ("--dashboard-agent-listen-port", "--dashboard-agent-grpc-port", "--runtime-env-agent-port",
             "--metrics-export-port", "--node-manager-port", "--object-manager-port")
    return [part for flag in flags for part in (flag, str(_free_port()))]


def _stop(cluster: RayCluster) -> None:
    """SIGTERM to this cluster's processes (Ray workers sit in process groups of their own), SIGKILL to those left
    after a grace period."""
    pids = cluster.processes()
    for signal_number in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal_number)
        deadline = time.monotonic() + 10
        while pids and time.monotonic() < deadline:
            time.sleep(0.5)
            pids = [pid for pid in pids if Path(f"/proc/{pid}").exists() and not _zombie(pid)]


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


@pytest.fixture(scope="session")
def ray_cluster():
    pytest.importorskip("ray.data", reason="Ray is not installed (pip install 'ray[data]'); the Ray tests need it")
    ray_command = shutil.which("ray", path=str(Path(sys.executable).parent)) or shutil.which("ray")
    if ray_command is None:
        pytest.skip("the `ray` command is not installed beside this Python")
    port = _free_port()
    temp_dir = tempfile.mkdtemp(prefix="mmr-ray-")  # short: Ray's socket paths must stay under 108 bytes
    # Workers get mmret only from what the driver ships (runtime_env), not from this process's PYTHONPATH; the
    # loopback test cluster needs no token.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"RAY_AUTH_MODE": "disabled"}
    node = ["--block", "--num-cpus", "1", "--object-store-memory", str(150 << 20), "--disable-usage-stats",
            "--node-ip-address", "127.0.0.1"]
    logs = open(Path(temp_dir) / "ray-start.log", "w")  # noqa: SIM115 -- open for the cluster's lifetime
    started = [subprocess.Popen([ray_command, "start", "--head", "--port", str(port), "--temp-dir", temp_dir,
                                 "--include-dashboard=false", "--ray-client-server-port", str(_free_port()), *node,
                                 *_node_ports()], env=env, stdout=logs, stderr=logs)]
    cluster = RayCluster(f"127.0.0.1:{port}", [started[0].pid], {"RAY_AUTH_MODE": "disabled"})
    try:
        _wait_for_port(port, started[0])
        started.append(subprocess.Popen([ray_command, "start", "--address", cluster.address, *node, *_node_ports()],
                                        env=env, stdout=logs, stderr=logs))
        cluster.roots.append(started[1].pid)
        _wait_for_nodes(cluster, 2)
        yield cluster
    finally:
        _stop(cluster)
        for process in started:
            process.wait(timeout=30)
        logs.close()
        shutil.rmtree(temp_dir, ignore_errors=True)


def _wait_for_port(port: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + RAY_START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"ray start --head exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"the Ray head did not listen on port {port} within {RAY_START_SECONDS} s")


def _wait_for_nodes(cluster: RayCluster, count: int) -> None:
    """Until `ray status` on the cluster lists `count` live nodes."""
    env = os.environ | cluster.env
    deadline = time.monotonic() + RAY_START_SECONDS
    while time.monotonic() < deadline:
        status = subprocess.run([sys.executable, "-c", ALIVE_NODES, cluster.address], env=env, capture_output=True,
                                text=True, timeout=60, check=False)
        if status.returncode == 0 and int(status.stdout.split()[-1]) >= count:
            return
        time.sleep(1)
    pytest.fail(f"the Ray cluster at {cluster.address} did not reach {count} nodes")
