"""The journal: signed append-only log, tamper detection naming the entry, keys, watch, statement."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest
from PIL import Image, PngImagePlugin
from sqlalchemy import select, update

from inkseal import Inkseal
from inkseal.journal.keys import KeyError_
from inkseal.journal.log import Bundle, verify_bundle
from inkseal.registry.models import JournalCheckpoint, JournalEntry

SD = Path(__file__).resolve().parents[2] / "shared" / "data" / "sd-tools" / "parsers"
PASS = "correct horse battery"


def a1111_png(path: Path, prompt: str, seed: int, steps: int = 20, cfg: float = 7.0, colour: int = 0) -> Path:
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", f"{prompt}\nNegative prompt: blurry, lowres\nSteps: {steps}, Sampler: Euler a, "
                                f"CFG scale: {cfg}, Seed: {seed}, Size: 64x64, Model hash: abc123, Model: dreamy_v1")
    Image.new("RGB", (64, 64), (colour, 100, 200 - colour)).save(path, pnginfo=info)
    return path


@pytest.fixture
def session(tmp_path: Path) -> tuple[Inkseal, Path]:
    """A creator's session: four generations over three prompt revisions, then a selection."""
    app = Inkseal.open(tmp_path / "home")
    app.keys.init(PASS)
    out = tmp_path / "outputs"
    out.mkdir()
    a1111_png(out / "00001.png", "girl, ancient costume, spring breeze", 11, colour=10)
    a1111_png(out / "00002.png", "girl, ancient costume, spring breeze", 12, colour=20)
    a1111_png(out / "00003.png", "girl, (ancient costume:1.3), spring breeze, peach blossoms", 12, cfg=8, colour=30)
    final = a1111_png(out / "00004.png", "spring breeze, girl, (ancient costume:1.3), peach blossoms, soft light", 12,
                      steps=30, cfg=8, colour=40)
    for i, p in enumerate(sorted(out.iterdir())):  # creation order as the tool wrote them, minutes apart
        t = 1_700_000_000 + i * 300
        import os

        os.utime(p, (t, t))
    wid = app.registry.add_work("Li", "Spring Breeze Brings Tenderness").id
    app.journal.import_paths([out], work_id=wid, passphrase=PASS)
    app.journal.curate("selected", work_id=wid, file=final, note="the final picture", passphrase=PASS)
    return app, out


def test_import_sign_and_verify(session: tuple[Inkseal, Path]) -> None:
    app, _out = session
    report = app.journal.verify()
    assert report.ok, report.problems
    assert report.entries == 5 and report.signed_size == 5 and report.checkpoints == 2
    entries = app.journal.entries()
    assert [e["kind"] for e in entries] == ["generation"] * 4 + ["curation"]
    assert entries[0]["data"]["generation"]["seed"] == 11 and entries[0]["data"]["pdq"]
    assert entries[4]["data"]["subject_entry"] == 3  # the selection points at the journaled generation


def test_reimport_is_idempotent(session: tuple[Inkseal, Path]) -> None:
    app, out = session
    items = app.journal.import_paths([out], passphrase=PASS)
    assert all(i.message and "already journaled" in i.message for i in items)
    assert app.journal.verify().entries == 5


def _tamper_db(app: Inkseal, seq: int, column: str) -> None:
    with app.registry.session() as s, s.begin():
        row = s.scalar(select(JournalEntry).where(JournalEntry.seq == seq))
        value = getattr(row, column)
        if column == "payload":
            new = value.replace('"seed":12', '"seed":13', 1) if '"seed":12' in value else value.replace('"v":1', '"v":2', 1)
            assert new != value
        elif column == "signature":
            raw = bytearray(base64.b64decode(value))
            raw[5] ^= 1
            new = base64.b64encode(bytes(raw)).decode()
        else:
            new = ("0" if value[0] != "0" else "1") + value[1:]
        s.execute(update(JournalEntry).where(JournalEntry.seq == seq).values({column: new}))


@pytest.mark.parametrize("column", ["payload", "leaf_hash", "signature"])
@pytest.mark.parametrize("seq", [0, 2, 4])
def test_tampering_with_a_stored_entry_is_named(session: tuple[Inkseal, Path], column: str, seq: int) -> None:
    app, _ = session
    _tamper_db(app, seq, column)
    report = app.journal.verify()
    assert not report.ok and report.first_bad_entry == seq, report.problems


def test_rewriting_payload_and_hash_together_is_still_caught(session: tuple[Inkseal, Path]) -> None:
    """The forger recomputes the leaf hash too: the author's signature and the signed root still catch it."""
    from inkseal.journal import merkle

    app, _ = session
    with app.registry.session() as s, s.begin():
        row = s.scalar(select(JournalEntry).where(JournalEntry.seq == 1))
        forged = row.payload.replace('"seed":12', '"seed":99')
        s.execute(update(JournalEntry).where(JournalEntry.seq == 1).values(
            payload=forged, leaf_hash=merkle.leaf_hash(forged.encode()).hex()))
    report = app.journal.verify()
    assert report.first_bad_entry == 1
    assert any("signature" in p.message for p in report.problems)
    assert any("root does not match" in p.message for p in report.problems)


