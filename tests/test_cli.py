"""Drive the real `inkseal` CLI: listings, JSON, exit codes, bad input in batches, whitelisting."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path


import numpy as np
from PIL import Image
from typer.testing import CliRunner

from badfiles import broken, odd_modes
from inkseal.cli import app as cli

runner = CliRunner()


def run(home: Path, *args: str, lang: str = "en"):  # type: ignore[no-untyped-def]
    return runner.invoke(cli, ["--home", str(home), "--lang", lang, *args], catch_exceptions=False)


def test_register_scan_mark_remove_roundtrip(tmp_path: Path, kodak: list[Path]) -> None:
    home = tmp_path / "home"
    src = tmp_path / "works"
    src.mkdir()
    for p in kodak[:3]:
        shutil.copy(p, src)
    r = run(home, "register", str(src), "--author", "Li", "--json")
    assert r.exit_code == 0, r.output
    reg = json.loads(r.stdout)
    assert [i["error"] for i in reg] == [None, None, None]

    works = json.loads(run(home, "works", "--json").stdout)
    assert [w["title"] for w in works] == ["kodim01", "kodim02", "kodim03"]
    show = json.loads(run(home, "work", "show", str(works[1]["id"]), "--json").stdout)
    assert show["files"][0]["sha256"] and show["files"][0]["width"] == 768

    suspects = tmp_path / "suspects"
    suspects.mkdir()
    im = Image.open(kodak[1]).convert("RGB")
    im.crop((0, 0, 600, 400)).save(suspects / "copy.jpg", quality=60)
    r = run(home, "scan", str(suspects), "--json")
    assert r.exit_code == 0, r.output
    result = json.loads(r.stdout)
    (m,) = result["matches"]
    assert m["work_id"] == works[1]["id"] and m["suspect"]["source"].endswith("copy.jpg")
    assert m["suspect"]["sha256"] and m["localisation"]["visible_fraction"] < 0.7
    assert m["false_match_odds"].startswith("1 in ")

    listed = json.loads(run(home, "matches", "--json").stdout)
    assert [x["id"] for x in listed] == [m["id"]]
    fig = tmp_path / "match.png"
    r = run(home, "match", "show", str(m["id"]), "-o", str(fig))
    assert r.exit_code == 0 and "cut away" in r.stdout
    with Image.open(fig) as im:
        assert im.width > 600 and im.height > 400
        px = np.asarray(im.convert("RGB"))
    assert ((px[..., 0] > 200) & (px[..., 1] < 80)).sum() > 500  # the red "cut away" shading is drawn
    assert run(home, "match", "mark", str(m["id"]), "whitelisted", "--note", "licensed").exit_code == 0
    again = json.loads(run(home, "scan", str(suspects), "--json").stdout)
    assert again["matches"] == [] and again["whitelisted"] == 1
    assert run(home, "match", "mark", str(m["id"]), "bogus").exit_code == 3
    assert run(home, "match", "mark", "999", "confirmed").exit_code == 3

    r = run(home, "index", "rebuild")
    assert r.exit_code == 0 and "18" in r.stdout  # 3 works x (6 SSCD + 1 PDQ)... SSCD 18, PDQ 3
    assert run(home, "work", "remove", str(works[0]["id"]), "--yes").exit_code == 0
    assert len(json.loads(run(home, "works", "--json").stdout)) == 2
    assert run(home, "work", "show", "999").exit_code == 3


def test_batches_with_bad_items_fail_alone(tmp_path: Path, kodak: list[Path]) -> None:
    home = tmp_path / "home"
    assert run(home, "register", str(kodak[0]), "--author", "Li").exit_code == 0
    batch = tmp_path / "batch"
    batch.mkdir()
    for name, data in {**broken(), **odd_modes()}.items():
        (batch / name).write_bytes(data)
    shutil.copy(kodak[4], batch / "good.png")
    r = run(home, "register", str(batch), "--author", "Li", "--json")
    assert r.exit_code == 1  # some items failed
    items = {Path(i["path"]).name: i for i in json.loads(r.stdout)}
    for name in broken():
        assert items[name]["error"] and "\n" not in items[name]["error"], name
    for name in [*odd_modes(), "good.png"]:
        assert items[name]["error"] is None, (name, items[name]["error"])
    works = json.loads(run(home, "works", "--json").stdout)
    assert "kodim01" in [w["title"] for w in works] and "good" in [w["title"] for w in works]  # nothing lost

    # scanning the same folder: bad items are reported one line each, the good copy is still found
    r = run(home, "scan", str(batch))
    assert r.exit_code == 1
    for name in broken():
        assert sum(name in line for line in r.output.splitlines()) == 1, name
    assert "good.png copies work" in r.output
    assert len(json.loads(run(home, "works", "--json").stdout)) == len(works)


def test_messages_in_chinese(tmp_path: Path, kodak: list[Path]) -> None:
    r = run(tmp_path / "home", "register", str(kodak[0]), "--author", "李", "--title", "春风送来了温柔", lang="zh")
    assert r.exit_code == 0 and "已登记作品" in r.stdout and "春风送来了温柔" in r.stdout
    assert "尚未登记" in run(tmp_path / "empty", "works", lang="zh").stdout


def test_real_entry_point_and_usage_errors(tmp_path: Path) -> None:
    exe = [sys.executable, "-m", "inkseal"]
    ok = subprocess.run([*exe, "--help"], capture_output=True, text=True)
    assert ok.returncode == 0 and "scan" in ok.stdout
    usage = subprocess.run([*exe, "--home", str(tmp_path), "register"], capture_output=True, text=True)
    assert usage.returncode == 2
    missing = subprocess.run([*exe, "--home", str(tmp_path), "register", str(tmp_path / "nope.png"), "--author", "x"],
                             capture_output=True, text=True)
    assert missing.returncode == 1 and "cannot read file" in missing.stderr


def test_demo_runs_end_to_end(tmp_path: Path) -> None:
    r = run(tmp_path / "home", "demo", "--workdir", str(tmp_path / "demo"))
    assert r.exit_code == 0, r.output
    out = r.stdout
    assert "spring-breeze.jpg → work 1" in out and "signature region was cut off" in out
    assert "/s/1760000000.html" in out and "on the screenshot" in out  # opened in headless Chromium
    assert "g1.jpg → work 3" in out  # a picture that exists only once the page's script has run
    for name in ("mirrored-small.jpg", "rotated.jpg", "screenshot.jpg", "recoloured-with-text.jpg"):
        assert f"{name} → work" in out, name
    assert "unrelated-100930342_92e8746431_n.jpg: no registered work" in out
    assert out.count("collage.png → work") == 2



def test_demo_without_a_browser_scans_over_plain_http(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("INKSEAL_CHROMIUM", str(tmp_path / "no-chromium-here"))
    r = run(tmp_path / "home", "demo", "--workdir", str(tmp_path / "demo"))
    assert r.exit_code == 0, r.output
    assert "scanning over plain HTTP" in r.output and "spring-breeze.jpg → work 1" in r.stdout
    assert "g1.jpg" not in r.stdout  # the script-built picture needs a browser
    assert not (tmp_path / "demo" / "evidence-pack" / "suspect" / "page-screenshot.png").exists()
