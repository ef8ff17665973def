"""Background jobs and webhooks: their state in the registry's database (migration 0008).

    users ──< jobs                 one long piece of work (scan, seal, evidence pack): state, progress
                                   done/total, result or error, a cancel request
          ──< webhooks ──< webhook_deliveries   each new match of the user's works, POSTed (signed) to the
                                   webhook's URL; one delivery row per (webhook, match), with its attempts

The queue that *runs* jobs is huey's (inkseal.web.jobs); these rows are what the user sees and what
survives a restart. A job's parameters never hold a passphrase (those stay in the server's memory only).
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (Boolean, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint, and_, inspect,
                        select, update)
from sqlalchemy.orm import Mapped, mapped_column

from inkseal.errors import InksealError
from inkseal.registry.models import Base, Match, utcnow
from inkseal.registry.store import Registry

JOB_KINDS = ("scan", "seal", "pack")
ACTIVE = ("queued", "running")
FINISHED = ("done", "failed", "cancelled", "interrupted")


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = {"sqlite_autoincrement": True}
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(String(20), default="queued")
    done: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(Integer, default=0)
    step: Mapped[str] = mapped_column(Text, default="")  # what it is doing now, one line
    params: Mapped[str] = mapped_column(Text, default="{}")  # JSON; never a secret
    result: Mapped[str | None] = mapped_column(Text, nullable=True)  # JSON
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class Webhook(Base):
    __tablename__ = "webhooks"
    __table_args__ = {"sqlite_autoincrement": True}
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(Text)
    # Kept as is: an HMAC needs the secret itself to sign (a hash of it could not).
    secret: Mapped[str] = mapped_column(String(100))
    after_match_id: Mapped[int] = mapped_column(Integer, default=0)  # matches up to here were already queued
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class WebhookDelivery(Base):
    __tablename__ = "webhook_deliveries"
    __table_args__ = (UniqueConstraint("webhook_id", "match_id", name="uq_webhook_deliveries_webhook_match"),
                      {"sqlite_autoincrement": True})
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"), index=True)
    match_id: Mapped[int] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(Text)  # the exact JSON POSTed (the signature covers these bytes)
    state: Mapped[str] = mapped_column(String(20), default="pending")  # pending, delivered, failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


JOB_TABLES = [m.__table__ for m in (Job, Webhook, WebhookDelivery)]


def _utc(dt: datetime | None) -> datetime | None:
    return dt.replace(tzinfo=UTC) if dt is not None and dt.tzinfo is None else dt  # SQLite hands back naive UTC


@dataclass(frozen=True)
class JobView:
    id: int
    user_id: int
    kind: str
    state: str
    done: int
    total: int
    step: str
    params: dict
    result: Any
    error: str | None
    cancel_requested: bool
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @property
    def finished(self) -> bool:
        return self.state in FINISHED

    def as_dict(self) -> dict:
        return {"id": self.id, "kind": self.kind, "state": self.state, "done": self.done, "total": self.total,
                "step": self.step, "params": self.params, "result": self.result, "error": self.error,
                "cancel_requested": self.cancel_requested, "created_at": self.created_at,
                "started_at": self.started_at, "finished_at": self.finished_at}


def _view(j: Job) -> JobView:
    return JobView(j.id, j.user_id, j.kind, j.state, j.done, j.total, j.step, json.loads(j.params or "{}"),
                   json.loads(j.result) if j.result else None, j.error, bool(j.cancel_requested),
                   _utc(j.created_at), _utc(j.started_at), _utc(j.finished_at))  # type: ignore[arg-type]


class JobStore:
    """Job and webhook rows over a Registry's database."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        present = set(inspect(registry.engine).get_table_names())
        missing = [t.name for t in JOB_TABLES if t.name not in present]
        if missing:
            raise InksealError(f"the database has no job tables ({', '.join(missing)}): migration 0008 is missing"
                               " / 数据库缺少任务表（缺少迁移 0008）")

    # -- jobs ------------------------------------------------------------------------------------
    def create(self, user_id: int, kind: str, params: dict, total: int = 0) -> JobView:
        assert kind in JOB_KINDS
        with self.registry.writing("jobs") as s:
            job = Job(user_id=user_id, kind=kind, params=json.dumps(params), total=total, state="queued", step="")
            s.add(job)
            s.flush()
            return _view(job)

    def get(self, job_id: int, user_id: int | None = None) -> JobView | None:
        """The job; None when there is none, or it is not `user_id`'s."""
        with self.registry.session() as s:
            job = s.get(Job, job_id)
            return None if job is None or (user_id is not None and job.user_id != user_id) else _view(job)

    def list(self, user_id: int, after_id: int | None = None, limit: int = 100) -> list[JobView]:
        with self.registry.session() as s:
            q = select(Job).where(Job.user_id == user_id).order_by(Job.id).limit(limit)
            if after_id:
                q = q.where(Job.id > after_id)
            return [_view(j) for j in s.scalars(q)]

    def _set(self, job_id: int, *conditions: Any, **values: Any) -> bool:
        with self.registry.writing("jobs") as s:
            return bool(s.execute(update(Job).where(Job.id == job_id, *conditions).values(**values)).rowcount)

    def start(self, job_id: int) -> bool:
        """queued -> running; False when the job is gone or no longer queued (cancelled before it ran)."""
        return self._set(job_id, Job.state == "queued", state="running", started_at=utcnow(), step="started")

    def progress(self, job_id: int, done: int, total: int | None = None, step: str | None = None) -> None:
        values: dict[str, Any] = {"done": done}
        if total is not None:
            values["total"] = total
        if step is not None:
            values["step"] = step[:500]
        self._set(job_id, Job.state == "running", **values)

    def finish(self, job_id: int, state: str, *, result: Any = None, error: str | None = None) -> None:
        assert state in FINISHED
        self._set(job_id, Job.state.in_(ACTIVE), state=state, finished_at=utcnow(),
                  result=None if result is None else json.dumps(result), error=error)

    def request_cancel(self, job_id: int) -> JobView | None:
        """A queued job is cancelled at once; a running one at its next step."""
        self._set(job_id, Job.state == "queued", state="cancelled", finished_at=utcnow(), cancel_requested=True,
                  error="cancelled before it started / 开始前已取消")
        self._set(job_id, Job.state == "running", cancel_requested=True)
        return self.get(job_id)

    def cancel_requested(self, job_id: int) -> bool:
        with self.registry.session() as s:
            return bool(s.scalar(select(Job.cancel_requested).where(Job.id == job_id)))

    def active(self) -> list[JobView]:
        """Jobs queued or running, oldest first (at a consumer's start: what a stopped or killed one left)."""
        with self.registry.session() as s:
            return [_view(j) for j in s.scalars(select(Job).where(Job.state.in_(ACTIVE)).order_by(Job.id))]

    def requeue(self, job_id: int, step: str) -> bool:
        """running -> queued again, from the start (a scan is re-run whole); False when it is not running."""
        return self._set(job_id, Job.state == "running", state="queued", done=0, started_at=None, step=step[:500])

    def queued_ids(self) -> list[int]:
        with self.registry.session() as s:
            return list(s.scalars(select(Job.id).where(Job.state == "queued").order_by(Job.id)))

    # -- webhooks ----------------------------------------------------------------------------------
    def add_webhook(self, user_id: int, url: str) -> tuple[Webhook, str]:
        secret = "whsec_" + secrets.token_urlsafe(32)
        with self.registry.writing("webhooks") as s:
            last = s.scalar(select(Match.id).order_by(Match.id.desc()).limit(1)) or 0
            hook = Webhook(user_id=user_id, url=url, secret=secret, after_match_id=last)
            s.add(hook)
            s.flush()
            s.expunge(hook)
            return hook, secret

    def webhooks(self, user_id: int | None = None) -> list[Webhook]:
        with self.registry.session() as s:
            q = select(Webhook).order_by(Webhook.id)
            if user_id is not None:
                q = q.where(Webhook.user_id == user_id)
            return list(s.scalars(q))

    def webhook(self, hook_id: int, user_id: int) -> Webhook | None:
        with self.registry.session() as s:
            hook = s.get(Webhook, hook_id)
            return hook if hook is not None and hook.user_id == user_id else None

    def remove_webhook(self, hook_id: int) -> None:
        with self.registry.writing("webhooks") as s:
            hook = s.get(Webhook, hook_id)
            if hook is not None:
                s.delete(hook)

    def deliveries(self, hook_id: int, limit: int = 100) -> list[WebhookDelivery]:
        with self.registry.session() as s:
            return list(s.scalars(select(WebhookDelivery).where(WebhookDelivery.webhook_id == hook_id)
                                  .order_by(WebhookDelivery.id.desc()).limit(limit)))

    def queue_new_matches(self, hook: Webhook, matches: list[Match], body_of: Any) -> int:
        """A pending delivery for each match past the webhook's mark; the mark moves past them."""
        if not matches:
            return 0
        with self.registry.writing("webhooks") as s:
            current = s.get(Webhook, hook.id)
            if current is None:
                return 0
            known = set(s.scalars(select(WebhookDelivery.match_id).where(
                WebhookDelivery.webhook_id == hook.id, WebhookDelivery.match_id.in_([m.id for m in matches]))))
            for m in matches:
                if m.id > current.after_match_id and m.id not in known:
                    s.add(WebhookDelivery(webhook_id=hook.id, match_id=m.id, body=body_of(m)))
            current.after_match_id = max(current.after_match_id, max(m.id for m in matches))
            return len(matches)

    def due_deliveries(self, now: datetime | None = None, limit: int = 50) -> list[WebhookDelivery]:
        now = now or utcnow()
        with self.registry.session() as s:
            return list(s.scalars(select(WebhookDelivery).where(
                and_(WebhookDelivery.state == "pending", WebhookDelivery.next_at <= now))
                .order_by(WebhookDelivery.id).limit(limit)))

    def delivery_done(self, delivery_id: int, status: int) -> None:
        with self.registry.writing("webhooks") as s:
            s.execute(update(WebhookDelivery).where(WebhookDelivery.id == delivery_id).values(
                state="delivered", attempts=WebhookDelivery.attempts + 1, last_status=status, last_error=None,
                delivered_at=utcnow()))

    def delivery_failed(self, delivery_id: int, status: int | None, error: str, retry_in: float | None) -> None:
        """One failed attempt: tried again in `retry_in` seconds, or given up (None)."""
        values: dict[str, Any] = {"attempts": WebhookDelivery.attempts + 1, "last_status": status,
                                  "last_error": error[:500]}
        if retry_in is None:
            values["state"] = "failed"
        else:
            values["next_at"] = utcnow() + timedelta(seconds=retry_in)
        with self.registry.writing("webhooks") as s:
            s.execute(update(WebhookDelivery).where(WebhookDelivery.id == delivery_id).values(**values))
