"""Evidence packs: built from the demo's infringing article, verified offline, and broken by any change."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from rich.console import Console
from sqlalchemy import update
from typer.testing import CliRunner

from inkseal import Inkseal
from inkseal.cli import app as cli
from inkseal.demo import DEMO_PASSPHRASE, run_demo
from inkseal.evidence.damages import DamagesInput, estimate
from inkseal.evidence.safe_render import check_html
from inkseal.evidence.verify import verify_pack
from inkseal.evidence.zipread import ZipLimits
from inkseal.journal.keys import key_id
from inkseal.registry.models import Author, Suspect, Work
from test_h1_evidence_safety import Listener, cli_run, embedded_files, hostile, listener, resign, zip_of  # noqa: F401


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
    levels = {name: f["level"] for name, f in facts.items()}
    assert levels == {"work_exists_and_original": "verifiable", "claimant_made_it": "verifiable",
                      "when": "supported",  # no trusted timestamp in the demo
                      "published_with_signature": "verifiable",  # C2PA over the published bytes
                      "suspect_use": "supported",  # 127.0.0.1 is not a public address
                      "same_image": "verifiable",  # the blind mark, read with no key, is the signed soft binding
                      "signature_removed": "verifiable", "scale_of_use": "not_applicable"}, levels
    for name, f in facts.items():
        assert f["verified"] == (f["level"] == "verifiable"), name
        assert f["reason"] and f["reason_zh"], name
    # the gallery page on the same host shows ANOTHER work: it is not a place where this work is used
    assert "1 place on 127.0.0.1" in facts["scale_of_use"]["detail"]
    assert "screenshot" in facts["suspect_use"]["checks"] and rep["checks"]["screenshot"]["ok"]
    ev = json.loads((demo["pack"] / "evidence.json").read_text())
    assert ev["schema_version"] == "inkseal-evidence/1"
    assert ev["watermark"]["detected"] and ev["published_c2pa_state"] == "Trusted"
    assert ev["blind_mark"]["detected"] and facts["same_image"]["checks"] == ["blind_mark", "c2pa"]
    assert rep["checks"]["blind_mark"]["ok"] and ev["blind_mark"]["coincidence_probability"] < 1e-15


def test_blind_mark_check_fails_when_the_copy_or_the_record_differs(demo: dict, tmp_path: Path) -> None:
    """The check re-reads the suspect against the published file's signed manifest: a suspect without the
    mark, or a recorded value that is not the manifest's, fails it (and the fact resting on it)."""
    import numpy as np
    from PIL import Image

    from inkseal.seal import blindmark

    private = demo["app"].keys.private(DEMO_PASSPHRASE)
    ev_path = "evidence.json"
    # 1. the recorded value changed (and the pack re-signed): it is no longer the manifest's soft binding
    copy = tmp_path / "value"
    shutil.copytree(demo["pack"], copy)
    ev = json.loads((copy / ev_path).read_text())
    ev["blind_mark"]["value"] = blindmark.binding_value(bytes(8))
    (copy / ev_path).write_text(json.dumps(ev))
    resign(copy, private)
    rep = verify_pack(copy)
    assert not rep.checks["blind_mark"][0]
    assert not next(f for f in rep.facts if f["fact"] == "same_image")["verified"]
    # 2. the suspect replaced by a grayscale copy (no chroma, so no mark), re-signed: read no more
    copy = tmp_path / "gray"
    shutil.copytree(demo["pack"], copy)
    suspect = copy / json.loads((copy / ev_path).read_text())["files"]["suspect"]
    gray = np.asarray(Image.open(suspect).convert("L").convert("RGB"))
    Image.fromarray(gray).save(suspect, format=Image.open(suspect).format)
    resign(copy, private)
    rep = verify_pack(copy)
    assert rep.checks["files"][0] and not rep.checks["blind_mark"][0]


def _files(pack: Path) -> list[Path]:
    return sorted(p for p in pack.rglob("*") if p.is_file())


