"""Webhooks on new matches: `POST/GET/DELETE /api/v1/webhooks`, and the sender that delivers them.

Each new match of the user's works (found by any scan: API, job or CLI) is POSTed as JSON to each of the
user's webhooks, signed like Stripe's and GitHub's:

    X-Inkseal-Timestamp: 1764210000                       (Unix seconds when this attempt was sent)
    X-Inkseal-Signature: sha256=HEX(HMAC-SHA256(secret, f"{timestamp}.".encode() + raw_body))
    X-Inkseal-Delivery:  42                               (the same on every retry of one delivery)

A receiver recomputes the MAC over the timestamp and the raw body and refuses old timestamps (replays).
A delivery is retried on 5xx, 408, 429, timeouts and connection failures with exponential backoff
(`retry_base_s` x 2^attempt, up to MAX_ATTEMPTS); other 4xx answers and refused addresses fail at once.
Its state (pending / delivered / failed, attempts, last status or error) is in `webhook_deliveries`.

Addresses: a webhook URL must resolve to public addresses, unless the install allows private targets
(`inkseal serve --allow-private-targets`, INKSEAL_WEB_ALLOW_PRIVATE_TARGETS=1, or allow_private_addresses)
or it is a single-user install's local user (who can reach this machine anyway). The connection goes to
exactly the addresses that were checked (netpolicy's PinnedBackend: no DNS rebinding), redirects are not
followed, and each attempt has a whole-request deadline.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import httpx
from fastapi import Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from inkseal.registry.accounts import Account
from inkseal.registry.jobs import Webhook, WebhookDelivery
from inkseal.registry.models import Match, Work, utcnow
from inkseal.match.sources.netpolicy import (Deadline, NetPolicy, PinnedBackend, PinnedTransport, ResolveError,
                                             address_class)
from inkseal.web.messages import ApiError

if TYPE_CHECKING:
    from inkseal.web.jobs import JobQueue

MAX_ATTEMPTS = 8
MAX_BACKOFF_S = 6 * 3600
ATTEMPT_TIMEOUT_S = 10.0
MAX_HOOKS_PER_USER = 20
SIGNATURE_HEADER, TIMESTAMP_HEADER, DELIVERY_HEADER = "X-Inkseal-Signature", "X-Inkseal-Timestamp", "X-Inkseal-Delivery"
RETRY_STATUSES = frozenset({408, 429})


def sign(secret: str, timestamp: int, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def check_target(url: str, allow_private: bool, policy: NetPolicy | None = None) -> str | None:
    """None when `url` may receive webhooks, else the one-line reason (English / Chinese). `policy` keeps the
    addresses it resolved (pinned): a connection through it goes to exactly those."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "a webhook URL is http:// or https:// with a host / 网络钩子地址须为带主机名的 http:// 或 https://"
    if parts.username or parts.password:
        return "a webhook URL carries no user name or password / 网络钩子地址不能包含用户名或密码"
    try:
        addresses = (policy or NetPolicy()).addresses(parts.hostname, parts.port or 0)
    except ResolveError as exc:
        return f"{exc} / 无法解析主机名"
    kinds = {address_class(a) for a in addresses} - {None}
    if "cloud-metadata" in kinds or (kinds and not allow_private):
        kind = "cloud-metadata" if "cloud-metadata" in kinds else sorted(kinds)[0]
        return (f"refused: {parts.hostname} is a {kind} address; webhooks go to public addresses unless the "
                f"server allows private targets (--allow-private-targets) / 已拒绝：{parts.hostname} 是非公网地址")
    return None


def match_event(m: Match) -> str:
    """The JSON body of a new-match delivery (as `inkseal match show --json`)."""
    from inkseal.web.api import match_json, plain

    return json.dumps({"event": "match.new", "match": plain(match_json(m))}, ensure_ascii=False,
                      separators=(",", ":"))


