"""Issue 14 through the real CLI: `inspect` shows everything, `journal show`, `journal import --reparse`
appends (never rewrites), `metadata strip` never touches its input."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

import inkseal.cli_metadata  # noqa: F401 - registers `metadata` (cli.py imports it once the lead adds the line)
from h14tools import LABEL, a1111_passes_png, c2pa_samples, midjourney_png, novelai_v4_png, png
from inkseal.cli import app as cli
from inkseal.journal import importers

runner = CliRunner()


def run(home: Path, *args: str, lang: str = "en"):  # type: ignore[no-untyped-def]
    return runner.invoke(cli, ["--home", str(home), "--lang", lang, *args], catch_exceptions=False)


def write(tmp: Path, sample) -> Path:  # type: ignore[no-untyped-def]
    p = tmp / sample.name
    p.write_bytes(sample.data)
    return p


def test_inspect_shows_full_prompts_passes_in_both_languages_and_json(tmp_path: Path) -> None:
    a1111, nai = write(tmp_path, a1111_passes_png()), write(tmp_path, novelai_v4_png())
    hostile = tmp_path / "hostile.png"
    hostile.write_bytes(png({"parameters": "x \x1b[31m[blink]y[/blink]\nSteps: 2, Seed: 3, Sampler: Euler"}))
    home = tmp_path / "home"
    r = run(home, "inspect", str(a1111), str(nai), str(hostile))
    assert r.exit_code == 0, r.output
    for text in ("a samurai in the rain, (cinematic:1.2)", "negative prompt: blurry", "refiner", "hires",
                 "hand_yolov8n.pt", "R-ESRGAN 4x+", "girl, glasses, red scarf", "extra fingers"):
        assert text in r.stdout, text
    assert "\x1b[31m" not in r.stdout and "\\x1b[31m[blink]y[/blink]" in r.stdout
    firefly = write(tmp_path, c2pa_samples()[2])
    r = run(home, "inspect", str(firefly))
    assert "Adobe Firefly (C2PA) 3.0: c2pa.created" in r.stdout and "ingredients reference.png" in r.stdout
    zh = run(home, "inspect", str(nai), lang="zh")
    assert "反向提示词" in zh.stdout and "角色" in zh.stdout
    js = json.loads(run(home, "inspect", str(a1111), "--json").stdout)
    (g,) = js[0]["generator"]
    assert g["negative_prompts"] == ["blurry"] and [p["pass"] for p in g["extra"]["passes"]][:3] == ["base", "refiner", "hires"]


def test_journal_show_and_reparse_appends_citing_the_old_entry(tmp_path: Path) -> None:
    home = tmp_path / "home"
    mj = write(tmp_path, midjourney_png())
    pw = tmp_path / "pass"
    pw.write_text("correct horse battery staple")
    assert run(home, "keys", "init", "--passphrase-file", str(pw)).exit_code == 0
    # journal it as an older inkseal would have: without the Midjourney importer
    saved = list(importers.IMPORTERS)
    importers.IMPORTERS[:] = [(n, f) for n, f in saved if n != "Midjourney"]
    try:
        r = run(home, "journal", "import", str(mj), "--json", "--passphrase-file", str(pw))
    finally:
        importers.IMPORTERS[:] = saved
    assert r.exit_code == 0, r.output
    (item,) = json.loads(r.stdout)
    (seq,) = item["entries"]
    before = run(home, "journal", "show", str(seq), "--json").stdout
    entry = json.loads(before)
    assert entry["kind"] == "file" and "Description" in entry["data"]["raw_metadata"]["unclaimed"]
    assert "not read by any importer" in run(home, "journal", "show", str(seq)).stdout

    r = run(home, "journal", "import", "--reparse", "--json", "--passphrase-file", str(pw))
    assert r.exit_code == 0, r.output
    (re_item,) = json.loads(r.stdout)
    assert re_item["tools"] == ["Midjourney"] and len(re_item["entries"]) == 1
    new = json.loads(run(home, "journal", "show", str(re_item["entries"][0]), "--json").stdout)
    assert new["data"]["reparse_of"] == [seq] and new["file_sha256"] == entry["file_sha256"]
    assert new["data"]["generation"]["prompts"] == ["a brutalist library in a forest, golden hour"]
    assert run(home, "journal", "show", str(seq), "--json").stdout == before  # the old entry is untouched
    shown = run(home, "journal", "show", str(re_item["entries"][0]), lang="zh").stdout
    assert "提示词" in shown and "brutalist library" in shown and f"#{seq}" in shown
    # nothing new to read: nothing appended; the journal still verifies
    again = json.loads(run(home, "journal", "import", "--reparse", "--json").stdout)
    assert again[0]["entries"] == [] and again[0]["message"] == "unchanged"
    by_file = json.loads(run(home, "journal", "import", "--reparse", str(mj), "--json").stdout)
    assert by_file[0]["message"] == "unchanged"  # the file itself re-read: same reading
    stranger = tmp_path / "stranger.png"
    stranger.write_bytes(png({"Title": "x"}))
    r = run(home, "journal", "import", "--reparse", str(stranger), str(tmp_path / "missing.png"), "--json")
    assert r.exit_code == 1 and [bool(i["error"]) for i in json.loads(r.stdout)] == [True, True]
    verify = run(home, "journal", "verify")  # both entries signed, the old one as it was
    assert verify.exit_code == 0, verify.output
    assert run(home, "journal", "show", "999").exit_code == 2


def test_metadata_strip_writes_a_clean_copy_and_never_the_input(tmp_path: Path) -> None:
    src = tmp_path / "in.png"
    text = "a fox\nNegative prompt: dog\nSteps: 20, Sampler: Euler, CFG scale: 7, Seed: 5, Size: 16x16"
    original = png({"parameters": text, "AIGC": json.dumps(LABEL), "workflow": "{}"})
    src.write_bytes(original)
    home = tmp_path / "home"
    assert run(home, "metadata", "strip", str(src), "-o", str(src)).exit_code == 2
    out = tmp_path / "out.png"
    r = run(home, "metadata", "strip", str(src), "-o", str(out), "--json")
    assert r.exit_code == 0, r.output
    rep = json.loads(r.stdout)
    assert any("parameters" in x for x in rep["removed"]) and any("AIGC" in x for x in rep["kept"])
    assert src.read_bytes() == original
    js = json.loads(run(home, "inspect", str(out), "--json").stdout)[0]
    assert js["implicit_label"]["present"] and js["implicit_label"]["carrier"] == "PNG tEXt chunk 'AIGC'"
    assert [g["source_key"] for g in js["generator"]] == ["aigc-label"]
    assert run(home, "metadata", "strip", str(src), "-o", str(out)).exit_code == 2  # exists: --force needed
    r = run(home, "metadata", "strip", str(src), "-o", str(out), "--drop-labels", "--force")
    assert r.exit_code == 0 and "removed" in r.stdout
    assert json.loads(run(home, "inspect", str(out), "--json").stdout)[0]["generator"] == []
    bad = tmp_path / "bad.gif"
    bad.write_bytes(b"GIF89a")
    r = run(home, "metadata", "strip", str(bad), "-o", str(tmp_path / "x.gif"))
    assert r.exit_code == 3 and "Traceback" not in r.output
