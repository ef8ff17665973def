"""The diffusers recorder, on a tiny random-weight pipeline built here (no hub, no download)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest  # noqa: I001

import os  # noqa: E402

if os.environ.get("CI"):  # in CI the recorder must really run: a missing extra is a failure, not a skip
    import diffusers  # noqa: F401
    import torch  # noqa: F401
    import transformers  # noqa: F401
torch = pytest.importorskip("torch", reason="the generate extra (torch, diffusers) is installed by `make test`")
diffusers = pytest.importorskip("diffusers")
transformers = pytest.importorskip("transformers")

from typer.testing import CliRunner  # noqa: E402

from inkseal.cli import app as cli  # noqa: E402

PASS = "correct horse battery"


def tiny_tokenizer(folder: Path) -> transformers.CLIPTokenizer:
    """A byte-level CLIP tokenizer with no merges, written next to the model."""
    # GPT-2's byte-to-printable-character table (printable bytes map to themselves).
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    extra = iter(range(256, 512))
    chars = [chr(b) if b in keep else chr(next(extra)) for b in range(256)]
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for c in chars:
        vocab.setdefault(c, len(vocab))
        vocab.setdefault(c + "</w>", len(vocab))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    return transformers.CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"), pad_token="<|endoftext|>",
                                    model_max_length=77)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    root = tmp_path_factory.mktemp("tiny-sd")
    tokenizer = tiny_tokenizer(root / "tok")
    unet = diffusers.UNet2DConditionModel(
        sample_size=8, in_channels=4, out_channels=4, layers_per_block=1, block_out_channels=(8, 16),
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=16, attention_head_dim=2, norm_num_groups=4)
    vae = diffusers.AutoencoderKL(in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(8, 16),
                                  down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2,
                                  norm_num_groups=4)
    text = transformers.CLIPTextModel(transformers.CLIPTextConfig(
        vocab_size=len(tokenizer), hidden_size=16, intermediate_size=32, num_attention_heads=2, num_hidden_layers=2,
        max_position_embeddings=77, bos_token_id=0, eos_token_id=1, pad_token_id=1))
    scheduler = diffusers.DDIMScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012,
                                        clip_sample=False, set_alpha_to_one=False, steps_offset=1)
    pipe = diffusers.StableDiffusionPipeline(vae=vae, text_encoder=text, tokenizer=tokenizer, unet=unet, scheduler=scheduler,
                                             safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    model = root / "model"
    pipe.save_pretrained(model)
    return model


def test_generate_journals_every_step_and_replays_bit_for_bit(tiny_model: Path, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INKSEAL_PASSPHRASE", PASS)
    home = str(tmp_path / "home")
    r = CliRunner()
    run = lambda *a: r.invoke(cli, ["--home", home, *a], catch_exceptions=False)  # noqa: E731
    assert run("keys", "init").exit_code == 0
    out = tmp_path / "girl.png"
    res = run("generate", "--model", str(tiny_model), "--prompt", "girl, (ancient costume:1.2), spring breeze",
              "--negative", "blurry", "--steps", "4", "--cfg", "6.5", "--seed", "1234", "--width", "32", "--height", "32",
              "-o", str(out), "--json")
    assert res.exit_code == 0, res.output
    info = json.loads(res.stdout)
    rec = info["record"]
    assert len(rec["step_latent_sha256"]) == 4 and len(set(rec["step_latent_sha256"])) == 4
    assert rec["seed"] == 1234 and rec["sampler"] == "DDIMScheduler" and rec["versions"]["torch"] == torch.__version__
    assert rec["model_weights_sha256"] and all(len(h) == 64 for h in rec["model_weights_sha256"].values())
    assert rec["dtype"] == "torch.float32" and rec["device"] == "cpu"
    # The image also carries an A1111-style infotext, so the importers (and other tools) read it back.
    assert info["import_entries"], "the generated PNG should import as a generation"
    replay = run("journal", "replay", str(info["entry"]), "--json")
    assert replay.exit_code == 0, replay.output
    assert json.loads(replay.stdout)["identical"] is True
    # A different seed diverges at the first step, and replay says so.
    from inkseal.journal.generate import compare

    changed = dict(rec, step_latent_sha256=["0" * 64] + rec["step_latent_sha256"][1:])
    assert compare(changed, rec)["first_diverging_step"] == 0
    assert json.loads(run("journal", "verify", "--json").stdout)["ok"] is True