class WebhookSender:
    """Queues a delivery for each new match and sends the ones that are due (one sweep at a time)."""

    def __init__(self, queue: JobQueue) -> None:
        self.queue = queue
        self.store = queue.store
        self._lock = threading.Lock()
        self._wake_at: datetime | None = None  # when the next scheduled sweep runs

    def private_allowed(self, user: Account | None) -> bool:
        return self.queue.allow_private_targets or (user is not None and user.is_local)

    def run(self) -> None:
        with self._lock:
            users = {u.id: u for u in self.queue.accounts.users()}
            for hook in self.store.webhooks():
                user = users.get(hook.user_id)
                if user is not None:
                    self.store.queue_new_matches(hook, self._new_matches(hook, user), match_event)
            hooks = {h.id: h for h in self.store.webhooks()}
            for d in self.store.due_deliveries():
                hook = hooks.get(d.webhook_id)
                if hook is not None:
                    self._attempt(hook, d.id, d.body.encode(), d.attempts, users.get(hook.user_id))
            self._schedule_next()

    def _new_matches(self, hook: Webhook, user: Account) -> list[Match]:
        registry = self.queue.ink.registry
        with registry.session() as s:
            q = (select(Match).options(selectinload(Match.suspect), selectinload(Match.work).selectinload(Work.author))
                 .where(Match.id > hook.after_match_id, self.queue.accounts.owned(user, Match.work_id))
                 .order_by(Match.id).limit(500))
            return list(s.scalars(q))

    def _attempt(self, hook: Webhook, delivery_id: int, body: bytes, attempts: int, user: Account | None) -> None:
        policy = NetPolicy(allow_private=True)  # the check is check_target's; this pins what it resolved
        refused = check_target(hook.url, self.private_allowed(user), policy)
        if refused:
            self.store.delivery_failed(delivery_id, None, refused, None)
            return
        ts = int(time.time())
        headers = {"Content-Type": "application/json", "User-Agent": "inkseal-webhook/1",
                   SIGNATURE_HEADER: sign(hook.secret, ts, body), TIMESTAMP_HEADER: str(ts),
                   DELIVERY_HEADER: str(delivery_id)}
        deadline = Deadline()
        transport = PinnedTransport(PinnedBackend(policy, deadline))  # to the addresses checked above
        status: int | None = None
        try:
            with httpx.Client(transport=transport, timeout=ATTEMPT_TIMEOUT_S, follow_redirects=False) as client:
                deadline.start(ATTEMPT_TIMEOUT_S)
                status = client.post(hook.url, content=body, headers=headers).status_code
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:300] or type(exc).__name__
        else:
            if 200 <= status < 300:
                self.store.delivery_done(delivery_id, status)
                return
            error = f"HTTP {status}"
        finally:
            deadline.stop()
        retry = status is None or status >= 500 or status in RETRY_STATUSES
        last = attempts + 1 >= MAX_ATTEMPTS
        delay = min(self.queue.retry_base_s * 2 ** attempts, MAX_BACKOFF_S)
        self.store.delivery_failed(delivery_id, status, error, delay if retry and not last else None)

    def _schedule_next(self) -> None:
        """Wake up again when the earliest pending delivery is due (kept in huey's schedule, so it
        survives a restart; the consumer's start also sweeps). One wake-up per due time, however many
        sweeps ran since."""
        with self.queue.ink.registry.session() as s:
            first = s.scalar(select(WebhookDelivery.next_at).where(WebhookDelivery.state == "pending")
                             .order_by(WebhookDelivery.next_at).limit(1))
        if first is None:
            return
        now, first = utcnow(), first if first.tzinfo else first.replace(tzinfo=UTC)
        if self._wake_at is not None and now < self._wake_at <= first:
            return  # an earlier (or the same) wake-up is already scheduled
        self._wake_at = first
        self.queue.poke_webhooks(delay=max((first - now).total_seconds(), 0.1))


# -- the API: routes on the API's router (inkseal.web.api imports this module at its end) -----------------
from inkseal.web.api import Id, Scope, answer, router  # noqa: E402
from inkseal.web.jobs import queue_of  # noqa: E402


def _not_found(hook_id: int) -> ApiError:
    return ApiError(404, {"en": f"no webhook {hook_id}", "zh": f"无网络钩子 {hook_id}"})


def _hook_dict(h: Webhook) -> dict:
    return {"id": h.id, "url": h.url, "created_at": h.created_at}


class NewWebhook(BaseModel):
    url: str = Field(min_length=1, max_length=2000, description="Where to POST each new match (http or https).")


@router.post("/webhooks", status_code=201, summary="Add a webhook: each new match of your works is POSTed to it, "
             "signed (the secret is shown once)")
def add_webhook(scope: Scope, request: Request, body: NewWebhook) -> Response:
    queue = queue_of(request.app)
    if any(ord(c) < 33 for c in body.url):
        raise ApiError(422, {"en": "invalid request: the URL contains spaces or control characters",
                             "zh": "请求无效：地址包含空格或控制字符"})
    refused = check_target(body.url, queue.webhooks.private_allowed(scope.user))
    if refused:
        en, _, zh = refused.partition(" / ")
        raise ApiError(422, {"en": en, "zh": zh or en})
    if len(queue.store.webhooks(scope.user.id)) >= MAX_HOOKS_PER_USER:
        raise ApiError(422, {"en": f"at most {MAX_HOOKS_PER_USER} webhooks per account",
                             "zh": f"每个账户最多 {MAX_HOOKS_PER_USER} 个网络钩子"})
    hook, secret = queue.store.add_webhook(scope.user.id, body.url)
    return answer(_hook_dict(hook) | {"secret": secret}, 201)


@router.get("/webhooks", summary="Your webhooks (never their secrets)")
def list_webhooks(scope: Scope, request: Request) -> Response:
    return answer({"items": [_hook_dict(h) for h in queue_of(request.app).store.webhooks(scope.user.id)]})


@router.get("/webhooks/{webhook_id}", summary="One webhook and its latest deliveries")
def get_webhook(scope: Scope, request: Request, webhook_id: Id) -> Response:
    store = queue_of(request.app).store
    hook = store.webhook(webhook_id, scope.user.id)
    if hook is None:
        raise _not_found(webhook_id)
    deliveries = [{"id": d.id, "match_id": d.match_id, "state": d.state, "attempts": d.attempts,
                   "last_status": d.last_status, "last_error": d.last_error, "next_at": d.next_at,
                   "delivered_at": d.delivered_at} for d in store.deliveries(hook.id)]
    return answer(_hook_dict(hook) | {"deliveries": deliveries})


@router.delete("/webhooks/{webhook_id}", status_code=204, summary="Remove a webhook (and its deliveries)")
def delete_webhook(scope: Scope, request: Request, webhook_id: Id) -> Response:
    store = queue_of(request.app).store
    if store.webhook(webhook_id, scope.user.id) is None:
        raise _not_found(webhook_id)
    store.remove_webhook(webhook_id)
    return Response(status_code=204)
