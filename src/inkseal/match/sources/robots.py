"""robots.txt, read one way by every crawler of ours (the monitor's and the training-data audit's).

What a robots.txt answer means (RFC 9309 §2.3.1, and Google's reading of 429):

    2xx with a rules file      its rules (urllib.robotparser), Crawl-delay rounded up to whole seconds
    2xx with an HTML page      no rules file: no rules (a "not found" page served with 200)
    4xx other than 429         "unavailable": no rules, anything may be fetched (401 and 403 included)
    5xx, 429, no answer        "unreachable": nothing may be fetched from that site this time

`RobotsRules.read` says whether the rules came from a file that was read: a site's opt-out is claimed only
from a file that says so, never from an error (an unreachable file stops our fetching, and is not the
site's opt-out). urllib.robotparser is used as is; only the status mapping and the delays are ours.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from urllib.robotparser import RobotFileParser


@dataclass
class RobotsRules:
    parser: RobotFileParser
    read: bool        # the rules come from a robots.txt that was read (2xx, not an HTML page)
    unreachable: bool  # 5xx, 429 or no answer: nothing may be fetched from the site this time
    reason: str = ""  # why there are no rules from a file ("HTTP 404", "unreachable: ..."), in English / 中文

    def can_fetch(self, agent: str, url: str) -> bool:
        return self.parser.can_fetch(agent, url)


def robots_rules(status: int | None, text: str | None, error: str = "") -> RobotsRules:
    """The rules for a robots.txt answer: `status` None (or 0) when there was no answer (`error` says why);
    `text` None when the body is not a rules file (an HTML page) or was not kept."""
    rp = RobotFileParser()
    if not status or status >= 500 or status == 429:
        rp.disallow_all = True
        why = f"HTTP {status}" if status else f"unreachable{': ' + error if error else ''}"
        return RobotsRules(rp, read=False, unreachable=True,
                           reason=f"robots.txt {why}: nothing fetched from the site / robots.txt 无法读取（{why}），"
                                  f"不从该站抓取")
    if status >= 400 or text is None:
        rp.allow_all = True
        why = f"HTTP {status}" if status >= 400 else "not a rules file"
        return RobotsRules(rp, read=False, unreachable=False,
                           reason=f"no robots.txt rules ({why}) / 没有 robots.txt 规则（{why}）")
    rp.parse(whole_delays(text.splitlines()))
    return RobotsRules(rp, read=True, unreachable=False)


def whole_delays(lines: list[str]) -> list[str]:
    """robotparser reads only whole-second Crawl-delays and drops "0.5": round those up (slower, never
    faster than the site asked)."""
    out = []
    for line in lines:
        key, _, value = line.partition(":")
        if key.strip().lower() == "crawl-delay":
            try:
                line = f"Crawl-delay: {math.ceil(float(value.split('#')[0].strip()))}"
            except ValueError:
                pass
        out.append(line)
    return out