def test_any_byte_change_in_any_file_fails(demo: dict, tmp_path: Path) -> None:
    kinds = {}
    for p in _files(demo["pack"]):
        kinds.setdefault(p.parent.name + "/" + (p.suffix or p.name), p.relative_to(demo["pack"]))
    assert {k.rsplit("/", 1)[1] for k in kinds} >= {".json", ".txt", ".png", ".pdf", ".html", ".jsonl", ".pem",
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


# == issue 8: hostile pages, -o onto user files, forged and malformed packs (helpers in test_h1_evidence_safety) ==
def test_pack_from_a_hostile_page_has_no_live_markup_no_attachments_no_fetches(
        demo: dict, tmp_path: Path, listener: Listener, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    shutil.copytree(Path(demo["home"]), home)
    bad = hostile(listener.port)
    app = Inkseal.open(home)
    m = app.registry.match(demo["match"])
    with app.registry.session() as s, s.begin():
        s.execute(update(Work).where(Work.id == m.work_id).values(title=bad))
        s.execute(update(Author).values(name="Li " + bad))
        s.execute(update(Suspect).where(Suspect.id == m.suspect.id).values(
            page_url=f"http://127.0.0.1:{listener.port}/page?q=<script>x</script>\n\nFAKE PARAGRAPH",
            location={"title": bad, "alt": bad, "file": "/home/creator/private/stolen.png"}))
    app.close()
    monkeypatch.setenv("INKSEAL_PASSPHRASE", DEMO_PASSPHRASE)
    code, output = cli_run("--home", str(home), "evidence", str(demo["match"]), "-o", str(tmp_path / "pack"),
                           "--lang", "en")
    assert code == 0, output
    pack = tmp_path / "pack"
    html = (pack / "report.html").read_text()
    check_html(html, pack)  # no element, attribute or source the template does not make
    assert "<script" not in html and "<link" not in html and "&lt;script&gt;" in html
    assert embedded_files(pack / "report.pdf") == 0
    for pdf in pack.rglob("*.pdf"):
        assert embedded_files(pdf) == 0, pdf
    assert listener.hits == []  # nothing was requested while rendering
    for draft in (pack / "drafts").iterdir():
        text = draft.read_text()
        assert "<script" not in text and "<link" not in text, draft
        assert "\nFAKE PARAGRAPH" not in text, draft  # a page string cannot start a paragraph of a letter
    source = (pack / "suspect" / "source.json").read_text()
    assert "/home/creator" not in source and "stolen.png" in source  # no absolute local paths leave the machine
    for p in pack.rglob("*"):
        if p.suffix in (".json", ".html", ".txt", ".jsonl"):
            assert str(tmp_path) not in p.read_text(errors="replace"), p


# -- 2. never delete what the user did not create ------------------------------------------------------------
def test_output_never_deletes_user_files(demo: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INKSEAL_PASSPHRASE", DEMO_PASSPHRASE)
    build = lambda target, *more: cli_run("--home", str(Path(demo["home"])), "evidence", str(demo["match"]),  # noqa: E731
                                          "-o", str(target), "--lang", "en", *more)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.docx").write_text("years of work")
    for extra in ((), ("--force",)):
        code, output = build(mine, *extra)
        assert code == 3 and "Traceback" not in output, output
        assert (mine / "thesis.docx").read_text() == "years of work" and sorted(os.listdir(mine)) == ["thesis.docx"]
    # -o X.zip leaves a sibling folder X/ alone
    (tmp_path / "X").mkdir()
    (tmp_path / "X" / "notes.txt").write_text("keep me")
    code, output = build(tmp_path / "X.zip")
    assert code == 0, output
    assert (tmp_path / "X" / "notes.txt").read_text() == "keep me" and verify_pack(tmp_path / "X.zip").ok
    code, output = build(tmp_path / "X.zip")  # an existing zip: refused without --force
    assert code == 3, output
    from inkseal.evidence.pack import _check_target, _is_previous_pack

    assert _is_previous_pack(tmp_path / "X.zip")  # with --force it would be replaced ...
    with zipfile.ZipFile(tmp_path / "X.zip", "a") as z:
        z.writestr("my-notes.txt", "mine")
    assert not _is_previous_pack(tmp_path / "X.zip")  # ... but not once it holds a file the pack does not list
    empty = tmp_path / "empty"
    empty.mkdir()
    _check_target(empty, force=False)  # an empty folder is fine to write into
    # A previous pack folder is replaced with --force, unless someone put their own file in it.
    prev = tmp_path / "prev"
    shutil.copytree(demo["pack"], prev)
    assert build(prev)[0] == 3
    code, output = build(prev, "--force")
    assert code == 0 and verify_pack(prev).ok, output
    (prev / "drafts" / "my-letter.txt").write_text("my own words")
    code, output = build(prev, "--force")
    assert code == 3 and (prev / "drafts" / "my-letter.txt").read_text() == "my own words", output
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary folder left behind


# -- 3. forged and malformed packs ---------------------------------------------------------------------------
def test_pack_resigned_with_a_fresh_key(demo: dict, tmp_path: Path) -> None:
    author_pub = Path(demo["home"]) / "keys" / "author.pub"
    code, output = cli_run("evidence", "verify", str(demo["pack"]), "--key", str(author_pub))
    assert code == 0, output
    forged = tmp_path / "forged"
    shutil.copytree(demo["pack"], forged)
    ev = json.loads((forged / "evidence.json").read_text())
    ev["work"]["author"] = "Mallory"
    mallory = Ed25519PrivateKey.generate()
    ev["signer"]["key_id"] = key_id(mallory.public_key())
    (forged / "evidence.json").write_text(json.dumps(ev))
    resign(forged, mallory)
    # Even unpinned, the journal (the author's key) and the manifest (Mallory's) disagree.
    rep = verify_pack(forged)
    assert not rep.ok and not rep.checks["journal"][0] and "not by the pack's key" in rep.checks["journal"][1]
    # Re-signing the journal too makes a self-consistent forgery: unpinned it shows whose key it is ...
    from test_h6_evidence import resign_subset
    from inkseal.journal.log import Subset

    sub = Subset.from_jsonl((forged / "journal" / "journal.jsonl").read_text())
    (forged / "journal" / "journal.jsonl").write_text(resign_subset(sub, mallory).to_jsonl())
    ev["journal"]["latest_checkpoint"]["key_id"] = key_id(mallory.public_key())
    (forged / "evidence.json").write_text(json.dumps(ev))
    resign(forged, mallory)
    code, output = cli_run("evidence", "verify", str(forged))
    assert key_id(mallory.public_key()) in output and "Mallory" in output and "no key pinned" in output, output
    # ... and pinned to the author's key (or fingerprint) it fails, one line, no traceback.
    for pin in (["--key", str(author_pub)], ["--fingerprint", key_id(
            __import__("inkseal.journal.keys", fromlist=["x"]).load_public(author_pub.read_bytes()))]):
        code, output = cli_run("evidence", "verify", str(forged), *pin)
        assert code == 1 and "FAIL trusted_key" in output and "NOT the pinned key" in output, output
        assert "Traceback" not in output


def test_unlisted_file_of_any_name_fails(demo: dict, tmp_path: Path) -> None:
    for name in ("MANIFEST.notes", "journal/MANIFEST.extra", ".hidden"):
        copy = tmp_path / name.replace("/", "_")
        shutil.copytree(demo["pack"], copy)
        (copy / name).write_text("added later")
        rep = verify_pack(copy)
        assert not rep.ok and name in rep.checks["files"][1], (name, rep.checks["files"])


def test_links_and_paths_outside_the_pack_fail(demo: dict, tmp_path: Path) -> None:
    secret = tmp_path / "outside.jsonl"
    secret.write_text("the creator's private file")
    linked = tmp_path / "linked"
    shutil.copytree(demo["pack"], linked)
    (linked / "journal" / "journal.jsonl").unlink()
    (linked / "journal" / "journal.jsonl").symlink_to(secret)
    rep = verify_pack(linked)
    assert not rep.ok and "links" in rep.checks["files"][1]
    # ../ in evidence.json, signed with the author's own key: refused, and the outside file is never read
    dotdot = tmp_path / "dotdot"
    shutil.copytree(demo["pack"], dotdot)
    ev = json.loads((dotdot / "evidence.json").read_text())
    ev["files"]["journal"] = "../outside.jsonl"
    (dotdot / "evidence.json").write_text(json.dumps(ev))
    resign(dotdot, demo["app"].keys.private(DEMO_PASSPHRASE))
    rep = verify_pack(dotdot)
    assert not rep.ok and not rep.checks["paths"][0] and "../outside.jsonl" in rep.checks["paths"][1]
    assert not rep.checks["journal"][0] and "not an intact file" in rep.checks["journal"][1]
    # ../ in the MANIFEST itself
    (dotdot / "MANIFEST.sha256").write_text((dotdot / "MANIFEST.sha256").read_text() + "0" * 64 + "  ../outside.jsonl\n")
    rep = verify_pack(dotdot)
    assert not rep.ok and "outside the pack" in rep.checks["files"][1]


def test_malformed_zips_fail_cleanly(demo: dict, tmp_path: Path) -> None:
    import warnings

    good = zip_of(demo["pack"], tmp_path / "good.zip")
    assert verify_pack(good).ok
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate name we write on purpose
        fake = json.dumps({"schema_version": "inkseal-evidence/1", "work": {"author": "Mallory"}}).encode()
        dup = zip_of(demo["pack"], tmp_path / "dup.zip", first=[("evidence.json", fake)])
    rep = verify_pack(dup)
    assert not rep.ok and "duplicate name" in rep.checks["archive"][1]
    clash = zip_of(demo["pack"], tmp_path / "clash.zip", extra=[("report.pdf/inner.txt", b"x")])
    rep = verify_pack(clash)
    assert not rep.ok and "both a file and a folder" in rep.checks["archive"][1]
    bomb = zip_of(demo["pack"], tmp_path / "bomb.zip", extra=[("figures/zeros.bin", bytes(8 << 20))])
    rep = verify_pack(bomb)  # 8 MiB of zeros deflates about 1000:1 - over the ratio limit
    assert not rep.ok and "zip bomb" in rep.checks["archive"][1]
    rep = verify_pack(good, limits=ZipLimits(max_total_bytes=1 << 20))  # a total-size limit, lowered for the test
    assert not rep.ok and "inflates to more than" in rep.checks["archive"][1]
    rep = verify_pack(good, limits=ZipLimits(max_members=5))
    assert not rep.ok and "members" in rep.checks["archive"][1]
    unsafe = zip_of(demo["pack"], tmp_path / "unsafe.zip", extra=[("../escape.txt", b"x")])
    rep = verify_pack(unsafe)
    assert not rep.ok and "unsafe path" in rep.checks["archive"][1] and not (tmp_path / "escape.txt").exists()
    for z in (dup, clash, bomb, unsafe):
        code, output = cli_run("evidence", "verify", str(z))
        assert code == 1 and "Traceback" not in output and output.count("FAIL") == 1, output
        assert "压缩包被拒绝" in output


def test_cut_journal_differs_from_the_checkpoint_the_pack_names(demo: dict, tmp_path: Path) -> None:
    """The entries and the checkpoint are named in evidence.json, under the MANIFEST signature: a pack whose
    journal lost entries fails, even re-signed (here with the author's own key), and so does one whose
    journal was swapped for the whole journal; a malformed evidence.json is one line."""
    cut = tmp_path / "cut"
    shutil.copytree(demo["pack"], cut)
    lines = (cut / "journal" / "journal.jsonl").read_text().splitlines(keepends=True)
    entries = [ln for ln in lines if '"type":"entry"' in ln]
    keep = len(entries) // 2
    (cut / "journal" / "journal.jsonl").write_text("".join([lines[0], *entries[:keep]]))  # header, half the entries
    resign(cut, demo["app"].keys.private(DEMO_PASSPHRASE))
    rep = verify_pack(cut)
    assert not rep.ok and "not the ones evidence.json lists" in rep.checks["journal"][1]
    whole = tmp_path / "whole"
    shutil.copytree(demo["pack"], whole)
    (whole / "journal" / "journal.jsonl").write_text(demo["app"].journal.bundle().to_jsonl())
    resign(whole, demo["app"].keys.private(DEMO_PASSPHRASE))
    assert not verify_pack(whole).ok
    odd = tmp_path / "odd"
    shutil.copytree(demo["pack"], odd)
    ev = json.loads((odd / "evidence.json").read_text())
    ev["journal"], ev["facts"] = ["not", "a", "dict"], [{"no": "status"}]
    (odd / "evidence.json").write_text(json.dumps(ev))
    resign(odd, demo["app"].keys.private(DEMO_PASSPHRASE))
    code, output = cli_run("evidence", "verify", str(odd))
    assert code == 1 and "Traceback" not in output and "FAIL" in output, output
