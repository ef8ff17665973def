"""Damages estimate following PRC Copyright Law Art. 54, in its order. An estimate, not legal advice.

    1. the right holder's actual loss, else the infringer's illegal gains (figures the creator supplies);
    2. where those are hard to calculate: a reasonable licence fee (the creator's own price list) as reference;
    3. wilful and serious infringement: 1-5 times the amount found in 1 or 2 (reasons listed);
    4. where none can be calculated: statutory damages of 500-5,000,000 yuan, set by the circumstances,
       with reference figures from Beijing Internet Court image cases;
    + the reasonable costs of stopping the infringement.
"""

from __future__ import annotations

from dataclasses import dataclass, field

STATUTORY_MIN, STATUTORY_MAX = 500, 5_000_000
REFERENCE = {
    "source": "Beijing Internet Court, image copyright cases (2020 report), as summarised in ../shared/CASE.md",
    "fine_art_per_picture": {"min": 440, "median": 800, "max": 25_000},
    "photo_per_picture": {"min": 300, "median": 800, "max": 4_000},
    "li_v_liu": {"awarded": 500, "claimed": 5_000, "case": "(2023)京0491民初11279号"},
}


@dataclass
class DamagesInput:
    actual_loss: float | None = None
    illegal_gains: float | None = None
    licence_fee: float | None = None  # per picture per use, from the creator's price list
    uses: int = 1  # infringing uses found (pictures x places)
    costs: float = 0.0  # reasonable costs of stopping the infringement (notarisation, lawyer, ...)
    wilful_reasons: list[str] = field(default_factory=list)


def yuan(amount: float, lang: str = "en") -> str:
    """An amount as currency: ¥1,234.00 (zh) / CNY 1,234.00 (en)."""
    return f"¥{amount:,.2f}" if lang == "zh" else f"CNY {amount:,.2f}"


def estimate(d: DamagesInput) -> dict:
    """The Art. 54 steps, and a table whose rows add up to the suggested total (base, punitive part or
    circumstances add-on, adjustment to the statutory range, costs)."""
    uses = max(1, d.uses)
    n_reasons = len(d.wilful_reasons)
    steps, rows = [], []

    def step(no: object, en: str, zh: str, **kw: object) -> None:
        steps.append({"step": no, "basis": en, "basis_zh": zh, **kw})

    def row(en: str, zh: str, amount: float) -> None:
        rows.append({"label": en, "label_zh": zh, "amount": round(amount, 2)})

    base, method = None, None
    if d.actual_loss is not None:
        base, method = float(d.actual_loss), "actual_loss"
        step(1, "actual loss supplied by the right holder", "权利人提供的实际损失", amount=base)
    elif d.illegal_gains is not None:
        base, method = float(d.illegal_gains), "illegal_gains"
        step(1, "infringer's illegal gains supplied by the right holder", "权利人提供的侵权人违法所得", amount=base)
    else:
        step(1, "no figures for actual loss or illegal gains: skipped", "没有实际损失或违法所得的数据：跳过")
        if d.licence_fee is not None:
            base, method = float(d.licence_fee) * uses, "licence_fee"
            step(2, f"reasonable licence fee {yuan(d.licence_fee)} x {uses} use(s)",
                 f"合理许可使用费 {yuan(d.licence_fee, 'zh')} × {uses} 处使用", amount=base)
        else:
            step(2, "no licence price list: skipped", "没有许可使用价格：跳过")
    serious = n_reasons >= 2 or (n_reasons >= 1 and d.uses > 1)
    if base is not None:
        basis_en = {"actual_loss": "actual loss", "illegal_gains": "illegal gains", "licence_fee": "licence fees"}[method]
        basis_zh = {"actual_loss": "实际损失", "illegal_gains": "违法所得", "licence_fee": "许可使用费"}[method]
        row(f"basis: {basis_en}", f"计算基数：{basis_zh}", base)
        if d.wilful_reasons and serious:
            k = min(5, 1 + n_reasons)
            low, high, suggested = base, base * 5, base * k
            step(3, f"wilful and serious: 1-5 times (Art. 54 para. 1); suggested multiple {k} = 1 + one per "
                 f"reason of wilfulness ({n_reasons}), at most 5",
                 f"故意侵权且情节严重：一倍以上五倍以下（第五十四条第一款）；建议倍数 {k} = 1 + 每项故意情节加 1"
                 f"（共 {n_reasons} 项），最多 5 倍", reasons=d.wilful_reasons, range=[low, high], amount=suggested)
            row(f"punitive part: base x {k - 1} (multiple {k})", f"惩罚性部分：基数 × {k - 1}（总倍数 {k}）",
                suggested - base)
        else:
            low = high = suggested = base
            step(3, "punitive multiple not applicable" + (" (wilful, but not shown to be serious)" if d.wilful_reasons else ""),
                 "不适用惩罚性倍数" + ("（有故意情节，但未显示情节严重）" if d.wilful_reasons else ""))
    else:
        method = "statutory"
        ref = REFERENCE["fine_art_per_picture"]
        low = max(STATUTORY_MIN, ref["min"] * uses)
        base = ref["median"] * uses
        raw = base * (1 + 0.5 * n_reasons)
        high = min(STATUTORY_MAX, max(raw, ref["max"] * uses))
        suggested = min(max(raw, STATUTORY_MIN), STATUTORY_MAX)
        step(4, f"statutory damages 500-5,000,000 yuan, set by the circumstances; reference: fine-art image cases, "
             f"median 800 yuan per picture x {uses} use(s), plus half of that for each reason of wilfulness ({n_reasons})",
             f"法定赔偿 500 元至 500 万元，由法院根据情节确定；参考：美术作品图片案件每张中位数 800 元 × {uses} 处使用，"
             f"每项故意情节另加一半（共 {n_reasons} 项）", reasons=d.wilful_reasons, range=[low, high], amount=suggested,
             reference=REFERENCE)
        row(f"reference: {yuan(ref['median'])} x {uses} use(s)", f"参考额：{yuan(ref['median'], 'zh')} × {uses} 处使用", base)
        if raw != base:
            row(f"circumstances: + 50% x {n_reasons} reason(s) of wilfulness",
                f"情节加重：每项故意情节 + 50%，共 {n_reasons} 项", raw - base)
        if suggested != raw:
            row("brought within the statutory range (500-5,000,000)", "调整至法定范围（500 元至 500 万元）", suggested - raw)
    total = round(suggested + d.costs, 2)
    step("+", "reasonable costs of stopping the infringement", "制止侵权的合理开支", amount=d.costs)
    row("reasonable costs of stopping the infringement", "制止侵权的合理开支", d.costs)
    assert abs(sum(r["amount"] for r in rows) - total) < 0.01  # the table adds up, by construction
    return {"method": method, "range": [low + d.costs, high + d.costs], "suggested": total,
            "currency": "CNY", "steps": steps, "table": rows, "inputs": d.__dict__,
            "disclaimer": {"en": "An estimate to support negotiation, not legal advice; a court sets damages.",
                           "zh": "本估算仅供协商参考，不构成法律意见；赔偿数额由法院认定。"}}
