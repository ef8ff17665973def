"""The pack's facts (Li v. Liu checklist, ../shared/CASE.md), each with its proof level and reason.

Everything here is judged against the version of the work the copy derives from (the file the match was
verified against): its signature, AI label and watermark, never another version's.
"""

from __future__ import annotations

from typing import Any

from inkseal.evidence.capture import CAPTURE_FILES
from inkseal.evidence.facts import WATERMARK_MAX_FPP, fact

SIG_STATUS = {"intact": ("intact", "完整"), "cut": ("cut off", "被裁掉"), "altered": ("altered", "被改动")}
C2PA_ZH = {"Trusted": "可信", "Valid": "有效", "Invalid": "无效"}
TIER = {"copy": ("a copy", "复制"), "derivative": ("a derivative (adapted) copy", "衍生（改编）复制")}


STRIPPED_ZH = {"label_missing": "无隐式标识", "label_removed": "隐式标识被删除", "label_invalid": "隐式标识格式错误",
               "label_signature_bad": "隐式标识签名与像素不符", "c2pa_missing_but_watermark": "C2PA 凭证被删除",
               "c2pa_invalid": "C2PA 凭证无效", "signature_cut": "署名被裁掉", "signature_altered": "署名被改动",
               "ai_label_cut": "显式 AI 标识被裁掉或遮盖"}
STRIPPED_EN = {"label_removed": "implicit label removed", "c2pa_missing_but_watermark": "C2PA credentials removed",
               "ai_label_cut": "visible AI label cut or covered", "label_signature_bad": "implicit label does not fit the pixels"}


def stripped_findings(inspection: dict, version: Any, loc: dict) -> list[str]:
    """What was stripped, judged against THIS version: only what the version carried can have been removed."""
    regions = version.regions or {}
    sealed = bool(regions.get("watermark"))
    codes = [f["code"] for f in inspection["findings"]]
    out = [c for c in codes if c in ("label_removed", "c2pa_missing_but_watermark", "label_signature_bad") and sealed]
    label = (loc.get("regions") or {}).get("ai_label")
    if regions.get("ai_label") and label and label.get("status") in ("cut", "altered"):
        out.append("ai_label_cut")
    return out


def _p(en: str, zh: str) -> tuple[str, str]:
    return en, zh


