"""Training-data audit, without Ray: each dataset layout, each opt-out signal, bad input as findings.

The per-worker class (`ShardAuditor`) is used directly on a real home; the Ray pipeline around it is tested in
test_h15_audit_ray.py."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from h15audit import OptOutSite, jpeg, with_c2pa, with_iptc, with_tc260
from inkseal.platform.audit.datasets import DatasetError, list_shards
from inkseal.platform.audit.optout import ai_txt_verdict, parse_ai_txt, tdmrep_rule, _noai
from inkseal.platform.audit.runner import ShardAuditor

NO_WM = {"keys": {}, "frames": {}, "why_not": "no watermark key available"}


@pytest.fixture(scope="module")
def pictures(flowers: list[Path]) -> list[Image.Image]:
    return [Image.open(p).convert("RGB") for p in flowers[:6]]


@pytest.fixture(scope="module")
def auditor(tmp_path_factory: pytest.TempPathFactory) -> ShardAuditor:
    home = tmp_path_factory.mktemp("home")
    return ShardAuditor(str(home), {"allow_private_addresses": True, "http_timeout_s": 3.0, "http_deadline_s": 5.0},
                        NO_WM, check_registry=False)


def audit(auditor: ShardAuditor, dataset: Path) -> dict[str, dict]:
    rows = {}
    for shard in list_shards(dataset):
        out = auditor({"shard": [json.dumps(shard)]})
        for f in out["finding"]:
            r = json.loads(f)
            rows[r["item_id"]] = r
    return rows


def test_folder_layout_with_each_embedded_signal(tmp_path: Path, auditor: ShardAuditor,
                                                 pictures: list[Image.Image]) -> None:
    ds = tmp_path / "folder"
    (ds / "sub").mkdir(parents=True)
    (ds / "clean.jpg").write_bytes(jpeg(pictures[0]))
    (ds / "iptc.jpg").write_bytes(with_iptc(pictures[1]))
    (ds / "iptc_allowed.jpg").write_bytes(with_iptc(pictures[1], "http://ns.useplus.org/ldf/vocab/DMI-ALLOWED"))
    (ds / "sub" / "tc260.png").write_bytes(with_tc260(pictures[2]))
    (ds / "c2pa.jpg").write_bytes(with_c2pa(pictures[3]))
    (ds / "c2pa_allowed.jpg").write_bytes(with_c2pa(pictures[4], use="allowed"))
    (ds / "broken.jpg").write_bytes(jpeg(pictures[5])[:300])  # truncated: fails to decode
    assert [s["layout"] for s in list_shards(ds)] == ["folder"]
    rows = audit(auditor, ds)
    assert rows["clean.jpg"]["status"] == "ok" and rows["clean.jpg"]["optouts"] == []
    assert rows["iptc.jpg"]["optouts"] == ["iptc"]
    assert rows["iptc_allowed.jpg"]["optouts"] == []
    assert rows["sub/tc260.png"]["tc260_label"] == "1" and rows["sub/tc260.png"]["optouts"] == []
    assert rows["c2pa.jpg"]["c2pa_training_mining"] == "notAllowed" and rows["c2pa.jpg"]["optouts"] == ["c2pa"]
    assert rows["c2pa_allowed.jpg"]["c2pa"] is True and rows["c2pa_allowed.jpg"]["optouts"] == []
    assert rows["broken.jpg"]["status"] == "error" and rows["broken.jpg"]["error_kind"] == "undecodable"
    assert rows["clean.jpg"]["watermark"] == "not checked"  # said, not silently skipped
    assert rows["clean.jpg"]["registry_checked"] is False


def _tar(path: Path, samples: dict[str, dict[str, bytes]]) -> None:
    with tarfile.open(path, "w") as tar:
        for key, members in samples.items():
            for ext, data in members.items():
                info = tarfile.TarInfo(f"{key}.{ext}")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))


def test_webdataset_shards_broken_shard_and_missing_image(tmp_path: Path, auditor: ShardAuditor,
                                                          pictures: list[Image.Image]) -> None:
    ds = tmp_path / "wds"
    ds.mkdir()
    _tar(ds / "00000.tar", {"a/000": {"jpg": jpeg(pictures[0]), "txt": b"a daisy"},
                            "a/001": {"png": with_tc260(pictures[1]), "json": b'{"caption": "labelled"}'},
                            "a/002": {"txt": b"caption without a picture"}})
    _tar(ds / "00001.tar", {"b/000": {"jpg": jpeg(pictures[2])}, "b/001": {"jpg": jpeg(pictures[3])}})
    whole = (ds / "00001.tar").read_bytes()
    (ds / "00001.tar").write_bytes(whole[: 512 + len(jpeg(pictures[2])) + 700])  # cut inside the second sample
    shards = list_shards(ds)
    assert [(s["shard_id"], s["layout"]) for s in shards] == [("00000.tar", "webdataset"), ("00001.tar", "webdataset")]
    rows = audit(auditor, ds)
    assert rows["00000.tar/a/000"]["caption"] == "a daisy" and rows["00000.tar/a/000"]["status"] == "ok"
    assert rows["00000.tar/a/001"]["caption"] == "labelled" and rows["00000.tar/a/001"]["tc260_label"] == "1"
    assert rows["00000.tar/a/002"]["error_kind"] == "missing_field"
    assert rows["00001.tar/b/000"]["status"] == "ok"  # read before the damage
    assert rows["00001.tar#broken"]["error_kind"] == "broken_shard"


def test_hf_parquet_layout_truncated_file_and_missing_bytes(tmp_path: Path, auditor: ShardAuditor,
                                                            pictures: list[Image.Image]) -> None:
    ds = tmp_path / "hf"
    ds.mkdir()
    (ds / "beside.jpg").write_bytes(jpeg(pictures[3]))
    images = [{"bytes": jpeg(pictures[0]), "path": None}, {"bytes": with_iptc(pictures[1]), "path": None},
              None, {"bytes": None, "path": "beside.jpg"}, {"bytes": None, "path": "../../etc/passwd"}]
    table = pa.table({"image": images, "text": ["one", "two", "three", "four", "five"]})
    pq.write_table(table, ds / "train-00000.parquet")
    pq.write_table(table, ds / "train-00001.parquet", row_group_size=1)
    data = (ds / "train-00001.parquet").read_bytes()
    (ds / "train-00001.parquet").write_bytes(data[: len(data) // 2])  # truncated: no footer
    shards = list_shards(ds)
    # the truncated file's schema cannot be read: its reader is chosen blind and reports the damage
    assert [s["layout"] for s in shards][0] == "hf-parquet"
    rows = audit(auditor, ds)
    assert rows["train-00000.parquet#0"]["status"] == "ok" and rows["train-00000.parquet#0"]["caption"] == "one"
    assert rows["train-00000.parquet#1"]["optouts"] == ["iptc"]
    assert rows["train-00000.parquet#2"]["error_kind"] == "missing_field"
    assert rows["train-00000.parquet#3"]["status"] == "ok"  # image.path beside the Parquet
    assert rows["train-00000.parquet#4"]["error_kind"] == "missing_field"  # a path outside: never read
    assert rows["train-00001.parquet#broken"]["error_kind"] == "broken_shard"


def test_url_table_each_site_optout_and_bad_urls(tmp_path: Path, auditor: ShardAuditor,
                                                 pictures: list[Image.Image]) -> None:
    with OptOutSite([jpeg(p) for p in pictures], slow_s=12.0) as site:  # well past the 5 s deadline
        ds = tmp_path / "urls"
        ds.mkdir()
        names = ["clean", "gptblock", "aitxt", "tdmjson", "tdmhdr", "noai", "blocked", "html", "slow", "gone"]
        pq.write_table(pa.table({"url": [f"{site.base}/{n}/1.jpg" for n in names] + [None],
                                 "caption": [f"c {n}" for n in names] + ["no url"]}), ds / "part-0.parquet")
        (ds / "part-1.csv").write_text(f"url,caption\n{site.base}/clean/2.jpg,two\n,missing\nnot a url,bad\n")
        shards = list_shards(ds)
        assert [s["layout"] for s in shards] == ["urls", "urls"]
        rows = {r["source"]: r for r in audit(auditor, ds).values()}
        requested = list(site.requests)

    def row(name: str) -> dict:
        return rows[f"{site.base}/{name}/1.jpg"]

    assert row("clean")["status"] == "ok" and row("clean")["optouts"] == [] and row("clean")["caption"] == "c clean"
    assert row("gptblock")["optouts"] == ["robots"]
    assert set(row("gptblock")["robots_ai_disallowed"]) == {"GPTBot", "CCBot"}
    assert row("aitxt")["optouts"] == ["ai_txt"] and row("aitxt")["ai_txt"] == "disallowed"
    assert row("clean")["ai_txt"] == "allowed"
    assert row("tdmjson")["optouts"] == ["tdmrep"] and row("tdmjson")["tdm_source"] == "tdmrep.json"
    assert row("tdmjson")["tdm_policy"] == "https://example.org/tdm-policy.json"
    assert row("tdmhdr")["optouts"] == ["tdmrep"] and row("tdmhdr")["tdm_source"] == "header"
    assert row("noai")["optouts"] == ["x_robots_tag"] and "not_analysed" in row("noai")
    assert "sha256" not in row("noai")  # honoured: the body was not looked at
    assert row("blocked")["error_kind"] == "robots_disallowed" and "robots" in row("blocked")["optouts"]
    assert "/blocked/1.jpg" not in requested  # robots.txt honoured: never fetched
    assert row("html")["error_kind"] == "html_not_image"
    assert row("slow")["error_kind"] == "timeout"
    assert row("gone")["error_kind"] == "http_error"
    assert rows[f"{site.base}/clean/2.jpg"]["status"] == "ok"
    assert sum(1 for r in rows.values() if r.get("error_kind") == "missing_field") == 2
    assert rows["not a url"]["status"] == "error"
    assert requested.count("/robots.txt") == 1  # each site file read once per worker


@pytest.mark.parametrize("robots_status, fetched", [(503, False), (429, False), (403, True), (404, True)])
def test_a_robots_txt_error_is_no_opt_out_and_an_unreachable_one_stops_fetching(
        tmp_path: Path, auditor: ShardAuditor, pictures: list[Image.Image], robots_status: int, fetched: bool) -> None:
    """RFC 9309, read as the monitor reads it: a 4xx robots.txt means no rules (fetch), a 5xx or 429 one means the
    site may not be crawled now (not fetched); neither is the site's opt-out, even when the error body holds the
    rules' text."""
    with OptOutSite([jpeg(p) for p in pictures], robots_status=robots_status) as site:
        ds = tmp_path / "urls"
        ds.mkdir()
        pq.write_table(pa.table({"url": [f"{site.base}/gptblock/1.jpg", f"{site.base}/clean/1.jpg"],
                                 "caption": ["a", "b"]}), ds / "part-0.parquet")
        rows = {r["source"]: r for r in audit(auditor, ds).values()}
        requested = list(site.requests)
    for name in ("gptblock", "clean"):
        r = rows[f"{site.base}/{name}/1.jpg"]
        assert "robots" not in r["optouts"] and not r.get("robots_ai_disallowed"), r
        if fetched:
            assert r["status"] == "ok", r
        else:
            assert r["error_kind"] == "robots_unreachable" and f"HTTP {robots_status}" in r["error"], r
            assert "robots.txt 无法读取" in r["error"]
    assert any(p.startswith("/gptblock/") for p in requested) == fetched


