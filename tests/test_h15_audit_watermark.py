"""Training-data audit: our watermark read blind on a copy stripped of every metadata; said "not checked"
(with the reason) when the key is locked."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from inkseal import Inkseal
from inkseal.cli import app as cli
from inkseal.platform.audit.datasets import list_shards
from inkseal.platform.audit.runner import ShardAuditor, keys_to_wire, watermark_keys

PASS = "audit passphrase here"


@pytest.fixture(scope="module")
def sealed_home(tmp_path_factory: pytest.TempPathFactory, kodak: list[Path]) -> tuple[str, Path]:
    tmp = tmp_path_factory.mktemp("wm")
    home = str(tmp / "home")
    mp = pytest.MonkeyPatch()
    mp.setenv("INKSEAL_PASSPHRASE", PASS)
    try:
        run = CliRunner()
        for args in (["keys", "init"], ["register", str(kodak[5]), "--author", "Wang"],
                     ["seal", "1", "-o", str(tmp / "sealed.png"), "--signature", "© Wang"]):
            res = run.invoke(cli, ["--home", home, *args], catch_exceptions=False)
            assert res.exit_code == 0, res.output
    finally:
        mp.undo()
    return home, tmp / "sealed.png"


def _rows(auditor: ShardAuditor, ds: Path) -> dict[str, dict]:
    out = {}
    for shard in list_shards(ds):
        for f in auditor({"shard": [json.dumps(shard)]})["finding"]:
            r = json.loads(f)
            out[r["item_id"]] = r
    return out


def _wm_arg(home: str) -> dict:
    app = Inkseal.open(home)
    try:
        wm = watermark_keys(app)
    finally:
        app.close()
    return keys_to_wire(wm)


def test_watermark_read_blind_on_a_stripped_copy(sealed_home: tuple[str, Path], tmp_path: Path,
                                                 flowers: list[Path], monkeypatch: pytest.MonkeyPatch) -> None:
    home, sealed = sealed_home
    ds = tmp_path / "ds"
    ds.mkdir()
    buf = io.BytesIO()
    Image.open(sealed).convert("RGB").save(buf, "JPEG", quality=85)  # a re-save drops XMP and C2PA
    (ds / "stripped.jpg").write_bytes(buf.getvalue())
    (ds / "flower.jpg").write_bytes(Path(flowers[7]).read_bytes())
    monkeypatch.setenv("INKSEAL_PASSPHRASE", PASS)
    wm = _wm_arg(home)
    assert list(wm["keys"]) == [] and wm["sealed"] == [1] and wm["blind_key"]  # sealed since blind v2: one key for all
    rows = _rows(ShardAuditor(home, {}, wm, check_registry=False), ds)
    assert rows["stripped.jpg"]["watermark"] == "detected" and rows["stripped.jpg"]["watermark_work_id"] == 1
    assert rows["stripped.jpg"]["c2pa"] is False and rows["stripped.jpg"]["iptc_data_mining"] == ""
    assert rows["flower.jpg"]["watermark"] == "absent"


def test_locked_watermark_key_is_said_not_checked(sealed_home: tuple[str, Path], monkeypatch: pytest.MonkeyPatch,
                                                  tmp_path: Path) -> None:
    home, sealed = sealed_home
    monkeypatch.delenv("INKSEAL_PASSPHRASE", raising=False)
    import inkseal.journal.keys as keys

    monkeypatch.setattr(keys, "_UNLOCKED", {})  # a fresh process: the key was never opened here
    wm = _wm_arg(home)
    assert wm["keys"] == {} and "passphrase" in wm["why_not"]
    (tmp_path / "ds").mkdir()
    (tmp_path / "ds" / "sealed.png").write_bytes(sealed.read_bytes())
    rows = _rows(ShardAuditor(home, {}, wm, check_registry=False), tmp_path / "ds")
    assert rows["sealed.png"]["watermark"] == "not checked" and "passphrase" in rows["sealed.png"]["watermark_note"]
    assert json.loads(json.dumps(rows["sealed.png"]["optouts"])) == ["c2pa", "iptc"]  # the seal's own opt-outs
