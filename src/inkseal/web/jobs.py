"""Background jobs: scans, sealing, evidence packs, run by a huey consumer, their state in the registry.

Why huey: a small, well-kept task queue (one pure-Python package, no broker to run) whose queue lives
in storage we already have: `SqliteHuey` (a file in the inkseal home, next to registry.sqlite) for the
SQLite install, and `PostgresHuey` (huey's own tables in the same PostgreSQL database, psycopg 3) when
`db_url` is PostgreSQL - so neither install gains a server to operate. procrastinate would be
PostgreSQL-only (a second code path for SQLite); Celery/RQ/Dramatiq need Redis or RabbitMQ. huey also
gives delayed tasks (`schedule(delay=...)`, used for webhook retries) that persist in the same storage.

What huey holds is only "run job N" (and "deliver webhooks"); what a user sees is the `jobs` row
(inkseal.registry.jobs): state, progress done/total, result, error, cancel request. So:
- a job queued when the server stops stays in huey's queue and runs when a consumer starts again;
- a *scan* running when the server stops (cleanly: it notices at its next step; or killed: huey's task
  is gone with the process) is queued again and run again by the next consumer (`recover`) from its first
  batch of sources not done (jobs/jobN/scanned.jsonl records each batch done, see `run_scan_job`): its
  inputs stay in jobs/jobN/in until it ends, and a sighting of the unfinished batch recorded twice joins its case;
- a seal or pack cannot outlive the process holding its passphrase: after a restart it is marked
  `interrupted`, with a reason asking the user to start it again. Nothing is ever left "running".
- one consumer per install: inside `inkseal serve` (threads), or `inkseal worker` with `serve --no-worker`.
Passphrases (seal, pack) are never written to disk: they stay in this process's memory until the job
runs, so a restart before then marks such a job interrupted ("start it again"). For the same reason a
seal or pack submitted to `serve --no-worker` runs on a thread of the server, not in `inkseal worker`.
"""

from __future__ import annotations

import json
import logging
import shutil
import threading
import zipfile
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from huey import PostgresHuey, SqliteHuey, crontab
from huey.api import Huey
from huey.consumer import Consumer

from inkseal.app import Inkseal
from inkseal.errors import InksealError, one_line
from inkseal.registry.accounts import Account, Accounts
from inkseal.registry.jobs import JobStore, JobView

log = logging.getLogger("inkseal.jobs")
WORKERS = 2  # a job and a webhook delivery can run side by side; scans still take WORK_LOCK one at a time


class Cancelled(Exception):
    """The user asked to cancel the job."""


class Stopping(Exception):
    """The consumer is stopping (server shutdown): a scan is queued again, any other job marked interrupted."""


class PassphraseLost(Exception):
    """The job needs the passphrase given with it, which only the process that took it held."""


# Scans are run again after a restart, from their first batch not done: their inputs are on disk
# (jobs/jobN/in) and what they find is recorded as they go (a sighting seen twice joins its case). Seals and packs need the passphrase,
# which is never written down, so after a restart the user starts them again.
RERUN_KINDS = ("scan",)
RERUN_STEP = ("the server restarted: this scan runs again from its first batch not done / "
              "服务器已重启：此扫描将从未完成的批次继续运行")
STOPPED = "the server stopped while this job ran; start it again / 任务运行时服务器已停止，请重新开始"
PASSPHRASE_LOST = ("this job needs your key passphrase, which the server keeps in memory only, and the server "
                   "restarted before the job ran to the end: start it again / 此任务需要你的密钥口令，口令只保存在"
                   "服务器内存中，任务完成前服务器已重启：请重新开始")
INPUTS_LOST = ("the server stopped while this scan ran and its uploaded files are gone: start it again / "
               "扫描运行时服务器已停止，上传的文件已不在：请重新开始")


class _ThreadConsumer(Consumer):
    """huey's consumer run from a thread of the server: signals belong to uvicorn (the main thread)."""

    def _set_signal_handlers(self) -> None:
        pass


def make_huey(ink: Inkseal) -> Huey:
    url = ink.registry.engine.url
    if url.get_backend_name() == "postgresql":
        dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
        return PostgresHuey("inkseal", dsn=dsn, results=False, utc=True)
    path = ink.settings.home / "jobs.huey.sqlite"
    return SqliteHuey("inkseal", filename=str(path), results=False, utc=True)


