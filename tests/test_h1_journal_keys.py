"""Whose key signed the journal: forged, re-signed, appended-to and truncated journals, and key rotation."""

from __future__ import annotations

import base64
import json
import math
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner

from inkseal import Inkseal
from inkseal.cli import app as cli
from inkseal.journal import merkle
from inkseal.journal.keys import key_id, public_pem
from inkseal.journal.log import (Bundle, CheckpointRecord, EntryRecord, NotCanonical, canonical, checkpoint_message,
                                 entry_message, verify_bundle)

PASS = "correct horse battery"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A home whose journal has 6 signed entries under two checkpoints (sizes 3 and 6)."""
    monkeypatch.setenv("INKSEAL_PASSPHRASE", PASS)
    h = tmp_path / "home"
    app = Inkseal.open(h)
    app.keys.init(PASS)
    for i in range(6):
        app.journal.append("note", {"text": f"note {i}"}, passphrase=PASS)
        if i in (2, 5):
            app.journal.checkpoint(PASS)
    app.close()
    return h


def run(*args: str) -> tuple[int, str]:
    r = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return r.exit_code, r.output


def export(home: Path, tmp: Path) -> Path:
    target = tmp / "journal.jsonl"
    assert run("--home", str(home), "journal", "export", "-o", str(target))[0] == 0
    return target


def resign(bundle: Bundle, private: Ed25519PrivateKey) -> Bundle:
    """What an attacker can do with their own key: re-sign every entry and checkpoint, replace the keys."""
    kid, pem = key_id(private.public_key()), public_pem(private.public_key())
    entries = [EntryRecord(e.seq, e.payload, e.leaf_hash, kid,
                           base64.b64encode(private.sign(entry_message(e.seq, e.leaf_hash))).decode())
               for e in bundle.entries]
    cps = [CheckpointRecord(c.size, c.root_hash, c.signed_at, kid, pem,
                            base64.b64encode(private.sign(checkpoint_message(c.size, c.root_hash, c.signed_at,
                                                                             kid))).decode())
           for c in bundle.checkpoints]
    return Bundle(entries, cps, {kid: pem})


def append_signed(bundle: Bundle, private: Ed25519PrivateKey, payload_data: dict, *, checkpoint: bool) -> Bundle:
    kid, pem = key_id(private.public_key()), public_pem(private.public_key())
    seq = len(bundle.entries)
    raw = canonical({"v": 1, "seq": seq, "kind": "note", "time": "2026-01-01T00:00:00Z", "work_id": None,
                     "file_sha256": None, "data": payload_data})
    leaf = merkle.leaf_hash(raw).hex()
    entries = [*bundle.entries, EntryRecord(seq, raw.decode(), leaf, kid,
                                            base64.b64encode(private.sign(entry_message(seq, leaf))).decode())]
    cps = list(bundle.checkpoints)
    if checkpoint:
        root = merkle.root([bytes.fromhex(e.leaf_hash) for e in entries]).hex()
        cps.append(CheckpointRecord(len(entries), root, "2026-01-01T00:00:01Z", kid, pem, base64.b64encode(
            private.sign(checkpoint_message(len(entries), root, "2026-01-01T00:00:01Z", kid))).decode()))
    return Bundle(entries, cps, {**bundle.public_keys, kid: pem})


def test_verify_names_the_key_and_says_what_an_unpinned_result_means(home: Path, tmp_path: Path) -> None:
    kid = Inkseal.open(home).keys.key_id()
    code, output = run("journal", "verify", str(export(home, tmp_path)))
    assert code == 0, output
    assert kid in output and "no key pinned" in output and "未指定可信密钥" in output
    pub = home / "keys" / "author.pub"
    code, output = run("journal", "verify", str(export(home, tmp_path)), "--key", str(pub))
    assert code == 0 and "no key pinned" not in output, output
    assert run("journal", "verify", str(export(home, tmp_path)), "--fingerprint", kid[:32].upper())[0] == 0


def test_attacker_signed_journal_fails_against_the_pinned_key(home: Path, tmp_path: Path) -> None:
    bundle = Bundle.from_jsonl(export(home, tmp_path).read_text())
    mallory = Ed25519PrivateKey.generate()
    forged = tmp_path / "forged.jsonl"
    forged.write_text(resign(bundle, mallory).to_jsonl())
    # Unpinned, a whole forged journal is internally consistent; the output shows whose key it is.
    code, output = run("journal", "verify", str(forged))
    assert code == 0 and key_id(mallory.public_key()) in output and "no key pinned" in output
    code, output = run("journal", "verify", str(forged), "--key", str(home / "keys" / "author.pub"))
    assert code == 1 and "not by the pinned key" in output, output
    assert "Traceback" not in output


def test_entry_appended_with_a_second_key_fails(home: Path, tmp_path: Path) -> None:
    bundle = Bundle.from_jsonl(export(home, tmp_path).read_text())
    for checkpoint in (False, True):
        grown = append_signed(bundle, Ed25519PrivateKey.generate(), {"text": "I made this"}, checkpoint=checkpoint)
        report = verify_bundle(grown)
        assert not report.ok and report.first_bad_entry == 6
        assert any("key change inside the journal" in p.message for p in report.problems), report.problems
    path = tmp_path / "grown.jsonl"
    path.write_text(grown.to_jsonl())
    code, output = run("journal", "verify", str(path))
    assert code == 1 and "key change" in output and "Traceback" not in output


def test_truncated_journal_is_caught_by_a_pinned_checkpoint(home: Path, tmp_path: Path) -> None:
    kept = tmp_path / "kept-checkpoint.json"
    code, output = run("--home", str(home), "journal", "checkpoint", "--save", str(kept))
    assert code == 0 and kept.exists(), output
    bundle = Bundle.from_jsonl(export(home, tmp_path).read_text())
    cut = Bundle(bundle.entries[:3], [c for c in bundle.checkpoints if c.size <= 3], bundle.public_keys)
    path = tmp_path / "cut.jsonl"
    path.write_text(cut.to_jsonl())
    assert verify_bundle(cut).ok  # on its own a cut-off journal is still a valid (shorter) journal
    code, output = run("journal", "verify", str(path), "--checkpoint", str(kept))
    assert code == 1 and "cut off" in output, output
    # An exported journal kept earlier works as a pin too; the intact journal passes against it.
    code, output = run("journal", "verify", str(export(home, tmp_path)), "--checkpoint", str(kept))
    assert code == 0 and "pinned checkpoint of 6 entries holds" in output, output
    # Rewritten history (same length, other content, re-signed by an attacker) fails the pin as well.
    forged = resign(bundle, Ed25519PrivateKey.generate())
    assert not verify_bundle(forged, pinned_checkpoint=__import__("inkseal.journal.log", fromlist=["x"])
                             .load_checkpoint(kept.read_text())).ok


def test_key_rotation_signed_by_the_previous_key_is_accepted(home: Path, tmp_path: Path) -> None:
    old_pub = (home / "keys" / "author.pub").read_bytes()
    old_kid = Inkseal.open(home).keys.key_id()
    code, output = run("--home", str(home), "keys", "rotate")
    assert code == 0, output
    app = Inkseal.open(home)
    app.journal.append("note", {"text": "after rotation"}, passphrase=PASS)
    app.journal.checkpoint(PASS)
    new_kid = app.keys.key_id()
    assert new_kid != old_kid
    report = app.journal.verify()
    assert report.ok, report.problems
    assert report.key_chain == [old_kid, new_kid]
    pinned_old = tmp_path / "old.pub"
    pinned_old.write_bytes(old_pub)
    path = export(home, tmp_path)
    code, output = run("journal", "verify", str(path), "--key", str(pinned_old))
    assert code == 0 and "密钥轮换" in output, output
    # The same hand-over signed by the new key itself (not the previous one) is refused.
    bundle = Bundle.from_jsonl(path.read_text())
    rot_seq = next(e.seq for e in bundle.entries if "key_rotation" in e.payload)
    truncated = Bundle(bundle.entries[:rot_seq], [c for c in bundle.checkpoints if c.size <= rot_seq],
                       bundle.public_keys)
    rot = json.loads(bundle.entries[rot_seq].payload)["data"]
    mallory = Ed25519PrivateKey.generate()
    rot_forged = {**rot["key_rotation"], "new_key_id": key_id(mallory.public_key()),
                  "new_public_key": public_pem(mallory.public_key())}
    forged = append_signed(truncated, mallory, {"key_rotation": rot_forged}, checkpoint=True)
    report = verify_bundle(forged)
    assert not report.ok and report.first_bad_entry == rot_seq, report.problems


def test_canonical_json_refuses_nan_and_infinity() -> None:
    for bad in (math.nan, math.inf, -math.inf):
        with pytest.raises(NotCanonical, match="NaN or Infinity"):
            canonical({"cfg": bad})
    assert canonical({"cfg": "nan"}) == b'{"cfg":"nan"}'  # stored as a string instead


def test_keys_init_force_refuses_to_break_a_signed_journal(home: Path) -> None:
    kid = Inkseal.open(home).keys.key_id()
    code, output = run("--home", str(home), "keys", "init", "--force")
    assert code == 3 and "keys rotate" in output, output
    assert Inkseal.open(home).keys.key_id() == kid  # the key (and the journal's chain) is untouched
