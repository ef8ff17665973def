"""`inkseal audit --ray-address`: the audit driven from its own process against a Ray cluster that was started
on its own (`ray start --head`, as an operator starts one), not the local cluster the audit starts by default:
the same findings as on the local cluster, and the work done by that cluster's workers."""

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
from collections.abc import Iterator
from pathlib import Path

import pytest

from test_h15_audit_ray import _findings, dataset, home  # noqa: F401 - the same registry and shards

ray = pytest.importorskip("ray")
ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _processes_mentioning(tag: str) -> list[int]:
    """Pids whose command line holds `tag` (the cluster's own temp dir: its GCS, raylet and workers)."""
    pids = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit() and int(d.name) != os.getpid():
            try:
                if tag.encode() in (d / "cmdline").read_bytes():
                    pids.append(int(d.name))
            except OSError:
                continue
    return pids


@pytest.fixture
def cluster() -> Iterator[tuple[str, Path, dict[str, str]]]:
    """A one-node Ray cluster on 127.0.0.1 with its own temp dir (short: Ray's socket paths must stay under
    108 bytes), stopped by killing only its own processes (`ray stop` would stop every cluster here)."""
    tmp = tempfile.mkdtemp(prefix="isray", dir="/tmp")
    port = _free_port()
    ray_bin = str(Path(sys.executable).with_name("ray"))
    # Token authentication, as a cluster open to a network should have: the head, `ray status` and the audit's
    # driver all need the token (Ray's own variables; nothing is written to ~/.ray)
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}
    head = subprocess.Popen([ray_bin, "start", "--head", f"--port={port}", "--node-ip-address=127.0.0.1",
                             "--num-cpus=2", "--include-dashboard=false", f"--temp-dir={tmp}",
                             "--disable-usage-stats", "--block"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    address = f"127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180  # a bound on a hang, not a timing assertion
        while "Active:" not in subprocess.run([ray_bin, "status", "--address", address], env=env,
                                              capture_output=True, text=True).stdout:  # the head's node is up
            if head.poll() is not None or time.monotonic() > deadline:
                err = head.stderr.read().decode(errors="replace")[-2000:] if head.poll() is not None else ""
                pytest.fail(f"the Ray head did not come up: {err}")
            time.sleep(1)
        yield address, Path(tmp), env
    finally:
        try:
            os.killpg(head.pid, signal.SIGTERM)
            head.wait(30)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            pass
        for _ in range(3):
            left = _processes_mentioning(tmp)
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            if not left:
                break
            time.sleep(1)
        shutil.rmtree(tmp, ignore_errors=True)


def test_audit_runs_on_a_separately_started_cluster(cluster: tuple[str, Path, dict[str, str]], home: str,  # noqa: F811
                                                    dataset: Path, tmp_path: Path) -> None:  # noqa: F811
    address, ray_tmp, env = cluster
    report = tmp_path / "report"
    code = "import inkseal.cli_audit; from inkseal.cli import main; main()"
    command = [sys.executable, "-c", code, "--home", home, "audit", str(dataset), "-o", str(report),
               "--ray-address", address, "--json"]
    # without the cluster's token: refused, said in one line, nothing audited
    wrong = {**env, "RAY_AUTH_TOKEN": secrets.token_hex(32)}
    r = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=600, env=wrong)
    assert r.returncode == 3 and "Traceback" not in r.stdout + r.stderr, r.stderr[-3000:]
    said = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert len(said) == 1 and "cannot join the Ray cluster" in said[0] and "RAY_AUTH_TOKEN" in said[0], said
    assert not (report / "findings.parquet").exists()
    r = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=600, env=env)
    assert r.returncode == 1, r.stderr[-3000:]  # one item cannot be decoded: the exit code says some failed
    data = json.loads(r.stdout)
    assert data["summary"]["items"] == 7 and data["summary"]["errors_total"] == 1, data["summary"]
    assert data["summary"]["registry"] == {"copy": 3} and "Traceback" not in r.stdout + r.stderr
    rows = _findings(report)
    assert all(rows[f"copy{i}"]["registry_tier"] == "copy" for i in range(3))
    assert rows["bad"]["error_kind"] == "undecodable"
    # the audit's tasks ran in that cluster's worker processes (their logs are in its own temp dir)
    assert list(ray_tmp.glob("session_*/logs/worker-*")), sorted(p.name for p in ray_tmp.glob("session_*/logs/*"))