def test_deleting_or_reordering_entries_is_caught(session: tuple[Inkseal, Path]) -> None:
    app, _ = session
    with app.registry.session() as s, s.begin():
        s.execute(JournalEntry.__table__.delete().where(JournalEntry.seq == 2))
    report = app.journal.verify()
    assert not report.ok and report.first_bad_entry == 2


def test_tampered_checkpoint_is_caught(session: tuple[Inkseal, Path]) -> None:
    app, _ = session
    with app.registry.session() as s, s.begin():
        cp = s.scalars(select(JournalCheckpoint).order_by(JournalCheckpoint.size)).first()
        s.execute(update(JournalCheckpoint).where(JournalCheckpoint.id == cp.id).values(size=cp.size - 1))
    report = app.journal.verify()
    assert not report.ok and any("checkpoint" in p.message for p in report.problems)


def test_every_byte_of_an_exported_journal_is_protected(session: tuple[Inkseal, Path]) -> None:
    app, _ = session
    text = app.journal.bundle().to_jsonl()
    assert verify_bundle(Bundle.from_jsonl(text)).ok
    raw = text.encode("utf-8")
    missed = []
    for i in range(len(raw)):
        b = bytearray(raw)
        b[i] ^= 0x01
        try:
            ok = verify_bundle(Bundle.from_jsonl(bytes(b).decode("utf-8"))).ok
        except (ValueError, UnicodeDecodeError):
            ok = False
        if ok:
            missed.append(i)
    assert missed == [], [raw[max(0, i - 20):i + 20] for i in missed[:3]]


def test_unsigned_entries_are_reported(tmp_path: Path) -> None:
    app = Inkseal.open(tmp_path / "home")
    app.journal.import_paths([SD / "NovelAI"])
    report = app.journal.verify()
    assert not report.ok and "not covered by any signature" in report.problems[-1].message
    app.keys.init(PASS)
    app.journal.checkpoint(PASS)
    assert app.journal.verify().ok


def test_keys_wrong_passphrase_export_import(tmp_path: Path) -> None:
    a = Inkseal.open(tmp_path / "a")
    kid = a.keys.init(PASS)
    with pytest.raises(KeyError_, match="wrong passphrase"):
        a.keys.private("not it at all")
    with pytest.raises(KeyError_, match="already exists"):
        a.keys.init(PASS)
    assert b"ENCRYPTED PRIVATE KEY" in a.keys.export_private()
    assert oct(a.keys.private_path.stat().st_mode & 0o777) == "0o600"
    b = Inkseal.open(tmp_path / "b")
    assert b.keys.import_private(a.keys.export_private(), PASS) == kid
    # per-work watermark keys: stable, distinct, and not the master key
    k1, k2 = a.keys.watermark_key_for(1), a.keys.watermark_key_for(2)
    assert k1 == a.keys.watermark_key_for(1) and len({k1, k2, a.keys.watermark_key()}) == 3


def test_edit_chain_and_img2img_links(tmp_path: Path) -> None:
    app = Inkseal.open(tmp_path / "home")
    app.keys.init(PASS)
    src = tmp_path / "example.png"
    a1111_png(src, "base picture", 1)
    items = app.journal.import_paths([src], passphrase=PASS)
    shutil.copy(SD / "ComfyUI" / "img2img_cropped.png", tmp_path / "img2img.png")  # its LoadImage is example.png
    (item,) = app.journal.import_paths([tmp_path / "img2img.png"], passphrase=PASS)
    entry = app.journal.entries()[item.entries[0]]
    assert entry["data"]["derived_from_entry"] == items[0].entries[0]
    edited = tmp_path / "retouched.png"
    a1111_png(edited, "base picture", 1, colour=99)
    seq = app.journal.curate("edited", work_id=None, file=edited, source=src, note="removed an extra finger",
                             passphrase=PASS)
    assert app.journal.entries()[seq]["data"]["source_entry"] == items[0].entries[0]


