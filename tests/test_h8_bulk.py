"""`inkseal register DIR --jobs N`: fingerprints from worker processes, one writer, resumable after a kill."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from inkseal import Inkseal
from inkseal.cli import app as cli
from inkseal.imaging import load_image


def _folder(tmp_path: Path, kodak: list[Path], n: int, broken: bool = True) -> Path:
    src = tmp_path / "works"
    src.mkdir()
    for p in kodak[:n]:
        shutil.copy(p, src)
    if broken:
        (src / "kodim00-broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a picture")
    return src


def _agrees(app: Inkseal) -> None:
    for name, idx in app.indexes.items():
        assert set(idx.ids().tolist()) == set(app.registry.fingerprint_ids(name)), name


def test_jobs_2_registers_like_jobs_1_and_reports_bad_files(tmp_path: Path, kodak: list[Path]) -> None:
    home = tmp_path / "home"
    src = _folder(tmp_path, kodak, 4)
    runner = CliRunner()
    r = runner.invoke(cli, ["--home", str(home), "register", str(src), "--author", "Li", "--jobs", "2", "--json"],
                      catch_exceptions=False)
    assert r.exit_code == 1  # one file failed, the rest went on
    items = json.loads(r.stdout)
    assert [Path(i["path"]).name for i in items] == sorted(p.name for p in src.iterdir())  # input order kept
    assert items[0]["error"] and "Traceback" not in r.output
    assert all(i["file_id"] for i in items[1:])
    app = Inkseal.open(home)
    _agrees(app)
    for item, path in zip(items[1:], kodak[:4]):  # the workers computed what this process would have
        image = load_image(path.read_bytes())
        mine = {(sig, var): blob for sig, _v, var, blob in app.fingerprints(image)}
        wf = app.work(item["work_id"]).files[0]
        for (sig, var), blob in mine.items():
            stored = app.registry.file_fingerprint(wf.id, sig, var)
            if sig == app.sscd.name:
                assert np.allclose(app.sscd.deserialize(stored), app.sscd.deserialize(blob), atol=1e-4)
            elif sig == "pdq":
                assert stored == blob
    assert any(v.work_id == items[2]["work_id"] for v in app.match_image(kodak[1].read_bytes()))
    app.close()
    again = runner.invoke(cli, ["--home", str(home), "register", str(src), "--author", "Li", "--jobs", "2", "--json"])
    assert [i["skipped"] is not None for i in json.loads(again.stdout)] == [False] + [True] * 4


def _files_registered(home: Path) -> int:
    db = home / "registry.sqlite"
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as con:
            return int(con.execute("SELECT count(*) FROM work_files").fetchone()[0])
    except sqlite3.Error:
        return 0  # not created yet


def test_killed_bulk_registration_resumes(tmp_path: Path, kodak: list[Path]) -> None:
    home = tmp_path / "home"
    src = _folder(tmp_path, kodak, 8, broken=False)
    cmd = [sys.executable, "-m", "inkseal", "--home", str(home), "register", str(src), "--author", "Li", "--jobs", "2"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + 240
    while _files_registered(home) < 2 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the writer and its workers, mid-run
    proc.wait(timeout=60)
    done = _files_registered(home)
    assert 2 <= done < 8, proc.stderr.read().decode()[-2000:] if proc.stderr else ""
    r = subprocess.run(cmd + ["--json"], capture_output=True, timeout=300)
    assert r.returncode == 0, r.stderr.decode()[-2000:]
    items = json.loads(r.stdout)
    assert sum(i["skipped"] is not None for i in items) == done and all(i["error"] is None for i in items)
    app = Inkseal.open(home)
    assert len(app.works()) == 8 and sorted(w.title for w in app.works()) == sorted(p.stem for p in kodak[:8])
    _agrees(app)
    app.close()