class JobContext:
    """What a running job sees: its row, its owner, progress reporting (which is where cancel and
    shutdown are noticed), and its private folder."""

    def __init__(self, queue: JobQueue, job: JobView, user: Account) -> None:
        self.queue, self.job, self.user = queue, job, user
        self.ink = queue.ink
        self.secret = queue._secrets.get(job.id)

    @property
    def author(self) -> Any:
        """The application as the job owner's author: their keys and journal (`Inkseal.author`)."""
        from inkseal.web.scope import author_of

        return author_of(self.ink, self.user)

    @property
    def folder(self) -> Path:
        return self.queue.job_dir(self.job.id)

    def progress(self, done: int, total: int | None = None, step: str | None = None) -> None:
        if self.queue.stopping.is_set():
            raise Stopping()
        if self.queue.store.cancel_requested(self.job.id):
            raise Cancelled()
        self.queue.store.progress(self.job.id, done, total, step)


Handler = Callable[[JobContext], Any]
HANDLERS: dict[str, Handler] = {}


def handler(kind: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        HANDLERS[kind] = fn
        return fn
    return register


class JobQueue:
    """The jobs of one install: submit, and (when started) the consumer that runs them."""

    def __init__(self, ink: Inkseal, *, allow_private_targets: bool = False, retry_base_s: float = 30.0) -> None:
        self.ink = ink
        self.store = JobStore(ink.registry)
        self.accounts = Accounts(ink.registry)
        self.allow_private_targets = allow_private_targets or bool(ink.settings.allow_private_addresses)
        self.retry_base_s = retry_base_s
        self.huey = make_huey(ink)
        self.stopping = threading.Event()
        self._secrets: dict[int, str] = {}
        self._consumer: _ThreadConsumer | None = None
        self._run = self.huey.task(name="inkseal.run_job")(self._run_job)
        from inkseal.web.webhooks import WebhookSender  # the sender runs as this queue's task

        self.webhooks = WebhookSender(self)
        self._deliver = self.huey.task(name="inkseal.deliver_webhooks")(self.webhooks.run)
        # Every minute as well: matches found outside this server (`inkseal scan` on the command line).
        self.huey.periodic_task(crontab(), name="inkseal.sweep_webhooks")(self.webhooks.run)
        # Due monitors (`inkseal monitor add`) run here while a server runs; without one, cron calls
        # `inkseal monitor run --due`.
        self._monitoring = threading.Lock()
        self.huey.periodic_task(crontab(), name="inkseal.run_due_monitors")(self.run_due_monitors)

    def run_due_monitors(self) -> list[int]:
        """Run each due monitor, one after another; the ids run. A tick that finds a run still going does
        nothing (runs resume where they stopped, so a later tick finishes what a stop cut short). Each run's
        scans take WORK_LOCK batch by batch, so users' scans and registrations interleave with it."""
        from inkseal.monitor.runs import MonitorRunner
        from inkseal.registry.monitors import MonitorStore
        from inkseal.web.scope import WORK_LOCK

        if not self._monitoring.acquire(blocking=False):
            return []
        ran: list[int] = []
        try:
            for monitor in MonitorStore(self.ink.registry).due():
                if self.stopping.is_set():
                    break
                try:
                    MonitorRunner(self.ink, scan_lock=WORK_LOCK).run(monitor.id)
                    ran.append(monitor.id)
                except Exception as exc:  # noqa: BLE001 - one monitor failing never stops the others
                    log.warning("monitor %s: %s", monitor.id, one_line(exc, with_type=True))
        finally:
            self._monitoring.release()
        return ran

    # -- submitting ------------------------------------------------------------------------------------
    def job_dir(self, job_id: int) -> Path:
        path = self.ink.settings.home / "jobs" / f"job{job_id}"
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        return path

    def submit(self, user: Account, kind: str, params: dict, *, total: int = 0, secret: str | None = None,
               prepare: Callable[[Path], None] | None = None) -> JobView:
        """A new job: its row, its inputs written by `prepare(folder)`, then its place in the queue."""
        job = self.store.create(user.id, kind, params, total)
        if prepare is not None:
            prepare(self.job_dir(job.id))
        if secret:
            self._secrets[job.id] = secret
            if self._consumer is None:
                # No consumer in this process (`serve --no-worker`): the passphrase could never reach
                # `inkseal worker` (it is never written down), so this job runs on a thread of this process.
                threading.Thread(target=self._run_job, args=(job.id,), name=f"inkseal-job{job.id}",
                                 daemon=True).start()
                return job
        self._run(job.id)
        return job

    def poke_webhooks(self, delay: float | None = None) -> None:
        """Look for new matches and due deliveries now (or after `delay` seconds)."""
        if delay:
            self._deliver.schedule(delay=delay)
        else:
            self._deliver()

    # -- running -----------------------------------------------------------------------------------------
    def _user(self, user_id: int) -> Account | None:
        return next((u for u in self.accounts.users() if u.id == user_id), None)

    def _run_job(self, job_id: int) -> None:
        job = self.store.get(job_id)
        if job is None or not self.store.start(job_id):
            return  # gone, cancelled before it started, or already handled
        user = self._user(job.user_id)
        keep_inputs = False
        try:
            if user is None:
                raise InksealError("the job's account no longer exists / 任务所属账户已不存在")
            result = HANDLERS[job.kind](JobContext(self, job, user))
        except Cancelled:
            self.store.finish(job_id, "cancelled", error="cancelled / 已取消")
        except PassphraseLost:
            self.store.finish(job_id, "interrupted", error=PASSPHRASE_LOST)
        except Stopping:
            if job.kind in RERUN_KINDS and self.store.requeue(job_id, RERUN_STEP):
                keep_inputs = True  # the next consumer runs it again (see `recover`)
            else:
                self.store.finish(job_id, "interrupted", error=STOPPED)
        except (InksealError, ValueError, OSError) as exc:
            self.store.finish(job_id, "failed", error=str(exc)[:1000])
        except Exception:
            log.exception("job %s (%s) failed", job_id, job.kind)
            self.store.finish(job_id, "failed", error="internal error / 内部错误")
        else:
            from inkseal.web.api import plain  # JSON-ready: datetimes, numpy numbers

            self.store.finish(job_id, "done", result=plain(result))
        finally:
            self._secrets.pop(job_id, None)
            if not keep_inputs:
                shutil.rmtree(self._inputs(job_id), ignore_errors=True)  # uploads are not kept once the job is over
                (self.job_dir(job_id) / SCANNED_FILE).unlink(missing_ok=True)
        if job.kind == "scan":
            self.poke_webhooks()  # new matches: deliver now rather than at the next sweep

    def _inputs(self, job_id: int) -> Path:
        return self.ink.settings.home / "jobs" / f"job{job_id}" / "in"

    def recover(self) -> tuple[list[int], list[int]]:
        """At a consumer's start, every job a stopped or killed server or worker left queued or running:
        scans are queued (again) and run from their first batch not done; a seal or pack whose passphrase this process
        does not hold is marked interrupted, with the reason. Returns (queued again, interrupted).

        A job still waiting in huey's queue may so be queued twice: the second run finds it started
        (`JobStore.start` moves queued -> running once) and does nothing."""
        rerun, interrupted = [], []
        for job in self.store.active():
            if job.cancel_requested:
                self.store.finish(job.id, "cancelled", error="cancelled / 已取消")
            elif job.kind not in RERUN_KINDS:
                if job.id not in self._secrets:
                    self.store.finish(job.id, "interrupted", error=PASSPHRASE_LOST)
                    interrupted.append(job.id)
            elif job.params.get("files") and not self._inputs(job.id).is_dir():
                self.store.finish(job.id, "interrupted", error=INPUTS_LOST)
                interrupted.append(job.id)
            else:
                self.store.requeue(job.id, RERUN_STEP)  # running -> queued; a queued one stays as it is
                self._run(job.id)
                rerun.append(job.id)
        return rerun, interrupted

    def _stop_leftovers(self) -> None:
        """After the consumer stopped: a job whose step outlived the timeout is never left "running"."""
        for job in self.store.active():
            if job.state == "running" and not (job.kind in RERUN_KINDS and self.store.requeue(job.id, RERUN_STEP)):
                self.store.finish(job.id, "interrupted", error=STOPPED)

    def start_consumer(self) -> None:
        """Pick up what a stopped or killed server left (`recover`), then run the consumer's threads."""
        if self._consumer is not None:
            return
        rerun, interrupted = self.recover()
        if rerun or interrupted:
            log.warning("after a restart: jobs %s queued again, jobs %s marked interrupted", rerun, interrupted)
        self.stopping.clear()
        # Poll quickly when busy, at most every second when idle (huey backs off between the two);
        # `periodic`: the minutely webhook sweep.
        self._consumer = _ThreadConsumer(self.huey, workers=WORKERS, periodic=True, initial_delay=0.05,
                                         max_delay=1.0, worker_type="thread", check_worker_health=False)
        self._consumer.start()
        self.poke_webhooks()  # deliveries due while the server was down

    def stop(self) -> None:
        """Stop the consumer: a running job notices at its next step and is marked interrupted."""
        self.stopping.set()
        if self._consumer is None:
            return  # the jobs run elsewhere (`inkseal worker`): not ours to mark
        self._consumer.shutdown_timeout = 60  # a bound on a hang: each step of a job is short
        self._consumer.stop(graceful=True)
        self._consumer = None
        self._stop_leftovers()

    def run_forever(self) -> None:
        """`inkseal worker`: the consumer in this process, until interrupted (Ctrl-C / SIGTERM)."""
        import signal

        done = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: done.set())
        self.start_consumer()
        done.wait()
        self.stop()


