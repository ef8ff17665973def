"""Shared fixtures: real data from ../shared/data, real SQLite files, a real PostgreSQL server."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from inkseal import Inkseal

sys.path.insert(0, str(Path(__file__).parent))  # test helpers (badfiles.py)

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
KODAK = sorted((DATA / "kodak").glob("*.png"))
FLOWERS = sorted((DATA / "flowers").glob("*/*.jpg"))


@pytest.fixture(scope="session")
def kodak() -> list[Path]:
    assert len(KODAK) == 24, f"Kodak photos expected under {DATA / 'kodak'}"
    return KODAK


@pytest.fixture(scope="session")
def flowers() -> list[Path]:
    assert len(FLOWERS) > 3000, f"flower photos expected under {DATA / 'flowers'}"
    return FLOWERS


def rgb(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


# -- PostgreSQL: a throw-away server per test session -------------------------------------------
def _pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    hits = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return hits[-1] if hits else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """Start a real PostgreSQL server (initdb + pg_ctl) on 127.0.0.1; yields a base URL."""
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if not (initdb and pg_ctl):
        pytest.fail("PostgreSQL server binaries not found: run scripts/ensure-system-deps.sh (make test does)")
    base = Path(tempfile.mkdtemp(prefix="inkseal-pg-"))
    data, sock = base / "data", base / "sock"
    sock.mkdir()
    prefix: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        shutil.chown(base, "postgres")
        shutil.chown(sock, "postgres")
        prefix = ["runuser", "-u", "postgres", "--"]
    port = _free_port()
    subprocess.run([*prefix, initdb, "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"],
                   check=True, capture_output=True)
    opts = f"-c listen_addresses=127.0.0.1 -p {port} -k {sock} -c fsync=off -c full_page_writes=off"
    subprocess.run([*prefix, pg_ctl, "-D", str(data), "-o", opts, "-l", str(base / "log"), "-w", "start"],
                   check=True, capture_output=True)
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}"
    finally:
        subprocess.run([*prefix, pg_ctl, "-D", str(data), "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


def _new_pg_database(server: str) -> str:
    import psycopg

    name = f"inkseal_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server.replace("postgresql+psycopg", "postgresql") + "/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{server}/{name}"


@pytest.fixture(params=["sqlite", "postgresql"])
def backend_app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Inkseal]:
    """The same application on a real SQLite file and on a real PostgreSQL server."""
    if request.param == "postgresql":
        url = _new_pg_database(request.getfixturevalue("postgres_server"))
        app = Inkseal.open(tmp_path / "home", db_url=url)
    else:
        app = Inkseal.open(tmp_path / "home")
    yield app
    app.close()


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Inkseal]:
    a = Inkseal.open(tmp_path / "home")
    yield a
    a.close()


@pytest.fixture(scope="module")
def kodak_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Inkseal]:
    """A registry holding the 24 Kodak photos (registered once per test module)."""
    a = Inkseal.open(tmp_path_factory.mktemp("kodak-home"))
    report = a.register(KODAK, author="Kodak")
    assert not report.failed
    yield a
    a.close()
