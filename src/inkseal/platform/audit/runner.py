"""The audit on Ray Data: shards in, findings out; resumable.

    driver: list shards ─> skip those recorded in REPORT_DIR/done.json ─> ray.data.from_items(one row per shard)
      ─> map_batches(ShardAuditor, batch_size=1, concurrency=N)   one actor per worker: opens the registry,
         its indexes and the matcher ONCE (constructor), then audits one whole shard per call
      ─> driver collects each shard's rows (a shard's row count travels with its rows, so a split block is
         harmless), writes REPORT_DIR/shards/<shard>.parquet atomically, then records the shard as done
    report.py then merges the shard files into findings.parquet, summary.html and notices/.

A killed audit loses at most the shards in flight; a re-run audits only the shards not yet recorded.
On a cluster (`--ray-address`) the workers must see the same INKSEAL_HOME and dataset paths (shared storage);
the findings travel back through Ray, so REPORT_DIR need only exist on the driver. A cluster with token
authentication (Ray's default for `ray start`) needs the driver to have RAY_AUTH_MODE=token and its token
(RAY_AUTH_TOKEN or ~/.ray/auth_token): tests/test_h15_audit_ray_cluster.py runs the audit that way against a
head started with `ray start --head`.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from itertools import islice
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from inkseal.platform.audit.datasets import Item, Shard, list_shards, read_items
from inkseal.platform.audit.optout import Fetched, SiteCache
from inkseal.platform.audit.signals import ItemChecker, WatermarkKeys, iptc_prohibits
from inkseal.errors import one_line

FETCH_THREADS = 16
FETCH_WINDOW = 64  # items read ahead: at most this many fetched bodies wait in memory per worker
DONE_FILE = "done.json"
SHARDS_DIR = "shards"


@dataclass
class AuditOptions:
    home: str | None = None  # INKSEAL_HOME of the registry to match against
    workers: int = 2
    ray_address: str | None = None
    allow_private: bool | None = None  # None: the home's setting
    http_timeout_s: float | None = None
    http_deadline_s: float | None = None
    check_registry: bool = True
    object_store_mb: int = 512  # local Ray only: small, the machine is shared


@dataclass
class AuditRun:
    shards_total: int = 0
    shards_skipped: int = 0  # already done by an earlier run
    shards_done: int = 0
    shards_failed: list[str] = field(default_factory=list)  # their task failed (a worker died): re-run retries them
    items: int = 0
    seconds: float = 0.0
    shard_files: list[str] = field(default_factory=list)


def shard_file_name(shard_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", shard_id) + ".parquet"


def _windows(items: Iterable[Item], size: int) -> Iterator[list[Item]]:
    it = iter(items)
    while window := list(islice(it, size)):
        yield window


def optouts(row: dict[str, Any]) -> list[str]:
    """Which opt-out signals say "do not train on this"."""
    out = []
    if str(row.get("c2pa_training_mining", "")).lower() in ("notallowed", "constrained"):
        out.append("c2pa")
    if row.get("iptc_data_mining") and iptc_prohibits(str(row["iptc_data_mining"])):
        out.append("iptc")
    if row.get("tdm_reservation") == 1:
        out.append("tdmrep")
    if row.get("robots_ai_disallowed"):
        out.append("robots")
    if row.get("ai_txt") == "disallowed":
        out.append("ai_txt")
    xrt = str(row.get("x_robots_tag", "")).lower()
    if "noai" in xrt or "noimageai" in xrt:
        out.append("x_robots_tag")
    return out


class ShardAuditor:
    """Ray Data callable class: one instance per worker, so the registry is loaded once per worker."""

    def __init__(self, home: str | None, overrides: dict[str, Any], wm: dict[str, Any], check_registry: bool) -> None:
        from inkseal.app import Inkseal

        self.app = Inkseal.open(home, **overrides)
        settings = self.app.settings
        matcher = self.app.matcher if check_registry else None  # indexes read here, once
        keys = keys_from_wire(wm)
        self.checker = ItemChecker(matcher, keys, max_pixels=settings.max_pixels)
        self.settings = settings
        self.site_cache = SiteCache()
        self._thread = threading.local()
        # URL items are fetched FETCH_THREADS at a time (fetching waits on the network, checking uses the CPU):
        # one worker keeps its core busy even when each fetch takes a second.
        self.pool = ThreadPoolExecutor(FETCH_THREADS, thread_name_prefix="audit-fetch")

    def _fetch(self, url: str) -> Fetched:
        from inkseal.match.sources.fetch import Fetcher
        from inkseal.platform.audit.optout import SiteOptOuts

        sites = getattr(self._thread, "sites", None)
        if sites is None:  # one Fetcher per thread: its deadline belongs to the fetch in progress
            sites = self._thread.sites = SiteOptOuts(Fetcher.from_settings(self.settings), self.site_cache)
        return sites.fetch(url)

    def __call__(self, batch: dict[str, Any]) -> dict[str, list]:
        out: dict[str, list] = {"shard_id": [], "shard_rows": [], "finding": [], "thumb": []}
        for shard_json in batch["shard"]:
            shard: Shard = json.loads(str(shard_json))
            rows = []
            for window in _windows(read_items(shard), FETCH_WINDOW):
                fetches = {i: self.pool.submit(self._fetch, item.url) for i, item in enumerate(window)
                           if item.url and not item.error_kind}
                rows += [self.audit_item(shard, item, fetches.get(i)) for i, item in enumerate(window)]
            if not rows:  # an empty shard still reports back, or it would never count as done
                rows = [{"item_id": f"{shard['shard_id']}#empty", "source": shard["path"], "layout": shard["layout"],
                         "status": "error", "error_kind": "empty_shard", "error": "no items in this shard"}]
            for row in rows:
                out["shard_id"].append(shard["shard_id"])
                out["shard_rows"].append(len(rows))
                out["thumb"].append(row.pop("thumb", None))
                out["finding"].append(json.dumps(row, default=str))
        return out

    def audit_item(self, shard: Shard, item: Item, fetch: Future[Fetched] | None = None) -> dict[str, Any]:
        row: dict[str, Any] = {"item_id": item.item_id, "source": item.source, "caption": item.caption[:500],
                               "layout": shard["layout"], "shard_id": shard["shard_id"]}
        try:
            if item.error_kind:
                row.update(error_kind=item.error_kind, error=item.error)
            elif item.url:
                fetched = fetch.result() if fetch is not None else self._fetch(item.url)
                row.update(fetched.signals)
                if fetched.error_kind:
                    row.update(error_kind=fetched.error_kind, error=fetched.error)
                elif fetched.data is None:
                    row["not_analysed"] = "X-Robots-Tag noai: content not read"
                else:
                    row.update(self.checker.check(fetched.data))
            elif item.data is not None:
                row.update(self.checker.check(item.data))
        except Exception as exc:  # noqa: BLE001 - one item's surprise never stops the shard
            row.update(error_kind="internal", error=f"{one_line(exc, with_type=True)[:200]}")
        row["optouts"] = optouts(row)
        row["status"] = "error" if row.get("error_kind") else "ok"
        return row


def keys_to_wire(wm: WatermarkKeys) -> dict[str, Any]:
    """The keys as the driver hands them to Ray workers (JSON-able)."""
    return {"keys": {str(k): v.hex() for k, v in wm.keys.items()},
            "frames": {str(k): list(v) for k, v in wm.frames.items()}, "why_not": wm.why_not,
            "blind_key": wm.blind_key.hex() if wm.blind_key else None, "sealed": sorted(wm.sealed)}


def keys_from_wire(wm: dict[str, Any]) -> WatermarkKeys:
    return WatermarkKeys(keys={int(k): bytes.fromhex(v) for k, v in wm["keys"].items()},
                         frames={int(k): tuple(v) for k, v in wm["frames"].items()}, why_not=wm["why_not"],
                         blind_key=bytes.fromhex(wm["blind_key"]) if wm.get("blind_key") else None,
                         sealed=set(wm.get("sealed") or []))


def watermark_keys(app: Any) -> WatermarkKeys:
    """The driver derives each sealed work's key once (the master key never leaves this process)."""
    from inkseal.seal.marks import carries_blind_mark

    sealed = {w.id: f for w in app.works() for f in w.files if (f.regions or {}).get("watermark")}
    if not sealed:
        return WatermarkKeys(why_not="no sealed (watermarked) works registered")
    if not app.keys.watermark_path.exists():
        return WatermarkKeys(why_not="no watermark key in this home")
    try:
        passphrase = os.environ.get("INKSEAL_PASSPHRASE")
        blind_key = app.keys.blind_key(passphrase)
        # wm/1 keys only for works sealed before blind v2: the others are all named by one blind read
        legacy = [w for w, f in sealed.items() if not carries_blind_mark(f.regions)]
        keys = {w: app.keys.watermark_key_for(w, passphrase) for w in legacy}
    except Exception as exc:  # noqa: BLE001 - locked or damaged: the audit goes on, the report says why
        return WatermarkKeys(why_not=one_line(exc)[:200])
    return WatermarkKeys(keys=keys, frames={w: (f.height, f.width) for w, f in sealed.items()},
                         blind_key=blind_key, sealed=set(sealed))


