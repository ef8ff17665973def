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


def estimate(d: DamagesInput) -> dict:
    steps = []
    base, method = None, None
    if d.actual_loss is not None:
        base, method = float(d.actual_loss), "actual_loss"
        steps.append({"step": 1, "basis": "actual loss supplied by the right holder", "amount": base})
    elif d.illegal_gains is not None:
        base, method = float(d.illegal_gains), "illegal_gains"
        steps.append({"step": 1, "basis": "infringer's illegal gains supplied by the right holder", "amount": base})
    else:
        steps.append({"step": 1, "basis": "no figures for actual loss or illegal gains: skipped"})
        if d.licence_fee is not None:
            base, method = float(d.licence_fee) * max(1, d.uses), "licence_fee"
            steps.append({"step": 2, "basis": f"reasonable licence fee {d.licence_fee:g} x {max(1, d.uses)} use(s)",
                          "amount": base})
        else:
            steps.append({"step": 2, "basis": "no licence price list: skipped"})
    serious = len(d.wilful_reasons) >= 2 or (len(d.wilful_reasons) >= 1 and d.uses > 1)
    if base is not None:
        if d.wilful_reasons and serious:
            low, high = base, base * 5
            suggested = base * min(5, 1 + len(d.wilful_reasons))
            steps.append({"step": 3, "basis": "wilful and serious: 1-5 times (Art. 54 para. 1)",
                          "reasons": d.wilful_reasons, "range": [low, high], "amount": suggested})
        else:
            low = high = suggested = base
            steps.append({"step": 3, "basis": "punitive multiple not applicable" +
                          (" (wilful, but not shown to be serious)" if d.wilful_reasons else "")})
    else:
        method = "statutory"
        ref = REFERENCE["fine_art_per_picture"]
        low = max(STATUTORY_MIN, ref["min"] * max(1, d.uses))
        suggested = ref["median"] * max(1, d.uses) * (1 + 0.5 * len(d.wilful_reasons))
        high = min(STATUTORY_MAX, max(suggested, ref["max"] * max(1, d.uses)))
        suggested = min(max(suggested, STATUTORY_MIN), STATUTORY_MAX)
        steps.append({"step": 4, "basis": "statutory damages 500-5,000,000 yuan, set by the circumstances; reference: "
                      "fine-art image cases median 800 yuan per picture", "reasons": d.wilful_reasons,
                      "range": [low, high], "amount": suggested, "reference": REFERENCE})
    total = suggested + d.costs
    steps.append({"step": "+", "basis": "reasonable costs of stopping the infringement", "amount": d.costs})
    return {"method": method, "range": [low + d.costs, high + d.costs], "suggested": round(total, 2),
            "currency": "CNY", "steps": steps, "inputs": d.__dict__,
            "disclaimer": {"en": "An estimate to support negotiation, not legal advice; a court sets damages.",
                           "zh": "本估算仅供协商参考，不构成法律意见；赔偿数额由法院认定。"}}