# -- the queue of an app ---------------------------------------------------------------------------------
def queue_of(app: Any) -> JobQueue:
    """The app's job queue (made at startup; made here, without a consumer, when the app was not started)."""
    queue = getattr(app.state, "jobs", None)
    if queue is None:
        queue = app.state.jobs = JobQueue(app.state.ink,
                                          allow_private_targets=getattr(app.state, "allow_private_targets", False),
                                          retry_base_s=getattr(app.state, "webhook_retry_base_s", 30.0))
    return queue


@asynccontextmanager
async def lifespan(app: Any) -> AsyncIterator[None]:
    """Start the consumer with the server (unless `app.state.run_jobs` is False: `serve --no-worker`)."""
    queue = queue_of(app)
    if getattr(app.state, "run_jobs", True):
        queue.start_consumer()
    try:
        yield
    finally:
        queue.stop()
        app.state.jobs = None


# -- the jobs -------------------------------------------------------------------------------------------
SCAN_JOB_BATCH = 16  # sources per scan of a desk job: each batch done is kept across a restart
SCANNED_FILE = "scanned.jsonl"  # in the job's folder: one line per batch done (what a re-run skips)


@handler("scan")
def run_scan_job(ctx: JobContext) -> dict:
    """The job's uploads and URLs scanned in batches of SCAN_JOB_BATCH. After each batch a line in the job's
    folder records its sources, scan, items, failures and matches, so a job the server stopped or lost runs
    again from the first batch not done, and its result still covers every batch."""
    from inkseal.web.api import match_json, owned_matching
    from inkseal.web.scope import UserScope
    from inkseal.web.uploads import names_in, restamp

    inputs = ctx.folder / "in"
    sources = sorted(str(p) for p in inputs.iterdir()) if inputs.exists() else []
    sources += ctx.job.params.get("urls", [])
    batches = _scanned_batches(ctx.folder)
    finished = {src for b in batches for src in b["sources"]}
    todo = [src for src in sources if src not in finished]
    done = sum(b["items"] for b in batches)
    total = max(len(sources), done, 1)
    ctx.progress(done, total, "scanning / 扫描中")

    def on_item(_result: Any) -> None:
        nonlocal done, total
        done += 1
        total = max(total, done)
        ctx.progress(done, total, f"{done} item(s) scanned / 已扫描 {done} 项")

    scope = UserScope(ctx.ink, ctx.queue.accounts, ctx.user)
    names = names_in(inputs) if inputs.exists() else {}
    chunks = [todo[i:i + SCAN_JOB_BATCH] for i in range(0, len(todo), SCAN_JOB_BATCH)] or ([] if batches else [[]])
    try:
        with owned_matching(scope):
            for chunk in chunks:
                report = ctx.ink.scan(chunk, on_item)
                batch = {"sources": chunk, "scan_id": report.scan_id, "items": len(report.results),
                         "whitelisted": report.suppressed,
                         "failed": [{"item": _shown(r.item.label, inputs),
                                     "error": (r.error or "").replace(f"{inputs}/", "")} for r in report.failed],
                         "match_ids": [m.id for r in report.matched for m in r.matches]}
                with (ctx.folder / SCANNED_FILE).open("a", encoding="utf-8") as f:
                    f.write(json.dumps(batch) + "\n")
                batches.append(batch)
    finally:
        restamp(ctx.ink.registry, inputs, names)  # stored as `upload:<sha>/<name>`, never the job folder's path
    ctx.progress(done, max(done, 1), "done / 完成")
    found = (ctx.ink.registry.match(mid) for b in batches for mid in b["match_ids"])
    return _without_folder({"scan_id": batches[0]["scan_id"], "scan_ids": [b["scan_id"] for b in batches],
                            "items": sum(b["items"] for b in batches),
                            "failed": [f for b in batches for f in b["failed"]],
                            "whitelisted": sum(b["whitelisted"] for b in batches),
                            "matches": [match_json(m) for m in found if m is not None]}, f"{inputs}/")


