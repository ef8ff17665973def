"""A generation record as lines for a terminal, in English or Chinese (`inspect`, `journal show`).

Everything shown comes from the file, so everything is made safe first: control characters (an
ESC sequence hidden in a prompt could rewrite the terminal) are shown as \\x.. escapes, and rich
markup in the text ("[red]") is escaped so that it prints literally.
"""

from __future__ import annotations

from typing import Any

from rich.markup import escape

LABELS = {
    "tool": ("tool", "工具"), "where": ("found in", "位置"), "version": ("version", "版本"),
    "prompt": ("prompt", "提示词"), "negative": ("negative prompt", "反向提示词"), "model": ("model", "模型"),
    "model_hash": ("model hash", "模型哈希"), "vae": ("VAE", "VAE"), "loras": ("LoRAs / resources", "LoRA / 资源"),
    "sampler": ("sampler", "采样器"), "scheduler": ("scheduler", "调度器"), "steps": ("steps", "步数"),
    "cfg_scale": ("CFG scale", "CFG 系数"), "seed": ("seed", "种子"), "size": ("size", "尺寸"),
    "denoise": ("denoising strength", "重绘幅度"), "clip_skip": ("CLIP skip", "CLIP 跳过层"),
    "source_image": ("source image", "源图"), "passes": ("passes", "生成阶段"), "hires": ("hires fix", "高清修复"),
    "extra": ("other parameters", "其他参数"), "labels": ("GB 45438 implicit label", "GB 45438 隐式标识"),
    "c2pa": ("C2PA", "C2PA"), "characters": ("characters", "角色"), "none": ("(none)", "（无）"),
}
MAX_SHOWN = 2000  # characters of one extra value shown; --json gives everything


def label(key: str, lang: str) -> str:
    en, zh = LABELS[key]
    return zh if lang == "zh" else en


def safe(value: Any, limit: int | None = None) -> str:
    """Text from a file, printable on a terminal and inert as rich markup."""
    text = value if isinstance(value, str) else _compact(value)
    if limit is not None and len(text) > limit:
        text = text[:limit] + f"… (+{len(text) - limit:,})"
    out = []
    for c in text:
        if c == "\n" or c.isprintable():
            out.append(c)
        else:
            code = ord(c)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
    return escape("".join(out))


def _compact(value: Any) -> str:
    import json

    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "), default=str)


def _indent(text: str, pad: str) -> str:
    return text.replace("\n", "\n" + pad)


def generation_lines(g: dict[str, Any], lang: str = "en", indent: str = "  ") -> list[str]:
    """Full prompts, negatives, every parameter, each pass, LoRAs and labels, as rich-markup lines."""
    pad = indent + "  "
    lines = [f"{indent}[bold]{label('tool', lang)}: {safe(g.get('tool'))}[/bold]"
             + (f" {safe(g.get('version'))}" if g.get("version") else "")
             + f"  ({label('where', lang)}: {safe(g.get('where'))})"]
    prompts = g.get("prompts") or []
    for i, p in enumerate(prompts):
        tag = label("prompt", lang) + (f" {i + 1}" if len(prompts) > 1 else "")
        lines.append(f"{pad}{tag}: {_indent(safe(p), pad + '  ')}")
    for i, p in enumerate(g.get("negative_prompts") or []):
        tag = label("negative", lang) + (f" {i + 1}" if len(g.get("negative_prompts") or []) > 1 else "")
        lines.append(f"{pad}{tag}: {_indent(safe(p), pad + '  ')}")
    for key in ("model", "model_hash", "vae", "sampler", "scheduler", "steps", "cfg_scale", "seed", "size",
                "denoise", "clip_skip", "source_image"):
        if g.get(key) not in (None, "", []):
            lines.append(f"{pad}{label(key, lang)}: {safe(g[key] if isinstance(g[key], str) else str(g[key]))}")
    if g.get("loras"):
        lines.append(f"{pad}{label('loras', lang)}:")
        for lo in g["loras"]:
            bits = [safe(lo.get("name"))] + [f"{k} {safe(str(v))}" for k, v in lo.items() if k != "name" and v is not None]
            lines.append(f"{pad}  - " + ", ".join(bits))
    extra = dict(g.get("extra") or {})
    passes = extra.pop("passes", None)
    if passes:
        lines.append(f"{pad}{label('passes', lang)}:")
        for k, p in enumerate(passes, 1):
            if not isinstance(p, dict):
                continue
            name = p.get("pass") if isinstance(p.get("pass"), str) else \
                f"{'阶段' if lang == 'zh' else 'pass'} {p.get('pass', k)}"
            shown = {key: v for key, v in p.items() if key not in ("pass", "conditioning", "latent") and v not in (None, "", [])}
            lines.append(f"{pad}  {k}. [bold]{safe(name)}[/bold] " + ", ".join(
                f"{safe(key)}: {safe(v if isinstance(v, str) else _compact(v), 500)}" for key, v in shown.items()))
    elif g.get("hires"):
        lines.append(f"{pad}{label('hires', lang)}: {safe(g['hires'], MAX_SHOWN)}")
    characters = extra.pop("characters", None)
    if characters:
        lines.append(f"{pad}{label('characters', lang)}:")
        for c in characters:
            if isinstance(c, dict):
                lines.append(f"{pad}  - {safe(c.get('caption'))} {safe(c.get('centers'), 200)}")
    labels = extra.pop("implicit_labels", None)
    for lab in labels or []:
        lines.append(f"{pad}{label('labels', lang)} ({safe(lab.get('carrier'))}): "
                     + safe(lab.get("label") or lab.get("error"), MAX_SHOWN))
    c2pa = extra.pop("c2pa", None)
    if isinstance(c2pa, dict):
        keys = ("claim_generator", "generator_version", "actions", "digital_source_type", "software_agents",
                "ingredients", "signer", "signed_time", "validation_state")
        lines.append(f"{pad}{label('c2pa', lang)}: " + "; ".join(
            f"{k} {safe(c2pa[k], 300)}" for k in keys if c2pa.get(k) not in (None, [], "")))
    if extra:
        lines.append(f"{pad}{label('extra', lang)}:")
        for key, value in extra.items():
            if value in (None, "", [], {}):
                continue
            lines.append(f"{pad}  {safe(key)}: {safe(value, MAX_SHOWN)}")
    return lines
