"""Evidence packs: built from the demo's infringing article, verified offline, and broken by any change."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from inkseal import Inkseal
from inkseal.cli import app as cli
from inkseal.demo import DEMO_PASSPHRASE, run_demo
from inkseal.evidence.damages import DamagesInput, estimate
from inkseal.evidence.verify import verify_pack


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict:
    tmp = tmp_path_factory.mktemp("evidence")
    app = Inkseal.open(tmp / "home")
    quiet = Console(file=open("/dev/null", "w"))  # noqa: SIM115
    assert run_demo(app, tmp / "demo", quiet, quiet) == 0
    pack = tmp / "demo" / "evidence-pack"
    match_id = json.loads((pack / "evidence.json").read_text())["match"]["id"]
    return {"app": app, "home": str(tmp / "home"), "pack": pack, "match": match_id, "tmp": tmp}


def test_pack_verifies_fact_by_fact(demo: dict) -> None:
    r = CliRunner().invoke(cli, ["evidence", "verify", str(demo["pack"]), "--json"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    rep = json.loads(r.stdout)
    assert rep["ok"] and all(c["ok"] for c in rep["checks"].values())
    facts = {f["fact"]: f for f in rep["facts"]}
    for name in ("work_exists_and_original", "claimant_made_it", "when", "published_with_signature", "suspect_use",
                 "same_image", "signature_removed", "scale_of_use"):
        assert facts[name]["verified"], name
    assert "1 other match(es) on 127.0.0.1" in facts["scale_of_use"]["detail"]  # the gallery page
    assert "screenshot" in facts["suspect_use"]["checks"] and rep["checks"]["screenshot"]["ok"]
    ev = json.loads((demo["pack"] / "evidence.json").read_text())
    assert ev["schema_version"] == "inkseal-evidence/1"
    assert ev["watermark"]["detected"] and ev["published_c2pa_state"] == "Trusted"


def _files(pack: Path) -> list[Path]:
    return sorted(p for p in pack.rglob("*") if p.is_file())


def test_any_byte_change_in_any_file_fails(demo: dict, tmp_path: Path) -> None:
    kinds = {}
    for p in _files(demo["pack"]):
        kinds.setdefault(p.parent.name + "/" + (p.suffix or p.name), p.relative_to(demo["pack"]))
    assert {k.rsplit("/", 1)[1] for k in kinds} >= {".json", ".txt", ".png", ".pdf", ".html", ".jsonl", ".pem", ".key",
                                                   ".sha256", ".sig"}
    assert "suspect/.png" in kinds and "suspect/.html" in kinds  # the page screenshot and rendered page
    for suffix, rel in kinds.items():
        for where in ("start", "middle", "end"):
            copy = tmp_path / f"{suffix}-{where}"
            shutil.copytree(demo["pack"], copy)
            target = copy / rel
            data = bytearray(target.read_bytes())
            pos = {"start": 0, "middle": len(data) // 2, "end": len(data) - 2}[where]
            data[pos] ^= 0x01
            target.write_bytes(bytes(data))
            rep = verify_pack(copy)
            assert not rep.ok, (rel, where)
            if "files" in rep.checks and not rel.name.startswith("MANIFEST."):
                assert rel.as_posix() in rep.checks["files"][1], (rel, rep.checks["files"])  # names what broke
            else:  # the key or the manifest itself: the author's signature no longer holds
                assert not rep.checks["manifest_signature"][0], rel
            shutil.rmtree(copy)


def test_added_or_removed_files_fail(demo: dict, tmp_path: Path) -> None:
    added = tmp_path / "added"
    shutil.copytree(demo["pack"], added)
    (added / "drafts" / "extra.txt").write_text("not part of the evidence")
    assert "unlisted: drafts/extra.txt" in verify_pack(added).checks["files"][1]
    removed = tmp_path / "removed"
    shutil.copytree(demo["pack"], removed)
    (removed / "figures" / "side_by_side.png").unlink()
    assert not verify_pack(removed).ok


def test_zip_pack_and_both_languages_render(demo: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INKSEAL_PASSPHRASE", DEMO_PASSPHRASE)
    runner = CliRunner()
    for lang, heads in (("zh", ["证据报告", "待证事实", "比对", "被控使用", "赔偿估算", "完整性"]),
                        ("en", ["Evidence report", "Facts to prove", "Comparison", "The suspect use",
                                "Damages estimate", "Integrity"])):
        target = tmp_path / f"pack-{lang}.zip"
        r = runner.invoke(cli, ["--home", demo["home"], "evidence", str(demo["match"]), "-o", str(target),
                                "--lang", lang, "--licence-fee", "1200", "--costs", "300"], catch_exceptions=False)
        assert r.exit_code == 0, r.output
        assert verify_pack(target).ok
        out = tmp_path / f"unzipped-{lang}"
        shutil.unpack_archive(target, out)
        pages = tmp_path / f"pages-{lang}"
        pages.mkdir()
        subprocess.run(["pdftoppm", "-r", "40", "-png", str(out / "report.pdf"), str(pages / "p")], check=True)
        assert list(pages.glob("p*.png"))
        text = subprocess.run(["pdftotext", str(out / "report.pdf"), "-"], capture_output=True, text=True, check=True).stdout
        for h in heads:
            assert h in text, (lang, h)
        details = {"zh": ["署名区域被裁掉", "页面截图在记录位置显示的正是被控图片"],  # the facts read in the report's language
                   "en": ["signature region cut", "the page showed the suspect"]}[lang]
        flat = " ".join(text.split())
        for d in details:
            assert d in flat, (lang, d)
        ev = json.loads((out / "evidence.json").read_text())
        assert ev["damages"]["method"] == "licence_fee"


def test_damages_follow_article_54_order() -> None:
    a = estimate(DamagesInput(actual_loss=3000, illegal_gains=9000, licence_fee=500))
    assert a["method"] == "actual_loss" and a["suggested"] == 3000
    g = estimate(DamagesInput(illegal_gains=9000, licence_fee=500))
    assert g["method"] == "illegal_gains"
    lic = estimate(DamagesInput(licence_fee=1200, uses=2, costs=300))
    assert lic["method"] == "licence_fee" and lic["suggested"] == 2400 + 300
    wil = estimate(DamagesInput(licence_fee=1200, uses=1, wilful_reasons=["signature cut", "labels stripped"]))
    assert wil["range"] == [1200, 6000] and 1200 < wil["suggested"] <= 6000  # 1-5 times, with its reasons
    assert any(s.get("reasons") for s in wil["steps"])
    stat = estimate(DamagesInput(wilful_reasons=["signature cut"], costs=200))
    assert stat["method"] == "statutory" and 500 <= stat["suggested"] - 200 <= 5_000_000
    assert stat["steps"][-2]["reference"]["fine_art_per_picture"]["median"] == 800
    assert "not legal advice" in stat["disclaimer"]["en"] and "不构成法律意见" in stat["disclaimer"]["zh"]


def test_manifest_timestamp(demo: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tsa import TestTSA

    tsa = TestTSA()
    url, server = tsa.serve()
    try:
        pack = demo["app"].evidence(demo["match"], tmp_path / "pack", passphrase=DEMO_PASSPHRASE, lang="en", tsa_url=url)
    finally:
        server.shutdown()
    roots = tmp_path / "roots.pem"
    roots.write_bytes(tsa.root_pem)
    monkeypatch.setenv("INKSEAL_TSA_ROOTS", str(roots))
    rep = verify_pack(pack)
    assert rep.ok and rep.checks["manifest_timestamp"][0], rep.checks
    (pack / "MANIFEST.tsr").write_bytes(tsa.respond(__import__("rfc3161_client").TimestampRequestBuilder()
                                                    .data(b"another manifest").build().as_bytes()))
    assert not verify_pack(pack).ok