def test_rows_cannot_reach_private_addresses_by_default(tmp_path: Path, pictures: list[Image.Image]) -> None:
    strict = ShardAuditor(str(tmp_path / "home"), {"allow_private_addresses": False}, NO_WM, check_registry=False)
    with OptOutSite([jpeg(pictures[0])]) as site:
        (tmp_path / "u.csv").write_text(f"url,caption\n{site.base}/clean/1.jpg,x\n")
        rows = audit(strict, tmp_path / "u.csv")
        assert not any(p.startswith("/clean/") for p in site.requests)
    (r,) = rows.values()
    assert r["error_kind"] == "fetch_failed" and "refused" in r["error"]


def test_site_rule_parsers() -> None:
    rules = parse_ai_txt("User-Agent: *\nDisallow: *.png\nDisallow: /art/\nAllow: /art/free/\n"
                         "User-Agent: SomeBot\nDisallow: /\n")
    assert ai_txt_verdict(rules, "/x/pic.PNG") == "disallowed"
    assert ai_txt_verdict(rules, "/art/a.jpg") == "disallowed"
    assert ai_txt_verdict(rules, "/art/free/a.jpg") == "allowed"
    assert ai_txt_verdict(rules, "/other/a.jpg") == ""
    tdm = [{"location": "/a/*.jpg", "tdm-reservation": 1}, {"location": "/*", "tdm-reservation": 0}]
    assert tdmrep_rule(tdm, "/a/b/c.jpg")["tdm-reservation"] == 1
    assert tdmrep_rule(tdm, "/b/c.jpg")["tdm-reservation"] == 0
    assert _noai("otherbot: noimageai") and _noai("noindex, NoAI") and not _noai("noindex, nofollow")


def test_missing_dataset_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="not found"):
        list_shards(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="no images"):
        list_shards(tmp_path / "empty")
