"""The built-in model as a backend: Kinema's own generator, on the CPU, no download.

Weights load once (`load`) and stay warm. A request is made at the model's native scale
(`engine.models.pipeline.native_plan`) and brought back to the shot's size and frame rate.
The prompt, the camera path and move strokes condition the model; with a keyframe, frame 0 is
the keyframe, static strokes hold their region still in the scene (carried by the camera, as
the previs carries it), and the previs (the keyframe carried by the camera and strokes)
guides the clip by `guide_strength`; without one, a first draft's frame 0 is carried the same
way and guides a second pass. A preview of the clip's current
estimate comes after every step (through the instant latents-to-colours map: milliseconds,
where a VAE decode costs two steps), so the viewer shows it forming, and the one VAE decode
is the finished clip's; shots longer than four
seconds stream instead, chunk by chunk, each chunk final when it appears.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from . import Capabilities


class BuiltinBackend:
    name = "builtin"

    def __init__(self, weights: str | Path | None = None):
        self._weights = weights
        self._model = None

    def capabilities(self) -> Capabilities:
        from ..assets import BUILTIN_WEIGHTS

        folder = Path(self._weights) if self._weights else BUILTIN_WEIGHTS
        missing = [n for n in ("vae", "dit") if not (folder / f"{n}.safetensors").is_file()]
        unavailable = ""
        if missing:
            unavailable = (
                f"The built-in model's {' and '.join(missing)} weights are not installed in "
                f"{folder}; train them with 'kinema train {missing[-1]}'."
            )
        return Capabilities(
            name=self.name,
            label="Built-in model",
            description=(
                "Kinema's own small video model, trained on its procedural world: follows the "
                "prompt, the keyframe, the camera path and the motion brush; runs on the CPU."
            ),
            text=True,
            keyframe=True,
            camera=True,
            motion_brush=True,
            static_brush=True,
            extension=True,
            streaming=True,
            uses_steps=True,
            uses_device=True,
            max_frames=2400,
            unavailable=unavailable,
            storyboard=True,
            default_steps=8,  # trained and measured at 8 steps with guidance 3
            default_guidance=3.0,
        )

    def load(self, device: str) -> None:
        from ..models.pipeline import WEIGHTS, BuiltinModel

        if self._model is None:
            self._model = BuiltinModel.load(self._weights or WEIGHTS, device)

    def generate(self, request, controls, report, cancel) -> np.ndarray:
        from ..controls import fit_keyframe
        from ..models.pipeline import WHOLE_FRAMES, native_plan, resize_frames, retime

        if self._model is None:
            self.load(request.device or "cpu")
        plan = native_plan(controls.width, controls.height, controls.frames, controls.fps)
        native = controls.resample(plan.width, plan.height, plan.frames)
        keyframe = None
        if controls.keyframe is not None:
            keyframe = fit_keyframe(controls.keyframe, plan.width, plan.height)
        elif controls.strokes and not _only_planned(request.shot):
            report.notice("Without a keyframe the strokes steer the model but hold nothing still.")
        if not (request.shot.get("prompt") or "").strip() and keyframe is None:
            report.notice("No prompt and no keyframe: the model will invent a scene.")
        steps = max(1, int(request.steps))
        storyboard = None  # a plan's, else the prompt's objects riding the user's strokes
        if keyframe is None:
            storyboard = plan_storyboard(request.shot, controls, native) or painted_storyboard(
                request.shot, controls, native
            )
        common = dict(
            steps=steps,
            guidance=float(request.guidance),
            seed=int(request.seed),
            keyframe=keyframe,
            check_cancel=cancel.raise_if_cancelled,
            layout=None if storyboard is None else storyboard[0],
        )

        total = steps  # the whole job's, as the model reports it from its first step
        unit = "steps"

        def on_progress(done: int, whole: int) -> None:
            nonlocal total
            total = whole
            report.progress(done, whole, unit)

        def on_preview(frames: np.ndarray, done: int, whole: int) -> None:
            report.preview(frames, done, whole, complete=False)

        def on_frames(frames: np.ndarray, done: int, whole: int) -> None:
            on_progress(done, whole)
            on_preview(frames, done, whole)

        prompt = request.shot.get("prompt", "")
        if plan.frames > WHOLE_FRAMES:  # a long shot streams: finished frames as they come
            unit = "latent frames"
            frames = self._model.stream(prompt, native, on_frames=on_frames, **common)
        else:
            strength = float(request.guide_strength)
            guide = None
            if strength > 0:  # a keyframe's previs, else the plan's animatic
                guide = native.guide if keyframe is not None else None
                guide = storyboard[1] if storyboard is not None else guide
            frames = self._model.generate(
                prompt,
                native,
                guide=guide,
                guide_strength=strength,
                # with neither, the first frame of a draft is carried along the controls
                sketch=guide is None,
                on_preview=on_preview,
                on_progress=on_progress,
                preview_every=1,
                **common,
            )
        frames = resize_frames(retime(frames, controls.frames), controls.width, controls.height)
        report.progress(total, total, unit)
        report.preview(frames, total, total, complete=True)
        return frames


def _only_planned(shot: dict) -> bool:
    """Every stroke of the shot is its storyboard's (the plan says what is still and what not)."""
    planned = set((shot.get("plan") or {}).get("stroke_ids") or ())
    return all(s.get("id") in planned for s in shot.get("strokes") or ())