def start_ray(options: AuditOptions) -> None:
    import ray

    if ray.is_initialized():
        return
    for name in ("ray", "ray.data"):  # progress and execution notes are not the audit's output
        logging.getLogger(name).setLevel(logging.WARNING)
    quiet = {"include_dashboard": False, "log_to_driver": False, "logging_level": logging.WARNING,
             "configure_logging": True}
    if options.ray_address:
        ray.init(address=options.ray_address, **quiet)
    else:
        ray.init(num_cpus=max(1, options.workers), object_store_memory=options.object_store_mb << 20, **quiet)
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    ctx.print_on_execution_start = False
    # A shard whose task fails even after Ray's retries (a worker killed by the OS, say) must not stop the
    # others: it stays unrecorded, is counted as failed, and the next run audits it again.
    ctx.max_errored_blocks = -1
    logging.getLogger("ray.data").setLevel(logging.WARNING)


def load_done(report_dir: Path) -> set[str]:
    p = report_dir / DONE_FILE
    if not p.exists():
        return set()
    try:
        return set(json.loads(p.read_text()).get("shards", []))
    except (ValueError, AttributeError):
        return set()  # a damaged record: everything is audited again (shard files are simply rewritten)


def _record_done(report_dir: Path, done: set[str]) -> None:
    tmp = report_dir / (DONE_FILE + ".tmp")
    tmp.write_text(json.dumps({"shards": sorted(done)}, indent=1))
    os.replace(tmp, report_dir / DONE_FILE)