def build_facts(*, m: Any, work: Any, version: Any, version_public: bool, source: dict, capture: dict,
                files: dict, journal: dict, latest: Any, kid: str, c2pa: dict | None, wm: dict | None,
                key_in_pack: bool, sig: dict | None, loc: dict, inspection: dict, scale: dict, platform: bool,
                public_url: bool, blind: dict | None = None) -> list[dict]:
    n = journal["entries"]
    held_back = _p("the signed journal is held back from a platform pack (private); it is in the full pack",
                   "面向平台的证据包不含创作日志（私密内容），完整证据包中有")
    facts = []
    # -- the work exists and is original; the claimant made it -------------------------------------------------
    if platform:
        facts.append(fact("work_exists_and_original", "supported", held_back, [], [],
                          f"{n} journal entries for the work (not in this pack)", f"作品共 {n} 条创作日志记录（未附于本包）"))
        facts.append(fact("claimant_made_it", "supported", held_back, ["public_key"], ["manifest_signature"],
                          f"the pack is signed with key {kid[:16]}…", f"本证据包由密钥 {kid[:16]}… 签署"))
    elif n == 0:
        no = _p("the journal has no entries for this work", "创作日志中没有该作品的记录")
        facts.append(fact("work_exists_and_original", "missing", no, [], [], "0 journal entries", "0 条创作日志记录"))
        facts.append(fact("claimant_made_it", "missing", no, ["public_key"], [], f"key {kid[:16]}…",
                          f"密钥 {kid[:16]}…"))
    else:
        ok = journal["ok"]
        lvl = "verifiable" if ok else "supported"
        facts.append(fact(
            "work_exists_and_original", lvl,
            _p("signed journal entries of the work's making, each proven included in a signed checkpoint; "
               "whether the work is original is for the court to assess",
               "作品创作过程的已签名日志记录，每条均可证明包含于已签名的检查点中；是否具有独创性由法院认定")
            if ok else _p("the journal entries could not be proven included", "日志记录无法证明已被检查点覆盖"),
            ["journal", "statement_zh_pdf", "statement_en_pdf", "figure_timeline"], ["journal"],
            f"{journal['included']} journal entries of the work (other works' entries are not included)",
            f"该作品的 {journal['included']} 条创作日志记录（不含其他作品的记录）"))
        facts.append(fact(
            "claimant_made_it", lvl,
            _p(f"every entry is signed with key {kid[:16]}…; compare this fingerprint with the one the author "
               "publishes", f"每条记录均由密钥 {kid[:16]}… 签名；请与作者公布的密钥指纹核对"),
            ["journal", "public_key"], ["journal", "manifest_signature"],
            f"key {kid[:16]}…, checkpoint of {journal['signed_size']} entries",
            f"密钥 {kid[:16]}…，检查点覆盖 {journal['signed_size']} 条记录"))
    # -- when ------------------------------------------------------------------------------------------------
    registered = work.registered_at.isoformat()
    if latest is not None and latest.timestamp_token:
        facts.append(fact("when", "verifiable", _p("the signed checkpoint carries an RFC 3161 trusted timestamp",
                                                   "已签名检查点带有 RFC 3161 可信时间戳"),
                          ["journal"], ["journal"], f"signed checkpoint {latest.signed_at}, timestamped; "
                          f"registered {registered}", f"签名检查点 {latest.signed_at}，带可信时间戳；登记于 {registered}"))
    elif latest is not None:
        facts.append(fact("when", "supported",
                          _p("the times are the journal's own, with no trusted timestamp (use `journal checkpoint "
                             "--tsa URL`)", "时间由本方日志自行记录，没有可信时间戳（可用 journal checkpoint --tsa 加盖）"),
                          ["journal"], ["journal"], f"signed checkpoint {latest.signed_at}; registered {registered}",
                          f"签名检查点 {latest.signed_at}；登记于 {registered}"))
    else:
        facts.append(fact("when", "supported", _p("the registration time is our own record", "登记时间为本方记录"),
                          [], [], f"registered {registered}", f"登记于 {registered}"))
    # -- published with a signature (this version) -------------------------------------------------------------
    box = (version.regions or {}).get("signature")
    if not box:
        facts.append(fact("published_with_signature", "not_applicable",
                          _p("the version the copy derives from was not published with a visible signature",
                             "被复制的作品版本发布时没有可见署名"), [], [],
                          f"version: {version.role} {version.format} {version.width}×{version.height}",
                          f"版本：{'已发布' if version_public else '原图'} {version.format} {version.width}×{version.height}"))
    else:
        trusted = bool(c2pa and c2pa.get("state") in ("Trusted", "Valid"))
        facts.append(fact(
            "published_with_signature", "verifiable" if trusted else "supported",
            _p("the published file is in the pack with its C2PA manifest, signed over its bytes",
               "已发布文件附于本包，其 C2PA 凭证对文件内容签名") if trusted else
            _p("our record of where the signature is; no valid C2PA manifest on the published file",
               "署名位置为本方记录；已发布文件没有有效的 C2PA 凭证"),
            ["published", "c2pa_anchor", "figure_signature"], ["c2pa"] if trusted else [],
            f"{version.format} {version.width}×{version.height}, C2PA {c2pa['state'] if c2pa else 'absent'}",
            f"{version.format} {version.width}×{version.height}，C2PA "
            f"{C2PA_ZH.get(c2pa['state'], c2pa['state']) if c2pa else '无'}"))
    # -- the suspect use -------------------------------------------------------------------------------------
    where = source["page_url"] or source["source"]
    notes = "".join(f"; {x}" for x in capture["notes"])
    notes_zh = "".join(f"；{x}" for x in capture["notes_zh"])
    cap_files = ["suspect", "suspect_source"] + [k for k in CAPTURE_FILES if k in files]
    if source["kind"] == "file" or "://" not in (source["source"] or "") and not source["page_url"]:
        facts.append(fact("suspect_use", "missing",
                          _p("a file on this computer is not a use by a third party: scan the page where it appears",
                             "本机上的文件不是第三方的使用：请扫描其出现的网页"), cap_files, [],
                          f"{source['source']}, SHA-256 {source['sha256'][:16]}…",
                          f"{source['source'].replace('local file ', '本地文件 ')}，SHA-256 {source['sha256'][:16]}…"))
    elif public_url and capture["checks"]:
        facts.append(fact("suspect_use", "verifiable",
                          _p("a capture of the public address (screenshot / WARC record) with its time, re-checked "
                             "against the suspect", "公开网址的采集记录（截图 / WARC 记录）及其时间，已与被控图片核对"),
                          cap_files, ["files", *capture["checks"]],
                          f"{where}, SHA-256 {source['sha256'][:16]}…{notes}", f"{where}，SHA-256 {source['sha256'][:16]}…{notes_zh}"))
    else:
        why = (_p("the address is not public (this computer or a private network)", "该网址不是公开网址（本机或内网）")
               if not public_url else _p("no page capture that can be re-checked; the address and time are our record",
                                         "没有可复核的页面采集；网址与时间为本方记录"))
        facts.append(fact("suspect_use", "supported", why, cap_files, ["files", *capture["checks"]],
                          f"{where}, SHA-256 {source['sha256'][:16]}…{notes}", f"{where}，SHA-256 {source['sha256'][:16]}…{notes_zh}"))
    # -- same image ----------------------------------------------------------------------------------------
    tier = m.scores.get("tier") or "copy"
    t_en, t_zh = TIER.get(tier, TIER["copy"])
    base_en, base_zh = f"{t_en} of the work, match score {m.score:.1f}", f"系作品的{t_zh}，匹配得分 {m.score:.1f}"
    if m.scores.get("indistinct_from"):  # said, but not which other work: that would disclose beyond the case
        base_en += ("; it agrees as well with another registered picture, so it is not claimed that this one, "
                    "rather than that one, was copied")
        base_zh += "；它与另一件已登记图片同样吻合，故不断言复制的是本件而非那一件"
    detected = bool(wm and wm.get("detected") and wm.get("false_positive_probability", 1) <= WATERMARK_MAX_FPP)
    sim_files = ["figure_side_by_side", "figure_overlay"]
    blind_ok = bool(blind and blind.get("detected") and "published" in files and c2pa
                    and c2pa.get("state") in ("Trusted", "Valid"))
    blind_en = blind_zh = ""
    if blind_ok:
        p = blind["coincidence_probability"]
        blind_en = f"; blind mark {blind['value']} read from the copy with no key (chance of a coincidence {p:.0e})"
        blind_zh = f"；无需密钥从副本读出盲水印 {blind['value']}（偶然吻合概率 {p:.0e}）"
    if detected:
        wm_en = f"; watermark read ({wm['agreement']} bits agree, false-positive probability {wm['false_positive_probability']:.1e})"
        wm_zh = f"；读出水印（{wm['agreement']} 位一致，误报概率 {wm['false_positive_probability']:.1e}）"
    else:
        wm_en = (f"; watermark not detected ({wm['agreement']} bits agree, below the threshold): not relied on"
                 if wm else "")
        wm_zh = f"；未检出水印（{wm['agreement']} 位一致，低于阈值），不作依据" if wm else ""
    if detected and key_in_pack:
        level, why, files_, checks = "verifiable", _p("the watermark re-reads from the pack's own files",
                                                      "可用本包内的文件重新读出水印"), \
            [*sim_files, "watermark_reference", "watermark_key"], ["watermark"]
    elif blind_ok:
        # No key, no original: the copy carries the exact 64-bit message that the published version's signed
        # C2PA manifest names as its soft binding. Anyone re-reads both (public algorithm; `inkseal binding read`).
        level, why, files_, checks = "verifiable", _p(
            "the copy carries the blind mark named in the published version's signed C2PA manifest; "
            "anyone can re-read both, without a key",
            "副本带有已发布版本签名 C2PA 凭证中登记的盲水印消息；任何人无需密钥即可重新读取两者核对"), \
            [*sim_files, "suspect", "published"], ["blind_mark", "c2pa"]
    elif detected:
        level, why, files_, checks = "supported", _p(
            "the watermark can be re-read only by the key holder: build the pack with "
            "--include-watermark-key to let others re-check it",
            "水印只能由密钥持有人重新读取；如需他人复核，请用 --include-watermark-key 生成证据包"), sim_files, []
    else:
        level, why, files_, checks = "supported", _p(
            "visual comparison by inkseal; the figures let anyone compare the two images",
            "由 inkseal 进行的图像比对；附图可供任何人比较两张图片"), sim_files, []
    facts.append(fact("same_image", level, why, files_, checks, base_en + wm_en + blind_en, base_zh + wm_zh + blind_zh))
    # -- signature removed / rights information stripped (this version) ---------------------------------------
    stripped = stripped_findings(inspection, version, loc)
    sig_status = sig.get("status") if sig else None
    stripped_en = ", ".join(STRIPPED_EN.get(c, c) for c in stripped) or "none"
    stripped_zh = "、".join(STRIPPED_ZH.get(c, c) for c in stripped) or "无"
    if not box and not stripped and not (version.regions or {}).get("watermark"):
        f = fact("signature_removed", "not_applicable",
                 _p("the version the copy derives from carried no signature, label or watermark",
                    "被复制的作品版本没有署名、标识或水印"), [], [], "nothing to remove", "无可去除的信息")
    elif sig_status in ("cut", "altered") or stripped:
        pub = next(x for x in facts if x["fact"] == "published_with_signature")
        third_party = next(x for x in facts if x["fact"] == "suspect_use")["level"] != "missing"
        lvl = ("verifiable" if third_party and pub["level"] == "verifiable" and sig_status in ("cut", "altered")
               else "supported")
        f = fact("signature_removed", lvl,
                 _p("the signed published version shows the signature; the captured copy lacks it (compare the figures)",
                    "已签名的发布版本带有署名，采集到的副本中没有（见比对图）") if lvl == "verifiable" else
                 _p("the copy is a file on this computer: it lacks the signature, but nothing shows who removed it",
                    "副本是本机上的文件：其中没有署名，但无法表明是谁去除的") if not third_party else
                 _p("found by inkseal's comparison with the version", "由 inkseal 与该版本比对得出"),
                 ["figure_side_by_side", "figure_signature", "published"], ["c2pa"] if lvl == "verifiable" else [],
                 f"signature region {SIG_STATUS.get(sig_status, ('not measured', ''))[0] if box else 'absent'}; "
                 f"stripped: {stripped_en}",
                 f"署名区域{SIG_STATUS.get(sig_status, ('', '未测得'))[1] if box else '不存在'}；被删除的信息：{stripped_zh}")
    else:
        f = fact("signature_removed", "missing",
                 _p("the copy keeps the signature region and nothing was stripped" if sig_status == "intact" else
                    "the signature region could not be measured in the copy",
                    "副本保留了署名区域，也没有信息被删除" if sig_status == "intact" else "无法在副本中测得署名区域"),
                 ["figure_side_by_side", "figure_signature"], [],
                 f"signature region {SIG_STATUS.get(sig_status, ('not measured', ''))[0]}",
                 f"署名区域{SIG_STATUS.get(sig_status, ('', '未测得'))[1]}")
    f["stripped"] = stripped
    facts.append(f)
    # -- scale of use ------------------------------------------------------------------------------------------
    others = [p for p in scale["places"] if not p["this"]]
    ex = scale["excluded"]
    listed = "; ".join(p["page_url"] or p["image_url"] or "?" for p in others)
    if others:
        facts.append(fact("scale_of_use", "supported",
                          _p("our scan records of the other places (their captures are not in this pack)",
                             "其他位置为本方扫描记录（其采集文件不在本包中）"), [], [],
                          f"{len(scale['places'])} distinct places of this work on {scale['site']}: {listed} "
                          f"(not counted: {ex['duplicates']} duplicate record(s), {ex['decided']} ignored or licensed)",
                          f"该作品在 {scale['site']} 上共 {len(scale['places'])} 处不同位置：{listed}"
                          f"（未计入：重复记录 {ex['duplicates']} 条，已忽略或已授权 {ex['decided']} 处）"))
    else:
        facts.append(fact("scale_of_use", "not_applicable",
                          _p("no other place of this work was found on this site", "该网站上未发现该作品的其他使用位置"),
                          [], [], f"1 place on {scale['site'] or 'this source'}",
                          f"在 {scale['site'] or '该来源'} 上共 1 处"))
    return facts