def plan_storyboard(shot: dict, controls, native) -> tuple[np.ndarray, np.ndarray] | None:
    """The shot's storyboard plan at native scale, or None: (the generator's layout, the
    plan's animatic `(T, h, w, 3)` to start from).

    The plan is simulated over the shot's own duration, sampled at the native frames (so
    native frame i is the shot's frame i (F - 1) / (n - 1), as the strokes and camera are
    resampled), and filmed through the camera poses the model is given: the user's own
    camera path, when they keyed one, wins over the plan's move.
    """
    from ..errors import InvalidRequest, ProjectError
    from ..models.layout import layout_from_clip
    from ..storyboard import ScenePlan, render_plan
    from ..storyboard.sketch import animatic_from_clip

    if not shot.get("plan"):
        return None
    try:
        plan = ScenePlan.from_dict(shot["plan"], "shot.plan")
    except ProjectError as error:
        raise InvalidRequest(f"The shot's storyboard plan is not valid: {error}") from error
    seconds = (controls.frames - 1) / controls.fps
    fps = (native.frames - 1) / seconds if controls.frames > 1 else native.fps
    clip = render_plan(plan, native.frames, native.width, native.height, fps, native.poses)
    return layout_from_clip(clip, native.width // 8, native.height // 8), animatic_from_clip(
        plan, clip
    )


def painted_storyboard(shot: dict, controls, native) -> tuple[np.ndarray, np.ndarray] | None:
    """For a shot with the user's own move strokes, a prompt and no plan: the prompt read in
    memory (as the planner reads it, with the shot's seed), its objects riding the strokes in
    the order it names them, on its sky and ground, as (layout, animatic). None without
    strokes, a prompt, or an object named."""
    from ..motion import compile_regions
    from ..storyboard import plan_prompt
    from ..storyboard.sketch import painted_storyboard as storyboard

    prompt = (shot.get("prompt") or "").strip()
    moving = [s for s in controls.strokes if s.kind == "move"]
    if not prompt or not moving or shot.get("plan"):
        return None
    seconds = (controls.frames - 1) / controls.fps
    fps = (native.frames - 1) / seconds if controls.frames > 1 else native.fps
    plan = plan_prompt(prompt, int(shot.get("seed") or 0), native.frames, fps)
    if not plan.spec.objects:
        return None
    regions = []
    for stroke in moving[: len(plan.spec.objects)]:  # each stroke's own region, frame by frame
        fields = compile_regions([stroke], native.width, native.height, native.frames)
        regions.append(np.stack([fields.move_mask(t) for t in range(native.frames)]))
    return storyboard(plan, regions, native.frames, native.width, native.height, native.poses)
