"""Digests of a monitor run's new finds: one per run (never one message per picture), in Chinese and
English, listing work, page, picture and tier; sent to every notifier (`inkseal monitor notify add`).

webhook  POST of the digest as JSON, signed as the desk's webhooks are (inkseal.web.webhooks.sign):
             X-Inkseal-Timestamp: unix seconds   X-Inkseal-Signature: sha256=HMAC-SHA256(secret, "ts." + body)
             X-Inkseal-Event: monitor.digest
         retried on 5xx, 408, 429, timeouts and connection failures, `webhook_backoff_s` x 2^n apart, at most
         `webhook_attempts` times; the connection goes to exactly the address that was checked (netpolicy).
email    one message through the SMTP server of the monitor settings (smtplib; STARTTLS / login if set).
"""

from __future__ import annotations

import json
import smtplib
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlsplit

import httpx

from inkseal.match.sources.netpolicy import Deadline, NetPolicy, PinnedBackend, PinnedTransport
from inkseal.monitor.settings import MonitorSettings
from inkseal.registry.models import Match
from inkseal.registry.monitors import MonitorNotifier
from inkseal.errors import one_line

RETRY_STATUSES = frozenset({408, 429})


@dataclass
class Sent:
    notifier_id: int
    kind: str
    ok: bool
    detail: str  # one line: "delivered (HTTP 200)", "failed after 5 attempts: HTTP 500", ...


def digest(monitor_id: int, monitor_url: str, run_id: int, matches: list[Match]) -> dict[str, Any]:
    items = [{"case_id": m.case_id, "match_id": m.id, "work_id": m.work_id,
              "work_title": m.work.title if m.work is not None else "",
              "page_url": m.suspect.page_url, "picture_url": m.suspect.source,
              "tier": (m.scores or {}).get("tier") or "copy", "score": round(float(m.score), 2)}
             for m in matches]
    return {"event": "monitor.digest", "monitor": {"id": monitor_id, "url": monitor_url}, "run_id": run_id,
            "new_matches": len(items), "matches": items}


def digest_text(d: dict[str, Any]) -> tuple[str, str]:
    """(subject, body) in Chinese then English."""
    n, url = d["new_matches"], d["monitor"]["url"]
    subject = f"inkseal：监控发现 {n} 处新的疑似复制 / monitor found {n} new match(es) — {url}"[:200]
    tier_zh = {"copy": "复制", "derivative": "衍生（请自行判断）"}
    lines = [f"监控 {d['monitor']['id']}（{url}）第 {d['run_id']} 次运行发现 {n} 处新的疑似复制：", ""]
    for m in d["matches"]:
        lines += [f"- 作品 {m['work_id']}「{m['work_title']}」 {tier_zh.get(m['tier'], m['tier'])}（得分 {m['score']}，"
                  f"案件 {m['case_id']}）", f"  网页：{m['page_url']}", f"  图片：{m['picture_url']}"]
    lines += ["", f"Monitor {d['monitor']['id']} ({url}), run {d['run_id']}: {n} new match(es):", ""]
    for m in d["matches"]:
        lines += [f"- work {m['work_id']} '{m['work_title']}': {m['tier']} (score {m['score']}, case {m['case_id']})",
                  f"  page: {m['page_url']}", f"  picture: {m['picture_url']}"]
    lines += ["", "inkseal cases / inkseal case ID — 查看与处理 / to review"]
    return subject, "\n".join(lines) + "\n"


def send_webhook(n: MonitorNotifier, body: bytes, settings: MonitorSettings) -> Sent:
    from inkseal.web.webhooks import check_target, sign  # the desk's signing helper (one scheme for both)

    # The person at the CLI set this target on their own machine: private addresses are theirs to use,
    # cloud metadata never is (check_target refuses it whatever allow_private says).
    policy = NetPolicy(allow_private=True)
    reason = check_target(n.target, True, policy)
    if reason:
        return Sent(n.id, "webhook", False, reason)
    deadline = Deadline()
    client = httpx.Client(transport=PinnedTransport(PinnedBackend(policy, deadline)),
                          timeout=httpx.Timeout(settings.timeout_s), follow_redirects=False)
    last = ""
    try:
        for attempt in range(max(1, settings.webhook_attempts)):
            if attempt:
                time.sleep(settings.webhook_backoff_s * 2 ** (attempt - 1))
            ts = int(time.time())
            headers = {"Content-Type": "application/json", "User-Agent": settings.user_agent,
                       "X-Inkseal-Timestamp": str(ts), "X-Inkseal-Signature": sign(n.secret or "", ts, body),
                       "X-Inkseal-Event": "monitor.digest"}
            deadline.start(settings.deadline_s)
            try:
                status = client.post(n.target, content=body, headers=headers).status_code
            except httpx.HTTPError as exc:
                last = f"{one_line(exc, with_type=True)}"
                continue
            finally:
                deadline.stop()
            if 200 <= status < 300:
                return Sent(n.id, "webhook", True, f"delivered (HTTP {status}, attempt {attempt + 1})")
            last = f"HTTP {status}"
            if status < 500 and status not in RETRY_STATUSES:
                break
        return Sent(n.id, "webhook", False, f"webhook {_host(n.target)} failed after {attempt + 1} attempt(s): "
                                            f"{last} / 网络钩子发送失败")
    finally:
        client.close()


def send_email(n: MonitorNotifier, subject: str, text: str, settings: MonitorSettings) -> Sent:
    msg = EmailMessage()
    msg["Subject"], msg["From"], msg["To"] = subject, settings.mail_from, n.target
    msg.set_content(text)
    try:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=settings.timeout_s) as smtp:
            if settings.smtp_starttls:
                smtp.starttls()
            if settings.smtp_user:
                smtp.login(settings.smtp_user, settings.smtp_password)
            smtp.send_message(msg)
    except (OSError, smtplib.SMTPException) as exc:
        return Sent(n.id, "email", False, f"e-mail to {n.target} not sent: {type(exc).__name__}: "
                                          f"{one_line(exc)} / 邮件未发出")
    return Sent(n.id, "email", True, f"sent to {n.target}")


def notify(notifiers: list[MonitorNotifier], d: dict[str, Any], settings: MonitorSettings,
           on_sent: Callable[[Sent], None] | None = None) -> list[Sent]:
    """The digest to each notifier in turn; `on_sent` hears each outcome as soon as it is known."""
    if not d["matches"]:
        return []
    body = json.dumps(d, ensure_ascii=False, separators=(",", ":"), default=str).encode()
    subject, text = digest_text(d)
    out = []
    for n in notifiers:
        one = send_webhook(n, body, settings) if n.kind == "webhook" else send_email(n, subject, text, settings)
        out.append(one)
        if on_sent is not None:
            on_sent(one)
    return out


def _host(url: str) -> str:
    return urlsplit(url).hostname or url[:60]
