"""Issue 10, pack side: the evidence pack states only what it proves.

One creator home (real SQLite registry, real keys, real seals, real scans, real WeasyPrint) holds:
    work A  sealed twice: PNG with the signature bottom-right, then WebP with the signature top-left;
            a copy of the PNG with the signature corner cut off is scanned (as a local file)
    work B  journaled with a private prompt (must never leave in work A's pack)
    work C  registered, never sealed and never journaled; a local copy of it is scanned
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from PIL import Image, PngImagePlugin
from typer.testing import CliRunner

from inkseal import Inkseal
from inkseal.cli import app as cli
from inkseal.evidence.cases import places_on_site, site
from inkseal.evidence.damages import DamagesInput, estimate
from inkseal.evidence.pack import ContactMissing, build_pack
from inkseal.evidence.verify import verify_lines, verify_pack
from inkseal.journal.log import Bundle, Subset, export_subset, verify_subset
from inkseal.journal.statement import word_diff
from inkseal.seal.service import SealOptions, seal

PW = "h6-passphrase"


def resign_subset(sub: Subset, private: Ed25519PrivateKey) -> Subset:
    """What an attacker can do with their own key: re-sign every entry and the checkpoint of a subset
    (the leaves stay as they are)."""
    from test_h1_journal_keys import resign as resign_bundle

    again = resign_bundle(Bundle(sub.entries, [sub.checkpoint], sub.public_keys), private)
    return Subset(again.entries, sub.proofs, again.checkpoints[0], again.public_keys, sub.selection)
KODAK = Path(__file__).resolve().parents[1] / "examples" / "kodak"
SECRET = "a private prompt about peach orchards at dawn"


def _copy_without_bottom_right(src: Path, dst: Path) -> None:
    im = Image.open(src).convert("RGB")
    w, h = im.size
    im.crop((0, 0, int(w * 0.8), int(h * 0.8))).save(dst, quality=95)  # the bottom-right signature is gone


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> dict:
    tmp = tmp_path_factory.mktemp("h6")
    app = Inkseal.open(tmp / "home")
    app.keys.init(PW, creator="Li")
    works = sorted(KODAK.glob("*.png"))[:3]
    ids = [i.work_id for i in app.register(works, author="Li").items]
    a, b, c = ids
    app.journal.import_paths(works[:1], passphrase=PW)  # work A's file
    png = tmp / "a-sealed.png"
    webp = tmp / "a-sealed.webp"
    r_png = seal(app, a, png, SealOptions(signature="© Li"), PW)
    r_webp = seal(app, a, webp, SealOptions(signature="© Li", corner="top-left", label_corner="bottom-left"), PW)
    app.journal.curate("published", work_id=a, file=png, where="https://example.com/", passphrase=PW)
    # work B: a generation with a prompt that must stay private
    gen = tmp / "b-generated.png"
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", f"{SECRET}\nNegative prompt: blurry\nSteps: 20, Sampler: Euler a, CFG scale: 7, "
                                "Seed: 42, Size: 64x64, Model: sdxl")
    Image.new("RGB", (64, 64), (200, 90, 90)).save(gen, pnginfo=info)
    app.journal.import_paths([gen], work_id=b, passphrase=PW)
    app.journal.checkpoint(PW)
    # the suspects
    cut = tmp / "copy-cut.jpg"
    _copy_without_bottom_right(png, cut)
    plain = tmp / "copy-of-c.jpg"
    Image.open(works[2]).convert("RGB").save(plain, quality=92)
    report = app.scan([str(cut), str(plain)])
    by_work = {m.work_id: m for r in report.results for m in r.matches}
    assert a in by_work and c in by_work, report
    stored = {m.work_id: m for m in app.registry.matches()}
    return {"app": app, "tmp": tmp, "a": a, "b": b, "c": c, "png_file": r_png.file_id, "webp_file": r_webp.file_id,
            "match_a": stored[a].id, "match_c": stored[c].id, "cut": cut, "home": str(tmp / "home")}


@pytest.fixture(scope="module")
def pack_a(home: dict) -> Path:
    return build_pack(home["app"], home["match_a"], home["tmp"] / "pack-a", passphrase=PW, lang="zh")


def _facts(pack: Path) -> dict:
    return {f["fact"]: f for f in json.loads((pack / "evidence.json").read_text())["facts"]}


# -- 2. version-aware facts ---------------------------------------------------------------------------------
def test_double_seal_facts_come_from_the_version_the_copy_derives_from(home: dict, pack_a: Path) -> None:
    app = home["app"]
    m = app.registry.match(home["match_a"])
    assert m.file_id == home["png_file"], "the matcher names the PNG version (cut copy of the PNG)"
    ev = json.loads((pack_a / "evidence.json").read_text())
    assert ev["work"]["version"]["file_id"] == home["png_file"]
    png = app.registry.file(home["png_file"])
    assert (pack_a / ev["files"]["published"]).read_bytes() == app.registry.objects.get(png.sha256)
    facts = _facts(pack_a)
    assert facts["signature_removed"]["level"] in ("verifiable", "supported")
    assert "被裁掉" in facts["signature_removed"]["detail_zh"] and "完整" not in facts["signature_removed"]["detail_zh"]
    # the signature figure is the PNG's signature region (bottom-right), not the WebP's nor the AI label
    x0, y0, x1, y1 = (int(v) for v in png.regions["signature"])
    rgb = np.asarray(Image.open(pack_a / ev["files"]["figure_signature"]).convert("RGB"))
    full = np.asarray(Image.open(pack_a / ev["files"]["published"]).convert("RGB"))
    assert np.array_equal(rgb, full[max(0, y0 - 10):y1 + 10, max(0, x0 - 10):x1 + 10])
    assert x0 > full.shape[1] // 2 and y0 > full.shape[0] // 2  # bottom-right
    assert verify_pack(pack_a).ok


def test_unsealed_work_and_local_file_make_no_false_claims(home: dict) -> None:
    pack = build_pack(home["app"], home["match_c"], home["tmp"] / "pack-c", passphrase=PW, lang="en")
    facts = _facts(pack)
    assert facts["published_with_signature"]["level"] == "not_applicable"
    assert facts["signature_removed"]["level"] == "not_applicable"
    assert facts["suspect_use"]["level"] == "missing" and "not a use by a third party" in facts["suspect_use"]["reason"]
    assert facts["work_exists_and_original"]["level"] == "missing"  # never journaled
    assert facts["when"]["level"] == "supported"  # no trusted timestamp
    assert all(f["level"] != "verifiable" for f in facts.values())
    text = (pack / "report.html").read_text() + "".join(p.read_text() for p in (pack / "drafts").iterdir())
    assert "proven" not in text.lower() and "已证明" not in text
    rep = verify_pack(pack)
    assert rep.ok
    lines = "\n".join(verify_lines(rep, "en"))
    assert "evidence missing" in lines and "not a use by a third party" in lines and "not applicable" in lines


# -- 4. scale of use ------------------------------------------------------------------------------------------
def _m(id_: int, work: int, sha: str, src: str, page: str | None, status: str = "new") -> SimpleNamespace:
    return SimpleNamespace(id=id_, work_id=work, status=status, suspect=SimpleNamespace(sha256=sha, source=src, page_url=page))


def test_scale_of_use_counts_distinct_places_of_this_work_on_this_site() -> None:
    page1, page2 = "https://www.shop.example.com.cn/a.html", "https://shop.example.com.cn/b.html"
    this = _m(1, 7, "s1", "https://img.example.com.cn/x.jpg", page1)
    rows = [this,
            _m(2, 7, "s1", "https://img.example.com.cn/x.jpg", page1),  # re-scan: same bytes
            _m(3, 7, "s1-recompressed", "https://img.example.com.cn/x.jpg", page1),  # same image URL on the page
            _m(4, 7, "s2", "https://img.example.com.cn/y.jpg", page2),  # another place: counted
            _m(5, 7, "s3", "https://img.example.com.cn/z.jpg", page2, "whitelisted"),  # licensed: not counted
            _m(6, 7, "s4", "https://img.example.com.cn/w.jpg", page2, "ignored"),
            _m(7, 8, "s5", "https://img.example.com.cn/v.jpg", page2),  # another work
            _m(8, 7, "s6", "https://elsewhere.org/u.jpg", "https://elsewhere.org/")]  # another site
    out = places_on_site(rows, this)
    assert out["site"] == "example.com.cn" == site(page1)
    assert [p["match_ids"] for p in out["places"]] == [[1, 2, 3], [4]]
    assert out["excluded"] == {"decided": 2, "duplicates": 2, "other_sites": 1}
    # three re-scans of everything: the same places, the same damages
    again = rows + [_m(10 + i, m.work_id, m.suspect.sha256, m.suspect.source, m.suspect.page_url, "new")
                    for i, m in enumerate(rows[1:] * 2)]
    out2 = places_on_site(again, this)
    assert [p["match_ids"][0] for p in out2["places"]] == [1, 4]
    d1 = estimate(DamagesInput(uses=len(out["places"]), wilful_reasons=["a", "b"]))
    d2 = estimate(DamagesInput(uses=len(out2["places"]), wilful_reasons=["a", "b"]))
    assert d1["suggested"] == d2["suggested"]
    # a registry's case id, where there is one, is the key
    a, b = _m(1, 7, "p", "https://x.example.com/1.jpg", None), _m(2, 7, "q", "https://x.example.com/2.jpg", None)
    a.case_id = b.case_id = 5
    assert len(places_on_site([a, b], a)["places"]) == 1


def test_rescans_leave_the_pack_damages_unchanged(home: dict) -> None:
    app = home["app"]
    first = build_pack(app, home["match_a"], home["tmp"] / "before", passphrase=PW, lang="en")
    for _ in range(2):
        app.scan([str(home["cut"])])
    after = build_pack(app, home["match_a"], home["tmp"] / "after", passphrase=PW, lang="en")
    e1, e2 = (json.loads((p / "evidence.json").read_text()) for p in (first, after))
    assert e1["damages"]["suggested"] == e2["damages"]["suggested"]
    assert len(e2["scale_of_use"]["places"]) == 1


def test_damages_table_adds_up_and_explains_the_multiplier() -> None:
    for d in (DamagesInput(), DamagesInput(uses=3, wilful_reasons=["a", "b"], costs=120.5),
              DamagesInput(licence_fee=1200, uses=2, wilful_reasons=["a", "b"], costs=300),
              DamagesInput(actual_loss=3000), DamagesInput(uses=20_000, wilful_reasons=["a", "b", "c"])):
        e = estimate(d)
        assert round(sum(r["amount"] for r in e["table"]), 2) == e["suggested"]
    e = estimate(DamagesInput(licence_fee=1200, uses=2, wilful_reasons=["a", "b"]))
    assert any("multiple 3" in s["basis"] and "倍数 3" in s["basis_zh"] for s in e["steps"])


# -- 5. privacy ------------------------------------------------------------------------------------------
def _all_text(pack: Path) -> str:
    return "\n".join(p.read_bytes().decode("utf-8", "replace") for p in pack.rglob("*") if p.is_file())


def test_pack_holds_only_this_works_entries_with_inclusion_proofs(home: dict, pack_a: Path) -> None:
    app = home["app"]
    sub = Subset.from_jsonl((pack_a / "journal" / "journal.jsonl").read_text())
    works = {json.loads(e.payload).get("work_id") for e in sub.entries}
    assert works == {home["a"]}
    assert SECRET not in _all_text(pack_a) and SECRET in json.dumps(app.journal.entries(home["b"]))
    assert verify_subset(sub).ok
    # a proof that does not lead to the signed root fails, named
    bad = Subset(sub.entries, {**sub.proofs, sub.entries[0].seq: ["00" * 32] * max(1, len(sub.proofs[sub.entries[0].seq]))},
                 sub.checkpoint, sub.public_keys, sub.selection)
    rep = verify_subset(bad)
    assert not rep.ok and "inclusion proof" in rep.problems[0].message
    # an entry of another work smuggled in: its proof is valid, but evidence.json does not list it
    full = app.journal.bundle()
    other = export_subset(full, {e["seq"] for e in app.journal.entries(home["a"]) + app.journal.entries(home["b"])},
                          sub.selection)
    assert verify_subset(other).ok
    copy = home["tmp"] / "smuggled"
    shutil.copytree(pack_a, copy)
    (copy / "journal" / "journal.jsonl").write_text(other.to_jsonl())
    from test_h1_evidence_safety import resign

    resign(copy, app.keys.private(PW))
    rep = verify_pack(copy)
    assert not rep.ok and "not the ones evidence.json lists" in rep.checks["journal"][1]


def test_private_material_only_on_request(home: dict, pack_a: Path) -> None:
    app = home["app"]
    files = json.loads((pack_a / "evidence.json").read_text())["files"]
    assert not {"original", "watermark_key", "watermark_reference"} & set(files)
    original = next(f for f in app.registry.work(home["a"]).files if f.role == "original")
    blobs = {p.read_bytes() for p in pack_a.rglob("*") if p.is_file()}
    assert app.registry.objects.get(original.sha256) not in blobs
    # without the key, what others can re-check is the blind mark against the signed manifest's soft binding
    same = _facts(pack_a)["same_image"]
    assert same["level"] == "verifiable" and same["checks"] == ["blind_mark", "c2pa"], same
    assert "without a key" in same["reason"] and "watermark_key" not in same["files"]
    full = build_pack(app, home["match_a"], home["tmp"] / "pack-full", passphrase=PW, lang="en",
                      include_originals=True, include_watermark_key=True)
    files = json.loads((full / "evidence.json").read_text())["files"]
    assert {"original", "watermark_key", "watermark_reference"} <= set(files)
    rep = verify_pack(full)
    assert rep.ok and rep.checks["watermark"][0]
    same = next(f for f in rep.facts if f["fact"] == "same_image")
    assert same["level"] == "verifiable" and same["verified"] and "watermark" in same["checks"]


def test_platform_pack_needs_contact_and_holds_nothing_private(home: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    app = home["app"]
    with pytest.raises(ContactMissing, match="contact_name"):
        build_pack(app, home["match_a"], home["tmp"] / "platform-refused", passphrase=PW, for_platform=True)
    assert not (home["tmp"] / "platform-refused").exists()
    for k, v in {"contact_name": "李明", "contact_email": "li@example.com", "contact_address": "北京市海淀区某路 1 号",
                 "contact_phone": "+86 10 1234 5678"}.items():
        monkeypatch.setattr(app.settings, k, v, raising=False)
    pack = build_pack(app, home["match_a"], home["tmp"] / "platform", passphrase=PW, for_platform=True,
                      include_originals=True, include_watermark_key=True)  # ignored for a platform
    ev = json.loads((pack / "evidence.json").read_text())
    assert ev["audience"] == "platform" and ev["damages"] is None
    assert not {"journal", "original", "watermark_key", "watermark_reference"} & set(ev["files"])
    assert sorted(p.name for p in (pack / "drafts").iterdir()) == ["takedown.en.txt", "takedown.zh.txt"]
    assert SECRET not in _all_text(pack) and not (pack / "journal" / "journal.jsonl").exists()
    assert verify_pack(pack).ok
    # the drafts say exactly what is attached: every file of the pack, nothing else
    zh = (pack / "drafts" / "takedown.zh.txt").read_text()
    listed = set(re.findall(r"^- (\S+)$", zh.split("随附文件")[1].split("四、")[0], re.M))
    present = {p.relative_to(pack).as_posix() for p in pack.rglob("*") if p.is_file()}
    assert listed == present
    for needed in ("李明", "li@example.com", "北京市海淀区某路 1 号", "第十四条", "初步证明材料", "真实性"):
        assert needed in zh, needed
    en = (pack / "drafts" / "takedown.en.txt").read_text()
    for needed in ("good faith belief", "penalty of perjury", "authorized to act", "Signature: /李明/", "Address:",
                   "Telephone: +86"):
        assert needed in en, needed


def test_demand_letter_has_date_deadline_and_no_internal_codes(home: dict, pack_a: Path) -> None:
    ev = json.loads((pack_a / "evidence.json").read_text())
    for lang in ("zh", "en"):
        text = (pack_a / "drafts" / f"demand.{lang}.txt").read_text()
        letter, _, after = text.partition("——————" if lang == "zh" else "------")
        assert ev["letter"]["date"] in letter and ev["letter"]["deadline"] in letter
        assert ev["damages"]["disclaimer"][lang] in after and ev["damages"]["disclaimer"][lang] not in letter
        assert not re.search(r"\[\s*\d+(\.\d+)?,\s*\d", letter), "no pixel boxes"
        for code in ("label_removed", "c2pa_missing_but_watermark", "signature_removed", "work_exists", "affine"):
            assert code not in letter
    assert "【请填写通讯地址" in (pack_a / "drafts" / "takedown.zh.txt").read_text()  # asks, never invents


# -- 7. Chinese means Chinese -----------------------------------------------------------------------------
# The UI's own English vocabulary: none of these may appear in a Chinese output (names, URLs, hashes, file
# names, codes and the product's own name aside - they are removed before the check).
UI_WORDS = {"signature", "watermark", "match", "matches", "score", "proven", "missing", "verified", "verifiable",
            "supported", "rejected", "selected", "published", "edited", "generation", "generations", "entries", "entry",
            "bits", "over", "min", "h", "s", "cny", "statutory", "licence", "fee", "step", "basis", "amount",
            "suggested", "pass", "fail", "fact", "none", "unknown", "absent", "intact", "cut", "altered", "seed",
            "key", "checkpoint", "registered", "captured", "page", "file", "files", "local", "copy", "derivative",
            "place", "places", "other", "not", "applicable", "detected", "bits", "range", "total", "reference",
            "use", "uses", "the", "of", "and", "on", "in", "by", "with", "time", "times", "work", "journal",
            "timestamp", "evidence", "report", "integrity", "draft", "version", "original", "disclaimer"}


def english_ui_words(text: str) -> set[str]:
    text = re.sub(r"<code>.*?</code>|<style>.*?</style>|<[^>]+>", " ", text, flags=re.S)
    # the blind mark's 64-bit soft-binding value is printed as C2PA stores it (base64, 12 characters): random letters
    # such as a lone "H" in it are not English
    text = re.sub(r"(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{11}=", " ", text)
    text = re.sub(r"https?://\S+|[\w.-]+@[\w.-]+|[0-9a-f]{8,}…?|\S+\.(png|jpg|webp|pdf|html|txt|json|jsonl|pem|"
                  r"sha256|sig|tsr|toml|warc|key)\b|\b(inkseal|contact_\w+|config|verify|evidence verify|"
                  r"journal checkpoint --tsa|include-watermark-key)\b|--[\w-]+|&\w+;", " ", text)
    return {w for w in re.findall(r"[A-Za-z]+", text) if w.lower() in UI_WORDS}


def test_every_chinese_output_is_chinese(home: dict, pack_a: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    outputs = {"report": (pack_a / "report.html").read_text(),
               "statement": next((pack_a / "journal").glob("statement-*.zh.html")).read_text()}
    for name in ("takedown.zh.txt", "demand.zh.txt"):
        outputs[name] = (pack_a / "drafts" / name).read_text()
    monkeypatch.setenv("INKSEAL_LANG", "zh")
    r = CliRunner().invoke(cli, ["evidence", "verify", str(pack_a)], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    outputs["verify"] = r.output
    for name, text in outputs.items():
        assert not english_ui_words(text), (name, sorted(english_ui_words(text)))
    assert "¥" in outputs["report"] and "CNY" not in outputs["report"]
    # the check can fail: the English report is full of those words
    en = build_pack(home["app"], home["match_a"], home["tmp"] / "pack-en", passphrase=PW, lang="en")
    assert len(english_ui_words((en / "report.html").read_text())) > 10


# -- 9. statement truth --------------------------------------------------------------------------------------
def test_statement_refuses_a_work_without_journal_and_labels_file_times(home: dict, tmp_path: Path) -> None:
    out = tmp_path / "st"
    r = CliRunner().invoke(cli, ["--home", home["home"], "journal", "statement", str(home["c"]), "-o", str(out)],
                           catch_exceptions=False)
    assert r.exit_code != 0 and "no journal entries" in r.output and "Traceback" not in r.output
    assert not out.exists() or not any(out.iterdir())
    paths = home["app"].statement(home["a"], tmp_path / "a", langs=("zh", "en"))
    zh, en = paths["zh"]["html"].read_text(), paths["en"]["html"].read_text()
    assert "文件修改时间" in zh and "file modification time" in en
    assert "发布" in zh and ">published<" not in zh


def test_word_level_diff_marks_words_not_terms() -> None:
    d = word_diff("a cat, sitting on a mat, (masterpiece:1.2)", "a black cat, sitting on the mat, (masterpiece:1.3)")
    assert ("+", " black") in d and ("-", "a") in d and ("+", "the") in d and ("-", "1.2") in d and ("+", "1.3") in d
    kept = "".join(t for op, t in d if op == "=")
    assert "cat, sitting on " in kept and "mat, (masterpiece:" in kept


def test_a_watermark_read_below_threshold_is_not_cited(home: dict) -> None:
    from inkseal.evidence.factbuild import build_facts

    app = home["app"]
    m = app.registry.match(home["match_a"])
    version = app.registry.file(m.file_id)
    source = {"source": "https://pics.example.com/x.jpg", "kind": "url", "page_url": "https://pics.example.com/",
              "sha256": "ab" * 32}
    capture = {"checks": [], "notes": [], "notes_zh": []}
    common = dict(m=m, work=app.registry.work(m.work_id), version=version, version_public=True, source=source,
                  capture=capture, files={}, journal={"entries": 0}, latest=None, kid="cd" * 32,
                  c2pa={"state": "Trusted"}, key_in_pack=True, sig={"status": "cut"}, loc={},
                  inspection={"findings": []}, scale={"site": "example.com", "places": [], "excluded": {}},
                  platform=False, public_url=True)
    weak = build_facts(**common, wm={"detected": False, "agreement": 40, "false_positive_probability": 0.04})
    same = next(f for f in weak if f["fact"] == "same_image")
    assert same["level"] == "supported" and "watermark" not in same["checks"] and "not relied on" in same["detail"]
    strong = build_facts(**common, wm={"detected": True, "agreement": 64, "false_positive_probability": 5e-20})
    same = next(f for f in strong if f["fact"] == "same_image")
    assert same["level"] == "verifiable" and same["checks"] == ["watermark"]
    use = next(f for f in strong if f["fact"] == "suspect_use")
    assert use["level"] == "supported"  # a public URL, but no capture anyone can re-check


def test_cli_platform_pack_asks_for_contact_in_one_line(home: dict, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INKSEAL_PASSPHRASE", PW)
    r = CliRunner().invoke(cli, ["--home", home["home"], "evidence", str(home["match_a"]), "-o", str(tmp_path / "p"),
                                 "--for", "platform"], catch_exceptions=False)
    assert r.exit_code == 3 and "contact_name" in r.output and "侵权通知须写明" in r.output
    assert "Traceback" not in r.output and not (tmp_path / "p").exists()


def test_odds_in_chinese() -> None:
    from inkseal.i18n import odds_text, t

    for score in (1.2, 5.3, 9.1, 99):
        text = t("meaning", "zh", odds=odds_text(score, "zh"))
        assert not re.search(r"[A-Za-z]{2,}", text), text


def test_journal_export_of_one_work_verifies_and_leaks_nothing(home: dict, tmp_path: Path) -> None:
    out = tmp_path / "a.jsonl"
    r = CliRunner().invoke(cli, ["--home", home["home"], "journal", "export", "--work", str(home["a"]), "-o", str(out)],
                           catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert SECRET not in out.read_text()
    r = CliRunner().invoke(cli, ["journal", "verify", str(out)], catch_exceptions=False)
    assert r.exit_code == 0 and "OK" in r.output, r.output
    lines = out.read_text().splitlines(keepends=True)
    row = json.loads(lines[1])
    row["payload"] = row["payload"].replace('"kind":"', '"kind":"x')
    from inkseal.journal.log import canonical

    out.write_text(lines[0] + canonical(row).decode() + "\n" + "".join(lines[2:]))
    r = CliRunner().invoke(cli, ["journal", "verify", str(out)], catch_exceptions=False)
    assert r.exit_code == 1 and "Traceback" not in r.output