def test_watch_journals_new_files_as_they_appear(tmp_path: Path) -> None:
    app = Inkseal.open(tmp_path / "home")
    app.keys.init(PASS)
    folder = tmp_path / "outputs"
    folder.mkdir()
    a1111_png(folder / "old.png", "already there", 5)  # existing files are for `import`, not `watch`
    stop, ready = threading.Event(), threading.Event()
    result: list = []
    thread = threading.Thread(target=lambda: result.extend(app.journal.watch(
        folder, passphrase=PASS, interval_s=0.05, stop=stop.is_set, on_ready=ready.set)))
    thread.start()
    assert ready.wait(30)
    a1111_png(folder / "new1.png", "first new", 6)
    for _ in range(200):
        if len(app.journal.entries()) >= 1:
            break
        time.sleep(0.05)
    a1111_png(folder / "new2.png", "second new", 7)
    for _ in range(200):
        if len(app.journal.entries()) >= 2:
            break
        time.sleep(0.05)
    stop.set()
    thread.join()
    names = [e["data"]["file_name"] for e in app.journal.entries()]
    assert names == ["new1.png", "new2.png"]
    assert all(e["data"]["seen_at"] for e in app.journal.entries())
    assert app.journal.verify().ok


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_statement_renders_with_its_sections(session: tuple[Inkseal, Path], tmp_path: Path, lang: str) -> None:
    app, _ = session
    wid = app.registry.works()[0].id
    paths = app.statement(wid, tmp_path / "statement", langs=[lang])[lang]
    html = paths["html"].read_text()
    for anchor in ("summary", "timeline", "prompts", "parameters", "selection", "integrity"):
        assert f'id="{anchor}"' in html
    assert "#3" in html  # claims cite the entries
    assert ("peach blossoms" in html) and ("soft light" in html)
    pages = tmp_path / "pages"
    pages.mkdir()
    subprocess.run(["pdftoppm", "-r", "40", "-png", str(paths["pdf"]), str(pages / "p")], check=True)
    pngs = sorted(pages.glob("p*.png"))
    assert pngs
    for p in pngs:
        with Image.open(p) as im:
            extrema = im.convert("L").getextrema()
            assert extrema[0] < 128 < extrema[1]  # the page is not blank (grey notes count: #666 at 40 dpi)
    text = subprocess.run(["pdftotext", str(paths["pdf"]), "-"], capture_output=True, text=True, check=True).stdout
    heads = ["创作过程说明", "时间线", "提示词的修改", "参数的探索", "完整性"] if lang == "zh" else \
        ["Authorship statement", "Timeline", "Prompt revisions", "Parameters explored", "Integrity"]
    for h in heads:
        assert h in text, h
    assert ("校验通过" if lang == "zh" else "Verification passed") in text


def test_statement_prompt_diff(session: tuple[Inkseal, Path]) -> None:
    from inkseal.journal.statement import gather

    app, _ = session
    facts = gather(app.journal.entries(), 1, "t", "a")
    assert len(facts.revisions) == 3 and facts.revisions[0].entries == [0, 1]
    d2, d3 = facts.revisions[1].diff, facts.revisions[2].diff
    assert [t["text"] for t in d2["added"]] == ["peach blossoms"]
    assert d2["reweighted"] == [{"term": "ancient costume", "from": 1.0, "to": 1.3}]
    assert [t["text"] for t in d3["added"]] == ["soft light"] and [t["text"] for t in d3["moved"]] == ["spring breeze"]
    assert set(facts.seeds) == {"11", "12"} and set(facts.params["steps"]) == {"20", "30"}
    assert facts.range_of("steps") == "20 – 30" and facts.range_of("cfg_scale") == "7 – 8"
    assert facts.range_of("model") is None
    assert facts.kept == [4]


def test_cli_journal_roundtrip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from inkseal.cli import app as cli

    monkeypatch.setenv("INKSEAL_PASSPHRASE", PASS)
    home = str(tmp_path / "home")
    r = CliRunner()
    run = lambda *a: r.invoke(cli, ["--home", home, *a], catch_exceptions=False)  # noqa: E731
    assert run("keys", "init").exit_code == 0
    assert run("journal", "import", str(SD / "InvokeAI"), str(tmp_path / "missing.png")).exit_code == 1
    res = run("journal", "verify", "--json")
    assert res.exit_code == 0 and json.loads(res.stdout)["entries"] == 3
    bundle = tmp_path / "journal.jsonl"
    assert run("journal", "export", "-o", str(bundle)).exit_code == 0
    assert run("journal", "verify", str(bundle)).exit_code == 0
    bundle.write_text(bundle.read_text().replace("k_lms", "k_euler", 1))
    bad = run("journal", "verify", str(bundle))
    assert bad.exit_code == 1 and "first bad entry: #" in bad.output


def test_rfc3161_timestamped_checkpoint_verifies_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tsa import TestTSA

    tsa = TestTSA()
    url, server = tsa.serve()
    try:
        app = Inkseal.open(tmp_path / "home")
        app.keys.init(PASS)
        app.journal.import_paths([SD / "Fooocus"])
        cp = app.journal.checkpoint(PASS, tsa_url=url)
    finally:
        server.shutdown()
    assert cp is not None and cp.timestamp_token
    roots = tmp_path / "tsa-roots.pem"
    roots.write_bytes(tsa.root_pem)
    monkeypatch.setenv("INKSEAL_TSA_ROOTS", str(roots))
    report = app.journal.verify()  # the TSA is gone: this is offline
    assert report.ok, report.problems
    (ts,) = report.timestamps
    assert ts["ok"] and ts["imprint_ok"] and ts.get("chain_ok") and ts["time"], ts
    # the token survives export, and a token for other data is caught
    bundle = Bundle.from_jsonl(app.journal.bundle().to_jsonl())
    assert bundle.checkpoints[0].timestamp_token == cp.timestamp_token
    from inkseal.journal.timestamp import check_timestamp

    other = tsa.respond(__import__("rfc3161_client").TimestampRequestBuilder().data(b"other").build().as_bytes())
    bundle.checkpoints[0].timestamp_token = other
    assert check_timestamp(bundle.checkpoints[0])["ok"] is False
