"""Bilingual messages (English / 中文). Keys are stable; the CLI and reports pick a language."""

from __future__ import annotations

MESSAGES: dict[str, tuple[str, str]] = {
    "registered": ("Registered work {work_id} '{title}' ({files} file(s))", "已登记作品 {work_id}「{title}」（{files} 个文件）"),
    "register_failed": ("Could not register {item}: {reason}", "无法登记 {item}：{reason}"),
    "scan_summary": (
        "Scanned {items} item(s): {matches} match(es), {failed} failed, {suppressed} whitelisted",
        "已扫描 {items} 项：{matches} 处匹配，{failed} 项失败，{suppressed} 项属授权使用",
    ),
    "item_failed": ("{item}: {reason}", "{item}：{reason}"),
    "no_browser": ("cannot scan with --browser: {reason}", "无法使用 --browser 扫描：{reason}"),
    "match_line": (
        "{suspect} copies work {work_id} '{title}' (score {score:.1f}; {meaning})",
        "{suspect} 复制了作品 {work_id}「{title}」（得分 {score:.1f}；{meaning}）",
    ),
    "derivative_line": (
        "{suspect} may be an edit of work {work_id} '{title}' (derivative: same composition, other pixels — "
        "img2img, inpaint, a same-seed re-render or a restyle; for you to judge, not a copy)",
        "{suspect} 可能是作品 {work_id}「{title}」的改编（衍生：构图相同、像素不同——图生图、局部重绘、同种子重绘或风格迁移；"
        "请您自行判断，并非复制）",
    ),
    "region_copy": (
        "a region pasted pixel for pixel; its false-match rate is not calibrated, so none is claimed",
        "逐像素粘贴的局部区域；该判定的误匹配率未经校准，故不给出",
    ),
    "indistinct": (
        "it agrees as well with work {others}: at this resolution they cannot be told apart, so which one was "
        "copied is not claimed",
        "它与作品 {others} 同样吻合：在此分辨率下无法区分，故不断言复制的是哪一件",
    ),
    "margin": (
        "{margin:+.1f} above the threshold",
        "高出阈值 {margin:+.1f}",
    ),
    "meaning": (
        "about one false match in {odds} suspects",
        "约每 {odds} 张可疑图片出现一次误匹配",
    ),
    "visible": ("{pct:.0f}% of the original is visible", "可见原图的 {pct:.0f}%"),
    "missing": ("missing: {regions}", "缺失：{regions}"),
    "signature_cut": ("the signature region was cut off ({pct:.0f}% gone)", "署名区域被裁掉（缺失 {pct:.0f}%）"),
    "signature_altered": ("the signature region is present but altered", "署名区域仍在但已被改动"),
    "signature_kept": ("the signature region is intact", "署名区域完整"),
    "flipped": ("mirrored", "镜像"),
    "no_works": ("No works registered yet.", "尚未登记任何作品。"),
    "removed": ("Removed work {work_id}.", "已删除作品 {work_id}。"),
    "index_rebuilt": ("Index rebuilt: {count} fingerprint(s).", "索引已重建：{count} 个指纹。"),
    "status_set": ("Match {match_id} marked {status}.", "匹配 {match_id} 已标记为 {status}。"),
    "some_failed": ("{n} item(s) failed; see the lines above.", "{n} 项失败，详见上文。"),
    "verify_signer": ("trusted key (fingerprint) {kid}; signer: {name}", "所信任的密钥（指纹）{kid}；签署人：{name}"),
    "verify_unpinned": (
        "NOTE: no key pinned - this shows only that the holder of key {kid} signed it, and anyone can make a key; "
        "compare the fingerprint with the author's, or pin it with --key FILE / --fingerprint HEX",
        "注意：未指定可信密钥——这只说明持有密钥 {kid} 的人签署了它，而任何人都能生成密钥；"
        "请与作者公布的指纹核对，或用 --key 文件 / --fingerprint 指纹 指定",
    ),
}

REGION_NAMES: dict[str, tuple[str, str]] = {
    "top-left": ("top-left corner", "左上角"),
    "top-right": ("top-right corner", "右上角"),
    "bottom-left": ("bottom-left corner", "左下角"),
    "bottom-right": ("bottom-right corner", "右下角"),
    "top": ("top edge", "上边"),
    "bottom": ("bottom edge", "下边"),
    "left": ("left edge", "左边"),
    "right": ("right edge", "右边"),
    "center": ("centre", "中部"),
}


def t(key: str, lang: str = "en", **kw: object) -> str:
    en, zh = MESSAGES[key]
    return (zh if lang == "zh" else en).format(**kw)


def region_name(key: str, lang: str = "en") -> str:
    en, zh = REGION_NAMES.get(key, (key, key))
    return zh if lang == "zh" else en


def describe_localisation(loc: dict, lang: str) -> list[str]:
    """What a copy shows of the original, as sentences: visible share, cut sides, covered zones, signature."""
    if not loc:
        return []
    lines = [t("visible", lang, pct=100 * loc.get("visible_fraction", 0))]
    sides = loc.get("cut_sides") or {}
    if sides:
        cut = ", ".join(f"{region_name(s, lang)} {100 * v:.0f}%" for s, v in sides.items())
        lines.append(("被裁掉：" if lang == "zh" else "cut away: ") + cut)
    zones = [z for z, v in (loc.get("missing_zones") or {}).items() if v.get("covered", 0) >= 0.5]
    if zones:
        lines.append(("被遮盖或改动：" if lang == "zh" else "covered or altered: ")
                     + ", ".join(region_name(z, lang) for z in zones))
    sig = (loc.get("regions") or {}).get("signature")
    if sig:
        key = {"cut": "signature_cut", "altered": "signature_altered", "intact": "signature_kept"}[sig["status"]]
        lines.append(t(key, lang, pct=100 * (1 - sig["present"])))
    return lines


def odds_text(score: float, lang: str = "en") -> str:
    """A match score as odds of a false match, in the reader's language ('1.2 million' / '120 万');
    use as t("meaning", lang, odds=odds_text(score, lang))."""
    from inkseal.match.calibration import SCORE_CAP, odds

    if lang != "zh":
        return odds(score)
    if score >= SCORE_CAP:
        return f"10^{SCORE_CAP:.0f} 多"
    n = 10 ** max(0.0, score)
    for unit, div in (("万亿", 1e12), ("亿", 1e8), ("万", 1e4)):
        if n >= div:
            return f"{n / div:.1f} {unit}" if n / div < 1000 else f"{n / div:.0f} {unit}"
    return f"{n:.0f}"
