"""Several writers at once, and writers killed mid-way: real processes on a real SQLite file and a
real PostgreSQL server. Two `register` runs of the same files make one work per file and both
succeed; two `journal import` runs both succeed with a valid journal; kill -9 during `register`
leaves no work without its file; scans whose process died are closed as interrupted at open."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import func, select, text

from inkseal import Inkseal
from inkseal.registry.models import JournalEntry, Scan, Work, WorkFile

PASS = "correct horse battery"
ROOT = Path(__file__).resolve().parents[1]


def _env(home: Path, db_url: str | None = None) -> dict[str, str]:
    env = {**os.environ, "INKSEAL_HOME": str(home), "INKSEAL_PASSPHRASE": PASS, "PYTHONUNBUFFERED": "1"}
    env.pop("INKSEAL_DB_URL", None)
    if db_url:
        env["INKSEAL_DB_URL"] = db_url
    return env


def _run_together(cmds: list[list[str]], env: dict[str, str], timeout: float = 240) -> list[subprocess.CompletedProcess]:
    procs = [subprocess.Popen(c, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for c in cmds]
    out = []
    for p, c in zip(procs, cmds, strict=True):
        stdout, stderr = p.communicate(timeout=timeout)
        out.append(subprocess.CompletedProcess(c, p.returncode, stdout, stderr))
    return out


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "inkseal", *args]


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_two_registers_of_the_same_files_at_once(backend: str, request: pytest.FixtureRequest, tmp_path: Path,
                                                  kodak: list[Path]) -> None:
    from conftest import _new_pg_database

    url = _new_pg_database(request.getfixturevalue("postgres_server")) if backend == "postgresql" else None
    home = tmp_path / "home"  # fresh: both processes also race to create the schema
    files = [str(p) for p in kodak[:5]]
    runs = _run_together([_cli("register", *files, "--author", "Li Wei")] * 2, _env(home, url))
    for r in runs:
        assert r.returncode == 0, r.stderr
        assert "Traceback" not in r.stderr and "IntegrityError" not in r.stderr + r.stdout
    app = Inkseal.open(home, db_url=url)
    try:
        works = app.works()
        assert len(works) == 5 and {w.author.name for w in works} == {"Li Wei"}
        shas = [f.sha256 for w in works for f in w.files]
        assert sorted(shas) == sorted(hashlib.sha256(Path(f).read_bytes()).hexdigest() for f in files)
        # every run reports every file: registered by it, or already registered (by whichever won)
        for r in runs:
            assert sum(line.count("kodim0") for line in r.stdout.splitlines()) >= 5, r.stdout
        assert len(app.indexes["pdq"]) == 5
    finally:
        app.close()


N_FILES = 25  # enough that the two runs overlap for most of their time


def _noise_pngs(folder: Path, n: int, seed: int) -> list[Path]:
    folder.mkdir()
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        p = folder / f"out_{i:02d}.png"
        Image.fromarray(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)).save(p)
        out.append(p)
    return out


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_two_journal_imports_at_once(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    from conftest import _new_pg_database

    url = _new_pg_database(request.getfixturevalue("postgres_server")) if backend == "postgresql" else None
    home = tmp_path / "home"
    app = Inkseal.open(home, db_url=url)
    app.keys.init(PASS)
    app.close()
    a, b = _noise_pngs(tmp_path / "a", N_FILES, 1), _noise_pngs(tmp_path / "b", N_FILES, 2)
    shared = [str(p) for p in a[:10]]  # both runs also import these same files
    runs = _run_together([_cli("journal", "import", *map(str, a)), _cli("journal", "import", *map(str, b), *shared)],
                         _env(home, url))
    for r in runs:
        assert r.returncode == 0, r.stderr
        assert "Traceback" not in r.stderr and "IntegrityError" not in r.stderr + r.stdout
    app = Inkseal.open(home, db_url=url)
    try:
        with app.registry.session() as s:
            seqs = list(s.scalars(select(JournalEntry.seq).order_by(JournalEntry.seq)))
            per_file = dict(s.execute(select(JournalEntry.file_sha256, func.count()).group_by(JournalEntry.file_sha256)).all())
        assert seqs == list(range(2 * N_FILES)), "one entry per distinct file, seq gap-free"
        assert set(per_file.values()) == {1} and len(per_file) == 2 * N_FILES
        report = app.journal.verify()
        assert report.ok, [p.message for p in report.problems]
        assert report.signed_size == 2 * N_FILES
    finally:
        app.close()


KILLED_REGISTER = """
import sys
from inkseal import Inkseal
app = Inkseal.open(sys.argv[1])
app.sscd  # models loaded before we say we are ready
print("ready", flush=True)
app.register(sys.argv[2:], author="Killed")
print("done", flush=True)
"""


def test_kill_9_during_register_leaves_no_orphans(tmp_path: Path, kodak: list[Path]) -> None:
    home = tmp_path / "home"
    Inkseal.open(home).close()
    files = [str(p) for p in kodak[:8]]
    killed = 0
    for delay in (0.1, 0.4, 0.8):
        proc = subprocess.Popen([sys.executable, "-c", KILLED_REGISTER, str(home), *files], cwd=ROOT,
                                stdout=subprocess.PIPE, text=True, env=_env(home))
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        time.sleep(delay)  # a different point of the run each time; no assertion depends on timing
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        killed += proc.returncode == -signal.SIGKILL
        app = Inkseal.open(home)
        try:
            for w in app.works():
                assert w.files, f"work {w.id} has no file"
                for f in w.files:
                    data = app.registry.objects.get(f.sha256)
                    assert hashlib.sha256(data).hexdigest() == f.sha256
            assert app.registry.count(WorkFile) == len({f.sha256 for w in app.works() for f in w.files})
        finally:
            app.close()
    assert killed >= 1  # at least one run was really killed mid-way
    app = Inkseal.open(home)  # and the registry still works: finishing the batch fills in the rest
    try:
        assert not app.register(files, author="Killed").failed
        assert app.registry.count(Work) == 8
    finally:
        app.close()


def test_open_cleans_orphan_works_and_closes_dead_scans(tmp_path: Path) -> None:
    home = tmp_path / "home"
    app = Inkseal.open(home)
    from alembic import command
    from alembic.config import Config

    from inkseal.registry.store import MIGRATIONS

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(gone.stdout)  # a process that has exited
    import socket

    kept = app.registry.add_work("Li", "journaled before its file")
    app.journal.append("note", {"text": "sketch"}, work_id=kept.id)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with app.registry.engine.begin() as conn:  # what revisions after 0008 added goes by their own downgrades
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0008")
    with app.registry.session() as s, s.begin():
        # what older versions left after a kill: a work row without a file, scans never finished
        from inkseal.registry.models import Author

        author = Author(name="Old")
        s.add(author)
        s.flush()
        s.add(Work(author_id=author.id, title="orphan"))
        s.add(Scan(sources=["x"], owner=None))
        s.add(Scan(sources=["y"], status="running", owner=f"{socket.gethostname()}:{dead_pid}"))
        s.add(Scan(sources=["z"], status="running", owner=f"{socket.gethostname()}:{os.getpid()}"))  # alive
        s.execute(text("UPDATE alembic_version SET version_num = '0004'"))  # a database an older version wrote
        for table in ("webhook_deliveries", "webhooks", "jobs",  # made by later revisions (0008, 0007)
                      "work_owners", "web_sessions", "api_tokens", "users"):
            s.execute(text(f"DROP TABLE {table}"))
    app.close()

    app = Inkseal.open(home)
    try:
        assert [w.title for w in app.works()] == ["journaled before its file"]
        with app.registry.session() as s:
            rows = {r.sources[0]: (r.status, r.finished_at is not None) for r in s.scalars(select(Scan))}
        assert rows == {"x": ("interrupted", True), "y": ("interrupted", True), "z": ("running", False)}
    finally:
        app.close()


def test_same_bytes_under_another_work_are_refused_in_one_line(app: Inkseal, kodak: list[Path]) -> None:
    first = app.register(kodak[:1], author="Li").items[0]
    other = app.registry.add_work("Li", "other")
    from inkseal.errors import InksealError
    from inkseal.imaging import load_image

    data = kodak[0].read_bytes()
    with pytest.raises(InksealError, match=f"already registered as work {first.work_id}"):
        app.add_file(other.id, data, load_image(data), "original", "again.png")
    again = app.register(kodak[:1], author="Li", work_id=other.id).items[0]
    assert again.skipped and again.work_id == first.work_id


def test_a_work_made_before_its_files_survives_a_reopen(tmp_path: Path) -> None:
    """`add_work` exists to journal a work's making before its files: opening the registry never sweeps it."""
    app = Inkseal.open(tmp_path / "home")
    wid = app.registry.add_work("Li", "to be journaled").id
    app.close()
    app = Inkseal.open(tmp_path / "home")
    try:
        assert [w.id for w in app.works()] == [wid]
    finally:
        app.close()