def _scanned_batches(folder: Path) -> list[dict]:
    """The batches an earlier run of this job finished (a line cut by a crash is simply not counted)."""
    path = folder / SCANNED_FILE
    batches: list[dict] = []
    if path.exists():
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                b = json.loads(line)
            except ValueError:
                continue
            if isinstance(b, dict) and isinstance(b.get("sources"), list):
                batches.append(b)
    return batches


def _shown(label: str, inputs: Path) -> str:
    """An item's label without the server's folder (uploads are named NN-name inside it)."""
    return label.replace(f"{inputs}/", "")


def _without_folder(obj: Any, folder: str) -> Any:
    """The result with the server's job folder taken out of every string (a suspect's source is its path)."""
    from inkseal.web.api import plain

    obj = plain(obj)
    if isinstance(obj, dict):
        return {k: _without_folder(v, folder) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_without_folder(v, folder) for v in obj]
    return obj.replace(folder, "") if isinstance(obj, str) else obj


@handler("seal")
def run_seal_job(ctx: JobContext) -> dict:
    from inkseal.seal.service import SealOptions, seal

    p = ctx.job.params
    if ctx.secret is None:
        raise PassphraseLost()  # queued before a restart: its passphrase was never written down, so it cannot run
    ctx.progress(0, 1, "sealing / 盖章中")
    out = ctx.ink.settings.home / "sealed" / f"work{p['work_id']}-job{ctx.job.id}.{p['format']}"
    out.parent.mkdir(parents=True, exist_ok=True)
    opts = SealOptions(**p["options"])
    result = seal(ctx.author, p["work_id"], out, opts, ctx.secret)  # signed with the job owner's keys
    ctx.progress(1, 1, "done / 完成")
    return {"work_id": p["work_id"], "file_id": result.file_id, "regions": result.regions, "warnings": result.warnings,
            "image": f"/api/v1/works/{p['work_id']}/files/{result.file_id}/image"}