def _write_shard(report_dir: Path, shard_id: str, rows: list[tuple[dict, bytes | None]]) -> Path:
    records = []
    for finding, thumb in rows:
        rec = {k: (json.dumps(v) if isinstance(v, dict | list) else v) for k, v in finding.items()}
        rec["thumb"] = thumb
        records.append(rec)
    columns = list(dict.fromkeys(k for rec in records for k in rec))  # from_pylist would take the first row's keys only
    table = pa.Table.from_pylist([{k: rec.get(k) for k in columns} for rec in records])
    path = report_dir / SHARDS_DIR / shard_file_name(shard_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".parquet.tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, path)
    return path


def run_audit(dataset: str | Path, report_dir: str | Path, options: AuditOptions,
              on_shard: Callable[[str, int], None] | None = None) -> AuditRun:
    import ray

    from inkseal.app import Inkseal

    started = time.monotonic()
    report_dir = Path(report_dir)
    report_dir.mkdir(parents=True, exist_ok=True)
    shards = list_shards(dataset)
    done = load_done(report_dir)
    todo = [s for s in shards if s["shard_id"] not in done]
    run = AuditRun(shards_total=len(shards), shards_skipped=len(shards) - len(todo))
    overrides: dict[str, Any] = {}
    if options.allow_private is not None:
        overrides["allow_private_addresses"] = options.allow_private
    if options.http_timeout_s is not None:
        overrides["http_timeout_s"] = options.http_timeout_s
    if options.http_deadline_s is not None:
        overrides["http_deadline_s"] = options.http_deadline_s
    if todo:
        app = Inkseal.open(options.home, **overrides)
        try:
            wm = watermark_keys(app)
        finally:
            app.close()
        wm_arg = keys_to_wire(wm)
        # Each worker decodes and embeds with one thread: N workers use N cores, not N x threads.
        start_ray(options)
        ds = ray.data.from_items([{"shard": json.dumps(s)} for s in todo], override_num_blocks=len(todo))
        ds = ds.map_batches(ShardAuditor, batch_size=1, num_cpus=1,
                            compute=ray.data.ActorPoolStrategy(size=max(1, min(options.workers, len(todo)))),
                            fn_constructor_kwargs={"home": options.home, "overrides": {**overrides, "threads": 1},
                                                   "wm": wm_arg, "check_registry": options.check_registry})
        pending: dict[str, list[tuple[dict, bytes | None]]] = {}
        for row in ds.iter_rows():
            sid = str(row["shard_id"])
            pending.setdefault(sid, []).append((json.loads(row["finding"]), row["thumb"]))
            if len(pending[sid]) == int(row["shard_rows"]):
                rows = pending.pop(sid)
                run.shard_files.append(str(_write_shard(report_dir, sid, rows)))
                done.add(sid)
                _record_done(report_dir, done)
                run.shards_done += 1
                run.items += len(rows)
                if on_shard:
                    on_shard(sid, len(rows))
        run.shards_failed = [s["shard_id"] for s in todo if s["shard_id"] not in done]
    run.seconds = time.monotonic() - started
    (report_dir / "run.json").write_text(json.dumps(asdict(run), indent=1))
    return run
