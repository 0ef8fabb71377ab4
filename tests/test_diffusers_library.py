"""Finding real models offline, refusing bad folders, planning, memory and preview maps."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("diffusers")

import torch  # noqa: E402

from engine.backends.diffusers.adapter import ModelTraits, plan_request  # noqa: E402
from engine.errors import InvalidRequest, ModelLoadError  # noqa: E402
from engine.model_library import (  # noqa: E402
    discover_models,
    find_model,
    read_entry,
    set_model_folders,
    weight_files,
)

REPO = Path(__file__).resolve().parents[1]


def copy_model(root: Path, family: str, dest: Path) -> Path:
    shutil.copytree(root / family, dest)
    return dest


# ------------------------------------------------------------------ discovery


def test_folders_and_the_hub_cache_are_found(tiny_models, tmp_path, monkeypatch):
    cache = tmp_path / "hub"
    snapshot = cache / "models--Wan-AI--Wan2.1-T2V-tiny" / "snapshots" / "abc123"
    shutil.copytree(tiny_models / "wan", snapshot)
    (cache / "models--Wan-AI--Wan2.1-T2V-tiny" / "refs").mkdir()
    (cache / "models--Wan-AI--Wan2.1-T2V-tiny" / "refs" / "main").write_text("abc123")
    monkeypatch.delenv("KINEMA_NO_HF_CACHE")
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    entries = {e.name: e for e in discover_models()}
    assert {"wan", "ltx", "cogvideox", "Wan-AI/Wan2.1-T2V-tiny"} <= set(entries)
    hub = entries["Wan-AI/Wan2.1-T2V-tiny"]
    assert hub.source == "hf-cache" and hub.path == snapshot and not hub.problem
    assert find_model("diffusers:Wan-AI/Wan2.1-T2V-tiny").path == snapshot


def test_nested_folders_and_repeated_names(tiny_models, tmp_path):
    copy_model(tiny_models, "ltx", tmp_path / "a" / "Lightricks" / "LTX")
    copy_model(tiny_models, "ltx", tmp_path / "b" / "LTX")
    set_model_folders([tmp_path / "a", tmp_path / "b"])
    names = [e.name for e in discover_models() if e.name.startswith("LTX")]
    assert names == ["LTX", "LTX (2)"]


def test_pickle_weights_are_refused_with_a_sentence(tiny_models, tmp_path):
    folder = copy_model(tiny_models, "wan", tmp_path / "pickled")
    weights = next((folder / "transformer").glob("*.safetensors"))
    weights.unlink()
    (folder / "transformer" / "diffusion_pytorch_model.bin").write_bytes(b"not loaded")
    entry = read_entry(folder)
    assert "pickle" in entry.problem and "safetensors only" in entry.problem
    with pytest.raises(ModelLoadError, match="a pickle file can run code"):
        weight_files(folder / "transformer")


def test_a_missing_component_or_shard_is_named(tiny_models, tmp_path):
    folder = copy_model(tiny_models, "wan", tmp_path / "partial")
    shutil.rmtree(folder / "vae")
    assert "the vae folder" in read_entry(folder).problem
    sharded = copy_model(tiny_models, "ltx", tmp_path / "sharded")
    index = {"metadata": {}, "weight_map": {"a": "model-00001-of-00002.safetensors"}}
    (sharded / "transformer" / "diffusion_pytorch_model.safetensors.index.json").write_text(
        json.dumps(index)
    )
    problem = read_entry(sharded).problem
    assert "model-00001-of-00002.safetensors is missing" in problem
    assert "download is incomplete" in problem


def test_a_pipeline_kinema_does_not_run_is_listed_with_why(tmp_path):
    folder = tmp_path / "flux"
    folder.mkdir()
    (folder / "model_index.json").write_text(json.dumps({"_class_name": "FluxPipeline"}))
    entry = read_entry(folder)
    assert entry.family == "" and "FluxPipeline, which Kinema does not run" in entry.problem


def test_an_unknown_model_name_is_a_clear_error(tiny_models):
    with pytest.raises(ModelLoadError, match="No model named 'nope' was found"):
        find_model("diffusers:nope")


def test_discovery_loading_and_generation_never_touch_the_network(tiny_models, monkeypatch):
    """No offline switch is set: the guard proves nothing even tries to connect."""
    from engine.backends import backend_names, create_backend
    from engine.controls import compile_request
    from engine.jobs import GenerationRequest
    from engine.project import Shot

    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "DIFFUSERS_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise OSError("network access in a test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    names = [n for n in backend_names() if n.startswith("diffusers:")]
    assert len(names) >= 6
    backend = create_backend("diffusers:wan22")
    assert not backend.capabilities().unavailable
    backend.load("cpu")
    request = GenerationRequest(
        shot=Shot(prompt="a ball", duration=5).to_dict(), width=32, height=32, frames=5,
        fps=16.0, backend="diffusers:wan22", steps=2, device="cpu",
    )  # fmt: skip
    from engine.backends import CancelToken, Reporter

    token = CancelToken()
    report = Reporter(lambda *a: None, lambda *a: None, lambda *a: None, token)
    frames = backend.generate(request, compile_request(request), report, token)
    assert frames.shape == (5, 32, 32, 3)
    assert attempts == []


# ------------------------------------------------------------------ planning


def traits(**overrides) -> ModelTraits:
    base = dict(
        family="wan", label="Wan", keyframe=False, last_frame=False, frame_step=4,
        fixed_frames=(), max_frames=81, size_multiple=16, fixed_size=None,
        native_area=832 * 480, native_fps=16.0, default_steps=50, default_guidance=5.0,
        latent_channels=16, spatial_ratio=8, temporal_ratio=4,
    )  # fmt: skip
    base.update(overrides)
    return ModelTraits(**base)


def test_plans_follow_each_models_native_rules():
    wan = plan_request(traits(), 1920, 1080, 48, 24.0)  # 2 s of 1080p
    assert (wan.width, wan.height) == (848, 480) and wan.width * wan.height <= 832 * 480 * 1.05
    assert wan.frames == 33 and (wan.frames - 1) % 4 == 0 and wan.keep == 32
    small = plan_request(traits(), 320, 192, 12, 24.0)  # below native area: kept
    assert (small.width, small.height) == (320, 192) and small.frames == 9
    ltx_traits = traits(frame_step=8, native_fps=25.0, size_multiple=32, max_frames=257)
    ltx = plan_request(ltx_traits, 704, 480, 96, 24.0)
    assert ltx.frames == 105 and (ltx.frames - 1) % 8 == 0 and ltx.keep == 100
    cog = traits(
        frame_step=0, fixed_frames=(49,), max_frames=49, fixed_size=(720, 480), native_fps=8.0
    )
    plan = plan_request(cog, 1280, 720, 72, 24.0)  # 3 s
    assert (plan.width, plan.height, plan.frames, plan.keep) == (720, 480, 49, 24)
    with pytest.raises(InvalidRequest, match=r"up to 6\.1 seconds; this shot is 10\.0 s"):
        plan_request(cog, 1280, 720, 240, 24.0)


# ------------------------------------------------------------------ memory


def test_parameter_counts_from_headers_match_the_model_built_on_meta(tiny_models):
    from accelerate import init_empty_weights
    from diffusers import AutoencoderKLWan, WanTransformer3DModel

    from engine.backends.diffusers.memory import component_parameters

    counts = component_parameters(find_model("wan"))
    for component, cls in (("transformer", WanTransformer3DModel), ("vae", AutoencoderKLWan)):
        config = cls.load_config(str(tiny_models / "wan" / component))
        with init_empty_weights():
            model = cls.from_config(config)
        assert counts[component] == sum(p.numel() for p in model.parameters())


def test_memory_modes_rank_from_fastest_to_leanest(tiny_models):
    from engine.backends.diffusers import memory
    from engine.backends.diffusers.adapter import adapter_for

    entry = find_model("wan22")
    t = adapter_for(entry).traits()
    plan = plan_request(t, 512, 512, 33, 16.0)
    estimate = memory.estimate(entry, t, plan)
    peaks = estimate.peaks
    assert peaks["gpu"] >= peaks["model-offload"] >= peaks["sequential-offload"]
    bigger = memory.estimate(entry, t, plan_request(t, 832, 480, 81, 16.0))
    assert bigger.sampling_activations > estimate.sampling_activations
    assert memory.estimate(entry, t, plan, tiled=True).peaks["gpu"] <= peaks["gpu"]
    gb = 1024**3
    assert estimate.best_mode(64 * gb) == "gpu"
    assert estimate.best_mode(1) is None
    line = memory.advice(estimate, (64 * gb, 64 * gb))
    assert "fits" in line and "all on the gpu" in line.lower()
    assert "even with sequential offload" in memory.advice(estimate, (1, 1))


def test_offload_modes_on_a_cpu_are_refused_with_a_sentence():
    from engine.backends.diffusers.memory import resolve_mode

    assert resolve_mode("auto", "cpu", None) == "cpu"
    with pytest.raises(InvalidRequest, match="Model offload needs a GPU"):
        resolve_mode("model-offload", "cpu", None)


# ------------------------------------------------------------------ previews


@pytest.mark.parametrize("family", ("wan", "ltx", "cogvideox"))
def test_a_fitted_preview_map_reproduces_decoded_frames(tiny_models, family):
    """Held out: the map's colours match the tiny VAE's own decode to MIN_PSNR_DB or better,
    and beat the best constant colour. (A random tiny VAE decodes nearly everything to one
    grey, so a constant already scores ~30 dB there; the margin is what the map adds.)"""
    from engine.backends.diffusers.preview_map import (
        HELD_OUT_SEED,
        MIN_PSNR_DB,
        block_means,
        psnr_db,
        world_video,
    )
    from engine.backends.diffusers.runner import DiffusersRunner

    runner = DiffusersRunner(find_model(family))
    runner.load("cpu")
    preview = runner.fit_preview()
    assert preview.psnr_db >= MIN_PSNR_DB
    pipe, adapter = runner._pipe, runner.adapter
    stride, patch = preview.stride, preview.patch
    video = world_video(HELD_OUT_SEED + 1, 1 + 2 * stride, max(64, 4 * patch))
    with torch.inference_mode():
        z = adapter.encode(pipe, torch.from_numpy(video)[None])
        decoded = adapter.decode(pipe, z, torch.Generator().manual_seed(0))[0]
    decoded = decoded.clamp(-1, 1).numpy()
    colours = preview.colours(z.numpy())  # (T, h, w, 3)
    first, rest = block_means(decoded, stride, patch)
    target = np.concatenate([first, rest.reshape(-1, 3)])
    # block_means orders the later frames (frame, h, w, stride, c); put the map's alike
    t1 = colours[1:].reshape(-1, stride, *colours.shape[1:])  # (k, stride, h, w, 3)
    mapped = np.concatenate([colours[0].reshape(-1, 3), t1.transpose(0, 2, 3, 1, 4).reshape(-1, 3)])
    fitted = psnr_db(np.clip(mapped, -1, 1), target)
    constant = psnr_db(np.broadcast_to(target.mean(0), target.shape), target)
    assert fitted >= MIN_PSNR_DB
    assert fitted >= constant + 0.5, (fitted, constant)


def test_preview_maps_are_cached_per_vae(tiny_models, preview_cache):
    from engine.backends.diffusers.preview_map import load_cached, vae_key
    from engine.backends.diffusers.runner import DiffusersRunner

    runner = DiffusersRunner(find_model("ltx"))
    runner.load("cpu")
    runner.preview_map()
    key = vae_key(tiny_models / "ltx" / "vae")
    cached = load_cached(key)
    assert cached is not None and cached.stride == runner.traits.temporal_ratio
    assert vae_key(tiny_models / "wan" / "vae") != key


# ------------------------------------------------------------------ the clean estimate


def test_the_clean_estimate_is_exact_for_each_scheduler_kind():
    from diffusers import (
        CogVideoXDDIMScheduler,
        DDIMScheduler,
        FlowMatchEulerDiscreteScheduler,
        UniPCMultistepScheduler,
    )

    from engine.backends.diffusers.denoised import DenoisedTap

    torch.manual_seed(0)
    sample = torch.randn(1, 4, 2, 4, 4)
    velocity = torch.randn_like(sample)
    # flow matching (Euler): x0 = x_t - sigma v, and the last step lands on it
    euler = FlowMatchEulerDiscreteScheduler()
    euler.set_timesteps(3)
    with DenoisedTap(euler) as tap:
        x = sample
        for t in euler.timesteps:
            sigma = euler.sigmas[euler.step_index or 0]
            x_before = x
            x = euler.step(velocity, t, x, return_dict=False)[0]
            assert torch.allclose(tap.latest, x_before - sigma * velocity, atol=1e-5)
    assert torch.allclose(x, tap.latest, atol=1e-5)
    assert "step" not in euler.__dict__  # the tap is gone after the run
    # UniPC with flow sigmas keeps x0 as its converted output
    unipc = UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True)
    unipc.set_timesteps(3)
    with DenoisedTap(unipc) as tap:
        t = unipc.timesteps[0]
        unipc.step(velocity, t, sample, return_dict=False)
        sigma = unipc.sigmas[0]
        assert torch.allclose(tap.latest, sample - sigma * velocity, atol=1e-5)
    # v-prediction DDIM (CogVideoX) and epsilon DDIM: the scheduler's own x0
    for scheduler in (CogVideoXDDIMScheduler(), DDIMScheduler(prediction_type="epsilon")):
        scheduler.set_timesteps(3)
        t = scheduler.timesteps[0]
        with DenoisedTap(scheduler) as tap:
            scheduler.step(velocity, t, sample, return_dict=False)
        reference = scheduler.step(velocity, t, sample).pred_original_sample
        assert torch.allclose(tap.latest, reference, atol=1e-5)


# ------------------------------------------------------------------ the command line


def _kinema(*args, env_extra: dict, cwd: Path) -> subprocess.CompletedProcess:
    import os

    env = {**os.environ, **env_extra}
    return subprocess.run(
        [sys.executable, "-m", "engine.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=300,
    )


def test_kinema_render_with_a_real_model_writes_an_mp4(tiny_models, preview_cache, tmp_path):
    from engine.project import Project, Shot

    project = Project(name="Tiny", width=64, height=64, fps=16.0)
    project.shots.append(Shot(name="One", prompt="a red ball rolls", duration=12))
    folder = tmp_path / "Tiny.kinema"
    project.save(folder)
    env = {"KINEMA_NO_HF_CACHE": "1", "KINEMA_CACHE_DIR": str(preview_cache), "KINEMA_MODELS": ""}
    out = tmp_path / "tiny.mp4"
    result = _kinema(
        "render", str(folder), "--models", str(tiny_models), "--backend", "diffusers:ltx",
        "--steps", "2", "--quiet", "-o", str(out), env_extra=env, cwd=REPO,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert out.is_file() and out.stat().st_size > 0
    from engine.media import read_video

    frames, _fps = read_video(out)
    assert frames.shape[0] == 12 and frames.shape[1:3] == (64, 64)
    assert "Traceback" not in result.stderr


def test_bad_model_folders_give_one_line_errors(tiny_models, preview_cache, tmp_path):
    from engine.project import Project, Shot

    project = Project(name="Tiny", width=64, height=64, fps=16.0)
    project.shots.append(Shot(name="One", prompt="a ball", duration=8))
    folder = tmp_path / "Tiny.kinema"
    project.save(folder)
    broken = copy_model(tiny_models, "wan", tmp_path / "models" / "broken")
    shutil.rmtree(broken / "transformer")
    env = {"KINEMA_NO_HF_CACHE": "1", "KINEMA_CACHE_DIR": str(preview_cache), "KINEMA_MODELS": ""}
    cases = [
        ("--models", str(tmp_path / "nowhere"), "--backend", "diffusers:wan"),
        ("--models", str(tmp_path / "models"), "--backend", "diffusers:broken"),
        ("--models", str(tmp_path / "models"), "--backend", "diffusers:absent"),
    ]
    expected = ("does not exist", "the transformer folder", "No model named 'absent'")
    for args, words in zip(cases, expected):
        result = _kinema(
            "render", str(folder), *args, "-o", str(tmp_path / "x.mp4"), env_extra=env, cwd=REPO
        )
        assert result.returncode == 2, result.stderr
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("kinema: error:") and words in lines[0]
    listing = _kinema("models", "--models", str(tmp_path / "models"), env_extra=env, cwd=REPO)
    assert listing.returncode == 0
    assert "diffusers:broken" in listing.stdout and "cannot run:" in listing.stdout
