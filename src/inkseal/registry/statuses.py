"""A case's workflow: the statuses, which change may follow which, and their names in en and zh.

    new ──> confirmed ──> notice_sent ──> removed / still_online ──> settled ──> closed
     └──> ignored, whitelisted (decided: later scans never turn them back into `new`)

`still_online` and `removed` are the results of re-checks of the place, each recorded with its time.
"""

from __future__ import annotations

CASE_STATUSES = ("new", "confirmed", "notice_sent", "removed", "still_online", "settled", "closed", "ignored",
                 "whitelisted")
CHECK_RESULTS = ("still_online", "removed")
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "new": ("confirmed", "ignored", "whitelisted"),
    "confirmed": ("notice_sent", "removed", "still_online", "settled", "closed", "ignored", "whitelisted"),
    "notice_sent": ("removed", "still_online", "settled", "closed", "whitelisted"),
    "still_online": ("notice_sent", "removed", "still_online", "settled", "closed", "whitelisted"),
    "removed": ("still_online", "removed", "settled", "closed"),
    "settled": ("closed",),
    "closed": ("confirmed",),  # reopened
    "ignored": ("new", "confirmed"),  # reconsidered
    "whitelisted": (),  # an authorised use stays decided; its allowance keeps later scans quiet
}
STATUS_NAMES = {
    "en": {"new": "new", "confirmed": "confirmed", "notice_sent": "notice sent", "removed": "removed",
           "still_online": "still online", "settled": "settled", "closed": "closed", "ignored": "ignored",
           "whitelisted": "authorised use"},
    "zh": {"new": "新发现", "confirmed": "已确认", "notice_sent": "已发通知", "removed": "已删除",
           "still_online": "仍在线", "settled": "已和解", "closed": "已结案", "ignored": "已忽略",
           "whitelisted": "授权使用"},
}


def status_name(status: str, lang: str = "en") -> str:
    return STATUS_NAMES.get(lang, STATUS_NAMES["en"]).get(status, status)


def refusal(case_id: int, current: str, wanted: str) -> str | None:
    """None when `current` may become `wanted`; else the one-line reason, in English and Chinese."""
    if wanted not in CASE_STATUSES:
        return (f"unknown status {wanted!r}: use one of {', '.join(CASE_STATUSES)} / "
                f"未知状态 {wanted!r}")
    allowed = TRANSITIONS.get(current, ())
    if wanted in allowed:
        return None
    en_next = ", ".join(allowed) or "nothing (decided)"
    zh_next = "、".join(status_name(a, "zh") for a in allowed) or "无（已决定）"
    return (f"case {case_id} is {current}: it cannot become {wanted} (next: {en_next}) / "
            f"案件 {case_id} 当前为「{status_name(current, 'zh')}」，不能改为「{status_name(wanted, 'zh')}」"
            f"（可改为：{zh_next}）")
