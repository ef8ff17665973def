"""Secrets at rest: the watermark master key is encrypted with the passphrase; the home, keys/ and
the database are readable by their owner only, from creation, and repaired when found looser."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from inkseal import Inkseal

PASS = "correct horse battery"

# A fresh process: nothing unlocked in memory, as for a new `inkseal` command.
READ_KEY = """
import sys
from inkseal.errors import InksealError
from inkseal.journal.keys import KeyStore
keys = KeyStore(__import__("pathlib").Path(sys.argv[1]))
try:
    print(keys.watermark_key_for(7, sys.argv[2] if len(sys.argv) > 2 else None).hex())
except InksealError as exc:
    print("ERROR", exc)
"""


def _read_key(keys_dir: Path, *passphrase: str) -> str:
    r = subprocess.run([sys.executable, "-c", READ_KEY, str(keys_dir), *passphrase], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    return r.stdout.strip()


def _mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


@pytest.fixture
def loose_umask():  # type: ignore[no-untyped-def]
    old = os.umask(0o022)  # the usual default: new files world-readable unless we say otherwise
    yield
    os.umask(old)


def test_new_home_keys_and_database_are_private(tmp_path: Path, kodak: list[Path], loose_umask: None) -> None:
    home = tmp_path / "home"
    app = Inkseal.open(home)
    try:
        app.keys.init(PASS)
        app.register(kodak[:1], author="Li")
        assert _mode(home) == 0o700
        keys = home / "keys"
        dirs = [keys, *(p for p in keys.rglob("*") if p.is_dir())]
        files = [p for p in keys.rglob("*") if p.is_file()]
        assert {p.name for p in files} >= {"author.key", "author.pub", "watermark.key", "signer.key", "chain.pem"}
        assert {_mode(d) for d in dirs} == {0o700}
        assert {p.name: _mode(p) for p in files} == {p.name: 0o600 for p in files}
        db = [p for p in home.iterdir() if p.name.startswith("registry.sqlite")]
        assert "registry.sqlite-wal" in {p.name for p in db}  # open in WAL mode right now
        assert {p.name: _mode(p) for p in db} == {p.name: 0o600 for p in db}
    finally:
        app.close()


def test_loose_permissions_are_repaired_at_open(tmp_path: Path, loose_umask: None) -> None:
    home = tmp_path / "home"
    app = Inkseal.open(home)
    app.keys.init(PASS)
    app.close()
    loosened = [home, home / "keys", home / "keys" / "c2pa", home / "registry.sqlite",
                home / "keys" / "author.key", home / "keys" / "watermark.key"]
    for p in loosened:
        os.chmod(p, 0o755 if p.is_dir() else 0o644)
    Inkseal.open(home).close()
    assert {str(p): _mode(p) for p in loosened} == {str(p): 0o700 if p.is_dir() else 0o600 for p in loosened}


def test_watermark_key_is_encrypted_and_needs_the_passphrase(tmp_path: Path) -> None:
    app = Inkseal.open(tmp_path / "home")
    app.keys.init(PASS)
    master, per_work = app.keys.watermark_key(), app.keys.watermark_key_for(7)
    stored = app.keys.watermark_path.read_bytes()
    doc = json.loads(stored)
    assert doc["format"] == "inkseal-secret" and doc["kdf"] == "scrypt" and doc["cipher"] == "aes-256-gcm"
    assert master not in stored and master.hex().encode() not in stored
    keys_dir = app.keys.directory
    app.close()

    assert _read_key(keys_dir, PASS) == per_work.hex()
    assert _read_key(keys_dir, "not the passphrase") == "ERROR wrong passphrase for the watermark key / watermark key 的口令错误"
    assert _read_key(keys_dir).startswith("ERROR the watermark key is encrypted: give the passphrase")
    # a wrong passphrase is refused even in a process that already holds the key open
    from inkseal.journal.keys import KeyError_, KeyStore

    with pytest.raises(KeyError_, match="wrong passphrase for the watermark key"):
        KeyStore(keys_dir).watermark_key("not the passphrase")
    # an edited file is refused too (authenticated encryption), in one line
    doc["ciphertext"] = doc["ciphertext"][:-6] + ("A" if doc["ciphertext"][-6] != "A" else "B") + doc["ciphertext"][-5:]
    (keys_dir / "watermark.key").write_text(json.dumps(doc))
    assert _read_key(keys_dir, PASS).startswith("ERROR wrong passphrase for the watermark key")
    (keys_dir / "watermark.key").write_text('{"format": "something else"}')
    assert _read_key(keys_dir, PASS).startswith("ERROR the watermark key file is damaged")


def test_legacy_plaintext_watermark_key_is_encrypted_on_first_use_with_the_passphrase(tmp_path: Path) -> None:
    app = Inkseal.open(tmp_path / "home")
    app.keys.init(PASS)
    legacy = bytes(range(123, 155))  # 32 raw bytes, as older versions wrote them (this one starts with "{")
    app.keys.watermark_path.write_bytes(legacy)
    keys_dir = app.keys.directory
    app.close()

    before = _read_key(keys_dir)  # still readable without a passphrase: nothing breaks on upgrade
    assert not before.startswith("ERROR")
    assert _read_key(keys_dir, PASS) == before  # first use with the passphrase re-encrypts it in place
    assert json.loads((keys_dir / "watermark.key").read_bytes())["format"] == "inkseal-secret"
    assert _read_key(keys_dir, PASS) == before  # same key, same watermarks: old seals still decode
    assert _read_key(keys_dir).startswith("ERROR the watermark key is encrypted")
