"""Training-data audit through a real local Ray cluster (2 CPUs, started once for this module): registry
matches with their tier, the report (Parquet, HTML, notices), a resumed audit, and the `audit` command."""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from PIL import Image
from typer.testing import CliRunner

from h15audit import jpeg, with_c2pa
from inkseal import Inkseal
from inkseal.platform.audit.report import write_report
from inkseal.platform.audit.runner import DONE_FILE, AuditOptions, run_audit, shard_file_name, start_ray

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def ray_local() -> Iterator[None]:
    start_ray(AuditOptions(workers=2))
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory, kodak: list[Path]) -> str:
    path = tmp_path_factory.mktemp("home")
    app = Inkseal.open(path)
    try:
        assert not app.register(kodak[:3], author="Kodak Photographer").failed
    finally:
        app.close()
    return str(path)


def _attacked(path: Path) -> bytes:
    """A copy as a scraper keeps it: downscaled, cropped a little, re-encoded."""
    im = Image.open(path).convert("RGB")
    w, h = im.size
    im = im.crop((w // 20, h // 20, w - w // 20, h - h // 20)).resize((int(w * 0.55), int(h * 0.55)))
    return jpeg(im, quality=70)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory, kodak: list[Path], flowers: list[Path]) -> Path:
    """Three WebDataset shards: copies of the 3 registered works, unrelated photos, one opt-out, one bad image."""
    ds = tmp_path_factory.mktemp("wds")
    samples = [("copy0", _attacked(kodak[0])), ("flower0", Path(flowers[0]).read_bytes()),
               ("copy1", _attacked(kodak[1])), ("c2pa", with_c2pa(Image.open(flowers[1]).convert("RGB"))),
               ("copy2", _attacked(kodak[2])), ("unrelated", Path(kodak[10]).read_bytes()),
               ("bad", b"\x89PNG\r\n\x1a\n" + b"\0" * 40)]
    for shard, chunk in enumerate((samples[:2], samples[2:4], samples[4:])):
        with tarfile.open(ds / f"{shard:05d}.tar", "w") as tar:
            for key, data in chunk:
                ext = "png" if data.startswith(b"\x89PNG") else "jpg"
                for name, blob in ((f"{key}.{ext}", data), (f"{key}.txt", f"caption {key}".encode())):
                    info = tarfile.TarInfo(name)
                    info.size = len(blob)
                    tar.addfile(info, io.BytesIO(blob))
    return ds


def _findings(report: Path) -> dict[str, dict]:
    rows = pq.read_table(report / "findings.parquet").drop_columns(["thumb"]).to_pylist()
    return {r["item_id"].split("/", 1)[1]: r for r in rows}


def test_audit_on_ray_finds_copies_and_writes_the_report(ray_local: None, home: str, dataset: Path,
                                                         tmp_path: Path) -> None:
    report = tmp_path / "report"
    run = run_audit(dataset, report, AuditOptions(home=home, workers=2))
    assert (run.shards_total, run.shards_done, run.items) == (3, 3, 7)
    summary = write_report(report, home)
    rows = _findings(report)
    for i in range(3):
        assert rows[f"copy{i}"]["registry_tier"] == "copy", rows[f"copy{i}"]
    assert rows["flower0"]["registry_tier"] == "" and rows["unrelated"]["registry_tier"] == ""
    assert json.loads(rows["c2pa"]["optouts"]) == ["c2pa"]
    assert rows["bad"]["error_kind"] == "undecodable"
    assert summary["registry"] == {"copy": 3} and summary["errors"] == {"undecodable": 1}
    assert summary["optouts"]["c2pa"] == 1 and summary["creators_notified"] == 1
    html = (report / "summary.html").read_text()
    assert "<script" not in html and "default-src 'none'" in html
    assert html.count('alt="registered work"') == 3 and html.count('alt="item"') == 3
    for img in ("thumbs/item-000000.jpg", "thumbs/work-1-1.jpg"):
        assert (report / img).stat().st_size > 500
    (notice,) = (report / "notices").iterdir()
    text = notice.read_text()
    assert "Kodak Photographer" in text and "复制" in text and text.count("- work #") == 3


def test_resumed_audit_skips_finished_shards(ray_local: None, home: str, dataset: Path, tmp_path: Path) -> None:
    report = tmp_path / "report"
    first = run_audit(dataset, report, AuditOptions(home=home, workers=2))
    assert first.shards_done == 3
    # A run killed after two shards: the third was never recorded.
    done = json.loads((report / DONE_FILE).read_text())["shards"]
    (report / DONE_FILE).write_text(json.dumps({"shards": [s for s in done if s != "00002.tar"]}))
    (report / "shards" / shard_file_name("00002.tar")).unlink()
    kept = (report / "shards" / shard_file_name("00000.tar")).stat().st_mtime_ns
    again = run_audit(dataset, report, AuditOptions(home=home, workers=2))
    assert (again.shards_skipped, again.shards_done, again.items) == (2, 1, 3)
    assert (report / "shards" / shard_file_name("00000.tar")).stat().st_mtime_ns == kept  # not redone
    write_report(report, home)
    assert len(_findings(report)) == 7  # nothing lost, nothing counted twice
    third = run_audit(dataset, report, AuditOptions(home=home, workers=2))
    assert (third.shards_skipped, third.shards_done) == (3, 0)


def test_audit_command_exit_code_and_json(ray_local: None, home: str, dataset: Path, tmp_path: Path) -> None:
    import inkseal.cli_audit  # noqa: F401 - registers `audit` (until cli.py imports it)
    from inkseal.cli import app

    result = CliRunner().invoke(app, ["--home", home, "audit", str(dataset), "-o", str(tmp_path / "r"), "--json"])
    assert result.exit_code == 1, result.output  # one item failed to decode
    data = json.loads(result.stdout)
    assert data["summary"]["items"] == 7 and data["summary"]["errors_total"] == 1
    result = CliRunner().invoke(app, ["--home", home, "audit", str(tmp_path / "missing"), "-o", str(tmp_path / "r2")])
    assert result.exit_code == 3 and "not found" in result.output and "Traceback" not in result.output
