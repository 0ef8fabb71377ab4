"""The toy Wan model's card: what it is, its data, training and held-out figures, from the
facts `engine.train.toy_wan.export` gathers."""

from __future__ import annotations

from .toy_wan import TRAIN_SEED


def model_card(t: dict) -> str:
    cfg, o, f = t["config"], t["options"], t["figures"]
    sizes = ", ".join(f"{k} {v} MB" for k, v in sorted(t["sizes_mb"].items()))
    width = cfg["heads"] * cfg["head_dim"]

    def row(name: str, key: str) -> str:
        s = f[key]
        return (
            f"| {name} | {s['mean_rgb']} | {s['pixel_std']} | {s['structure']} | {s['edges']} "
            f"| {s['motion']} |"
        )

    return f"""# toy-wan: a tiny trained Wan 2.1 text-to-video model

A real diffusers `WanPipeline` (Wan 2.1 architecture) small enough for CPU tests, trained by
`kinema train toy-wan` (`engine/train/toy_wan.py`) on Kinema's procedural world. **For tests
and benchmarks of steering real models by camera path and motion brush; not for users.** It
knows only the toy world, at {o["size"]} x {o["size"]}, and its text encoder is random.

Load it offline: `WanPipeline.from_pretrained(folder, local_files_only=True, use_safetensors=True)`.
Weights are safetensors only ({sizes}).

## Model
{_vae_paragraph(t)}
- `transformer`: `WanTransformer3DModel`, patch (1, 2, 2), {cfg["layers"]} layers, {cfg["heads"]} heads
  x {cfg["head_dim"]} = width {width}, ffn {2 * width}, text_dim 32.
- `text_encoder` + `tokenizer`: the word-level tokenizer and two-layer UMT5 (d_model 32) of
  `engine/backends/diffusers/tiny.py`; the encoder is random-init and frozen (seed {o["seed"]}).
  Prompts still steer a little: the known words (colours, ball, cube, cone, star, sand, snow,
  grass, dusk, night, ...) give consistent embeddings; other words are `<unk>`.
- `scheduler`: `UniPCMultistepScheduler(prediction_type="flow_prediction",
  use_flow_sigmas=True, flow_shift={cfg["flow_shift"]})`.

## Data
`engine.synth.render_clip(seed, frames, {o["size"]}, fps={o["fps"]:g})`: the world at {o["size"]} x {o["size"]}
pixels, {o["fps"]:g} fps (Wan 2.1's own rate).
{_vae_data(t)}
- Transformer: {t["latents"]["clips"]} clips of {o["frames"]} frames (seeds {t["latents"]["seeds"][0]:,} to
  {t["latents"]["seeds"][1]:,}) encoded once; {o["short_clips"]:.0%} of steps train on their first 9 frames
  (the first 3 latent frames: the causal VAE encodes a clip's first 9 frames the same way).
  Prompt: the world's caption; the empty prompt {o["drop_text"]:.0%} of the time.
- Held-out: world seeds {f["heldout_seeds"][0]}..{f["heldout_seeds"][1]}, never trained on.

## Training
| stage | steps | wall time |
| --- | --- | --- |
{_vae_row(t)}
| latent cache ({t["latents"]["clips"]} clips) | | {t["latents"]["minutes"]} min |
| transformer: rectified flow, batch {o["dit_batch"]}, AdamW {o["dit_lr"]:g}, EMA {o["ema"]} exported | {t["transformer"]["steps"]} | {t["transformer"]["minutes"]} min |

Device: {t["device"]}. Flow matching as the scheduler samples it: x_t = (1 - sigma) x0 +
sigma noise, target noise - x0, timestep sigma x 1000; sigma logit-normal or uniform, then
shifted by flow_shift. Held-out VAE PSNR (4 clips, {o["frames"]} frames) during training:
{t["vae"]["psnr_curve"]} dB. Final transformer loss {t["transformer"]["final_loss"]}.

## Held-out figures ({f["heldout_seeds"][1] - f["heldout_seeds"][0] + 1} clips of {o["frames"]} frames, {f["steps"]} sampling steps, guidance 5)
- VAE reconstruction PSNR: **{f["vae_psnr"]} dB** mean, {f["vae_psnr_min"]} dB worst clip;
  {f["vae_object_psnr"]} dB over the objects' pixels only.
- Started from a held-out clip encoded and noised to sigma (SDEdit, `renoise_generate`), PSNR
  of the result against that clip (whole frame / objects' pixels only):
  sigma 0.25: {f["renoise_0.25_psnr"]} / {f["renoise_0.25_object_psnr"]} dB;
  sigma 0.5: **{f["renoise_0.5_psnr"]}** / {f["renoise_0.5_object_psnr"]} dB;
  sigma 0.75: {f["renoise_0.75_psnr"]} / {f["renoise_0.75_object_psnr"]} dB.
  Two unrelated world clips score {f["unrelated_world_psnr"]} dB against each other.
- Frame statistics (uint8 pixels; std over each frame's pixels; edges = mean |horizontal| +
  |vertical| neighbour difference; structure = std over 8 x 8 block means, the layout
  without texture; motion = mean |frame difference|):

| clips | mean RGB | pixel std | structure | edges | motion |
| --- | --- | --- | --- | --- | --- |
{row("world (held-out)", "world_stats")}
{row("generated from their captions", "generated_stats")}
{row("tiny random Wan (tests)", "tiny_random_stats")}
{_steering_section(f)}"""