def pack_path(queue: JobQueue, job_id: int) -> Path:
    return queue.ink.settings.home / "jobs" / f"job{job_id}" / "pack.zip"


@handler("pack")
def run_pack_job(ctx: JobContext) -> dict:
    """The pack `inkseal evidence MATCH -o PACK.zip` builds, for the case's latest sighting; lang `both`
    puts the Chinese and the English pack side by side (zh/, en/) in one zip."""
    p = ctx.job.params
    if ctx.secret is None:
        raise PassphraseLost()  # queued before a restart: its passphrase was never written down, so it cannot run
    langs = ["zh", "en"] if p["lang"] == "both" else [p["lang"]]
    ctx.progress(0, len(langs), "building / 生成中")
    built = []
    for i, lang in enumerate(langs):
        out = ctx.folder / "build" / f"pack-{lang}.zip"
        built.append((lang, ctx.author.evidence(p["match_id"], out, passphrase=ctx.secret, lang=lang, as_zip=True,
                                                force=True, for_platform=p["for"] == "platform")))
        ctx.progress(i + 1, len(langs), f"{lang} pack built / {lang} 证据包已生成")
    target = pack_path(ctx.queue, ctx.job.id)
    if len(built) == 1:
        shutil.move(built[0][1], target)
    else:
        with zipfile.ZipFile(target, "w", zipfile.ZIP_STORED) as z:  # the packs are zips already
            for lang, path in built:
                z.write(path, f"{lang}/{path.name}")
    shutil.rmtree(ctx.folder / "build", ignore_errors=True)
    return {"case_id": p["case_id"], "match_id": p["match_id"], "lang": p["lang"], "for": p["for"],
            "bytes": target.stat().st_size, "download": f"/api/v1/jobs/{ctx.job.id}/result"}

