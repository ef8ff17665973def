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
- a job *running* when the server stops is marked `interrupted` - by itself on a clean shutdown (it
  checks at each step), or at the next start of the consumer when the process died; never lost silently.
  Jobs are not resumed half-way: a scan or pack is started again by the user (scans record as they go).
- one consumer per install: inside `inkseal serve` (threads), or `inkseal worker` with `serve --no-worker`.
Passphrases (seal, pack) are never written to disk: they stay in this process's memory until the job
runs, so a restart before then marks such a job interrupted ("start it again").
"""

from __future__ import annotations

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
from inkseal.errors import InksealError
from inkseal.registry.accounts import Account, Accounts
from inkseal.registry.jobs import JobStore, JobView

log = logging.getLogger("inkseal.jobs")
WORKERS = 2  # a job and a webhook delivery can run side by side; scans still take WORK_LOCK one at a time


class Cancelled(Exception):
    """The user asked to cancel the job."""


class Stopping(Exception):
    """The consumer is stopping (server shutdown): the job is marked interrupted."""


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
        try:
            if user is None:
                raise InksealError("the job's account no longer exists / 任务所属账户已不存在")
            result = HANDLERS[job.kind](JobContext(self, job, user))
        except Cancelled:
            self.store.finish(job_id, "cancelled", error="cancelled / 已取消")
        except Stopping:
            self.store.finish(job_id, "interrupted",
                              error="the server stopped while this job ran; start it again / 任务运行时服务器已停止，请重新开始")
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
            inputs = self.ink.settings.home / "jobs" / f"job{job_id}" / "in"
            shutil.rmtree(inputs, ignore_errors=True)  # uploads are not kept once the job is over
        if job.kind == "scan":
            self.poke_webhooks()  # new matches: deliver now rather than at the next sweep

    def start_consumer(self) -> None:
        """Mark what a dead server left running as interrupted, then run the consumer's threads."""
        if self._consumer is not None:
            return
        interrupted = self.store.interrupt_running()
        if interrupted:
            log.warning("jobs %s were running when the server stopped: marked interrupted", interrupted)
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
        self.store.interrupt_running()  # a step that outlived the timeout: still never left "running"

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
@handler("scan")
def run_scan_job(ctx: JobContext) -> dict:
    from inkseal.web.api import match_json, owned_matching
    from inkseal.web.scope import UserScope

    inputs = ctx.folder / "in"
    sources = sorted(str(p) for p in inputs.iterdir()) if inputs.exists() else []
    sources += ctx.job.params.get("urls", [])
    total = max(len(sources), 1)
    ctx.progress(0, total, "scanning")
    done = 0

    def on_item(_result: Any) -> None:
        nonlocal done, total
        done += 1
        total = max(total, done)
        ctx.progress(done, total, f"{done} item(s) scanned")

    scope = UserScope(ctx.ink, ctx.queue.accounts, ctx.user)
    with owned_matching(scope):
        report = ctx.ink.scan(sources, on_item)
    ctx.progress(done, max(done, 1), "done")
    failed = [{"item": _shown(r.item.label, inputs), "error": (r.error or "").replace(f"{inputs}/", "")}
              for r in report.failed]
    matches = [match_json(ctx.ink.registry.match(m.id)) for r in report.matched for m in r.matches]
    return _without_folder({"scan_id": report.scan_id, "items": len(report.results), "failed": failed,
                            "whitelisted": report.suppressed, "matches": matches}, f"{inputs}/")


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
        raise Stopping()  # queued before a restart: its passphrase was never written down, so it cannot run
    ctx.progress(0, 1, "sealing")
    out = ctx.ink.settings.home / "sealed" / f"work{p['work_id']}-job{ctx.job.id}.{p['format']}"
    out.parent.mkdir(parents=True, exist_ok=True)
    opts = SealOptions(**p["options"])
    result = seal(ctx.ink, p["work_id"], out, opts, ctx.secret)
    ctx.progress(1, 1, "done")
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
        raise Stopping()  # queued before a restart: its passphrase was never written down, so it cannot run
    langs = ["zh", "en"] if p["lang"] == "both" else [p["lang"]]
    ctx.progress(0, len(langs), "building")
    built = []
    for i, lang in enumerate(langs):
        out = ctx.folder / "build" / f"pack-{lang}.zip"
        built.append((lang, ctx.ink.evidence(p["match_id"], out, passphrase=ctx.secret, lang=lang, as_zip=True,
                                             force=True, for_platform=p["for"] == "platform")))
        ctx.progress(i + 1, len(langs), f"{lang} pack built")
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