def _vae_paragraph(t: dict) -> str:
    cfg, o = t["config"], t["options"]
    if o.get("vae") == "builtin":
        return f"""- `vae`: the built-in model's causal video VAE (`assets/models/builtin/vae.safetensors`,
  27-37 dB on held-out world clips) behind `AutoencoderKLWan`'s interface
  (`engine/backends/diffusers/builtin_vae.py`): Wan 2.1's 16 channels, 8x in space, 4x in
  time, the first frame encoded alone. Not trained here; its folder holds only a config
  naming the weights by SHA-256. `latents_mean` / `latents_std` were measured on the
  {t["latents"]["clips"]} training clips' latents, so the normalised latents are ~unit variance."""
    return f"""- `vae`: `AutoencoderKLWan` with Wan 2.1's 16 latent channels, 8x in space, 4x in time,
  frames 4k+1 (the first frame encoded on its own). To train in minutes on a CPU it folds
  {cfg["vae_patch_size"]} x {cfg["vae_patch_size"]} pixels into channels first and uses average-pool / duplicate shortcuts
  around each level (`patch_size`, `is_residual={cfg["vae_residual"]}`: Wan 2.2's VAE design, which
  learns many times faster from scratch), then base_dim {cfg["vae_base_dim"]} (decoder {cfg["vae_decoder_base_dim"]}), dim_mult
  {list(cfg["vae_dim_mult"])}, one residual block per level, both downsamples also halving time.
  `latents_mean` / `latents_std` in its config were measured on the {t["latents"]["clips"]} training
  clips' latents (posterior mode), so the pipeline's normalised latents are ~unit variance."""


def _vae_row(t: dict) -> str:
    o = t["options"]
    if o.get("vae") == "builtin":
        return "| VAE: the built-in model's, not trained here | 0 | 0 min |"
    return (
        f"| VAE: 10 x MSE + L1 (objects' pixels weighted {1 + o['object_weight']:g} x) + "
        f"{o['kl_weight']:g} x KL per latent, AdamW {o['vae_lr']:g}, cosine by the clock, "
        f"EMA {o['vae_ema']} exported | {t['vae']['steps']} | {t['vae']['minutes']} min |"
    )


def _vae_data(t: dict) -> str:
    o = t["options"]
    if o.get("vae") == "builtin":
        return "- VAE: not trained here (the built-in model's; its own card gives its data)."
    return f"""- VAE: one world clip of {o["frames"]} frames per step, seeds {TRAIN_SEED:,} up, each seen once,
  random left-right flips. One step in {o["vae_video_every"]} trains on a window of {o["vae_frames"]} of its frames
  ({o["vae_batch"]} clip per step); the others on {o["vae_images"]} of its frames as images (1-frame clips: the
  causal VAE encodes a clip's first frame alone). Short clips and images cost a fraction of a
  whole clip, and so buy many more optimizer steps, which is what a CPU run lacks."""


def _steering_section(f: dict) -> str:
    s = f.get("steering")
    if not s:
        return ""
    return f"""
## Steering (`kinema eval steering`, held-out seeds {s["seeds"]}, 12 steps, guide strength 0.6)
Through Kinema's diffusers runner, the clip's first frame as the keyframe:
- brushed object's centroid against its path: **{s["brush_error_pct_without_stroke"]:.2f} %** of width
  without the stroke, **{s["brush_error_pct_with_stroke"]:.2f} %** with it;
- pans moving the picture the way they were keyed: {s["pan_direction_right_pct"]:.0f} %;
- a static stroke under a pan, drift in the scene once the camera's motion is undone:
  {s["static_drift_painted"]:.2f} levels painted against {s["static_drift_unpainted"]:.2f} unpainted;
- a step with steering {s["step_ms_steered"]:.1f} ms against {s["step_ms_plain"]:.1f} ms without
  ({s["steering_overhead_pct"]:+.1f} %; the CPU was shared, so this is rough).
"""
