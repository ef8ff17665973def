"""A derivative is shown as one, in words, and never becomes a signed evidence pack (issue 9 → CLI and evidence)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from inkseal.cli import app as cli

HARDNEG = Path(__file__).resolve().parents[2] / "shared" / "data" / "hardneg"
SKETCH = HARDNEG / "_ambiguous" / "invoke_img2img_fire_drawing" / "fire-drawing.png"
IMG2IMG = HARDNEG / "_ambiguous" / "invoke_img2img_fire_drawing" / "000035.1592514025.png"

runner = CliRunner()


def run(home: Path, *args: str, lang: str = "en"):  # type: ignore[no-untyped-def]
    return runner.invoke(cli, ["--home", str(home), "--lang", lang, *args], catch_exceptions=False)


def test_derivative_is_listed_as_such_and_gets_no_pack(tmp_path: Path, kodak: list[Path]) -> None:
    home = tmp_path / "home"
    assert run(home, "register", str(SKETCH), str(kodak[0]), "--author", "A").exit_code == 0
    r = run(home, "scan", str(IMG2IMG))
    assert r.exit_code == 0, r.output
    assert "may be an edit of work 1" in r.output and "copies work" not in r.output
    zh = run(home, "scan", str(IMG2IMG), lang="zh")
    assert "衍生" in zh.output and "复制了作品" not in zh.output
    listed = json.loads(run(home, "matches", "--json").output)
    assert [(m["work_id"], m["tier"]) for m in listed] == [(1, "derivative")]
    shown = run(home, "match", "show", str(listed[0]["id"]))
    assert "derivative" in shown.output and "false match" not in shown.output
    pack = tmp_path / "pack"
    r = run(home, "evidence", str(listed[0]["id"]), "-o", str(pack), "--passphrase-file", str(_pw(tmp_path)))
    assert r.exit_code != 0 and "derivative" in r.output and not pack.exists()


def _pw(tmp_path: Path) -> Path:
    p = tmp_path / "pw"
    p.write_text("pw")
    return p
