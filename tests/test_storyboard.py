"""The storyboard planner: prompt -> scene plan -> layout, strokes and camera path.

No model runs here: the plan is staged and rendered by the procedural world, so every test
takes a fraction of a second.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from engine.backends import create_backend
from engine.camera import CameraKeyframe, CameraPath, Pose
from engine.cli import main
from engine.controls import compile_request
from engine.errors import ProjectError
from engine.models.layout import LAYOUT_CHANNELS, OBJECT_CHANNELS
from engine.motion import MotionStroke, TrajectoryPoint
from engine.project import Project, Shot, ShotSettings
from engine.render import planned_for_render, request_for_shot
from engine.storyboard import (
    ScenePlan,
    apply_plan,
    layout_for,
    needs_plan,
    plan_camera,
    plan_picture,
    plan_prompt,
    plan_shot,
    plan_strokes,
    render_plan,
)
from engine.storyboard.parse import read_prompt
from engine.synth import (
    CAMERA_WORDS,
    COLOUR_WORDS,
    COLOURS,
    FAR_LAYERS,
    GROUNDS,
    KINDS,
    MOTIONS,
    SKIES,
    VERBS,
    describe,
    render_clip,
    sample_scene,
    simulate,
)
from engine.synth.caption import FAR_WORDS, GROUND_WORDS, KIND_WORDS, TIME_WORDS, VERB_WORDS


def objects_of(plan: ScenePlan) -> list[tuple[str, str, str]]:
    return sorted((o.kind, o.colour, o.motion) for o in plan.spec.objects)


# ---------------------------------------------------------------------------------------------
# Reading the words
# ---------------------------------------------------------------------------------------------


def world_caption(seed: int, frames: int = 17, fps: float = 12.0):
    """A world clip's scene and caption without drawing it (the caption reads only motion)."""
    from types import SimpleNamespace

    from engine.synth.clip import _direction

    spec = sample_scene(np.random.default_rng(seed), frames, fps)
    sim = simulate(spec.objects, frames, fps)
    labels = [
        SimpleNamespace(motion=VERBS[o.motion], positions=sim.positions[:, i])
        for i, o in enumerate(spec.objects)
    ]
    directions = [_direction(label, 128) for label in labels]
    return spec, describe(spec, directions, np.random.default_rng([seed, 2]))


def test_the_world_captions_read_back_to_their_own_scene():
    """Every caption the world writes names its scene; the planner reads all of it back."""
    for seed in range(300):
        spec, caption = world_caption(seed)
        reading = read_prompt(caption)
        assert (reading.sky, reading.ground) == (spec.sky, spec.ground), caption
        assert set(reading.camera or ("static",)) == {spec.camera_move}, caption
        if reading.far is not None:
            assert reading.far == spec.far, caption
        asked = sorted(
            (o.kind, o.colour, o.motion) for o in reading.objects for _ in range(o.count)
        )
        assert asked == sorted((o.kind, o.colour, o.motion) for o in spec.objects), caption
        assert reading.unused == [], caption


@pytest.mark.parametrize("kind", KINDS)
def test_every_world_word_for_a_kind_colour_and_motion(kind):
    for noun in KIND_WORDS[kind]:
        for colour, words in COLOUR_WORDS.items():
            motion = MOTIONS[kind][0]
            verb = VERB_WORDS[motion][0][0]
            plan = plan_prompt(f"a {words[-1]} {noun} {verb}")
            assert objects_of(plan) == [(kind, colour, motion)], (noun, words[-1], verb)


def test_every_world_word_for_the_ground_sky_far_layer_and_camera():
    for ground in GROUNDS:
        for words in GROUND_WORDS[ground]:
            assert read_prompt(f"a ball on {words}").ground == ground, words
    for sky in SKIES:
        for words in TIME_WORDS[sky]:
            assert read_prompt(f"a ball {words}").sky == sky, words
    for far in FAR_LAYERS:
        for words in FAR_WORDS[far]:
            assert read_prompt(f"a ball with {words} in the distance").far == far, words
    for move, pairs in CAMERA_WORDS.items():
        for clause, gerund in pairs:
            for words in (clause, gerund):
                reading = read_prompt(f"a red ball rolls on the grass, {words}")
                assert set(reading.camera or ("static",)) == {move}, words
                assert objects_of(plan_prompt(f"a red ball rolls, {words}")) == [
                    ("ball", "red", "roll")
                ], words


@pytest.mark.parametrize(
    "prompt, kind, colour, motion, scene",
    [
        ("a scarlet orb tumbles over the turf", "ball", "red", "roll", {"ground": "grass"}),
        ("a navy crate skids across the beach", "cube", "blue", "slide", {"ground": "sand"}),
        ("an ivory globe hops on a chessboard", "ball", "white", "bounce", {"ground": "checker"}),
        ("a lilac pyramid drops onto the desert", "cone", "purple", "fall", {"ground": "sand"}),
        ("a woman strolls through a meadow at sunset", "person", None, "walk", {"sky": "dusk"}),
        ("an amber star twirls on the ice at midnight", "star", "orange", "spin", {"sky": "night"}),
        ("an ebony brick sits on the lawn at noon", "cube", "black", "rest", {"sky": "day"}),
        ("a lime cone glides past skyscrapers", "cone", "green", "slide", {"far": "skyline"}),
        ("a kid walks below the alps", "person", None, "walk", {"far": "mountains"}),
        ("a violet orb bounces under a starry sky", "ball", "purple", "bounce", {"sky": "night"}),
    ],
)
def test_synonyms_the_captioner_never_uses(prompt, kind, colour, motion, scene):
    plan = plan_prompt(prompt, seed=1)
    assert len(plan.spec.objects) == 1
    obj = plan.spec.objects[0]
    assert (obj.kind, obj.motion) == (kind, motion)
    if colour:
        assert obj.colour == colour
    for key, value in scene.items():
        assert getattr(plan.spec, key) == value
    assert plan.unused == []


@pytest.mark.parametrize(
    "prompt, move",
    [
        ("a ball rolls, the camera pans left", "pan-left"),
        ("tracking shot to the right of a rolling ball", "truck-right"),
        ("a ball bounces as the camera zooms in", "zoom-in"),
        ("dolly in on a red cube", "dolly-in"),
        ("the camera pushes in on a cube", "dolly-in"),
        ("crane up over a sliding cone", "pedestal-up"),
        ("the camera tilts up above a walking man", "tilt-up"),
        ("a ball bounces; the camera rolls counter-clockwise", "roll-counterclockwise"),
        ("a static camera watches a cube", "static"),
        ("the camera slides left past a ball", "truck-left"),
        ("a ball, the camera pulls back", "dolly-out"),
    ],
)
def test_camera_moves_in_a_filmmakers_words(prompt, move):
    assert plan_prompt(prompt).spec.camera_move == move


def test_a_prompt_naming_no_camera_move_gets_a_still_camera():
    assert plan_prompt("a red ball bounces on the grass").spec.camera_move == "static"


@pytest.mark.parametrize(
    "prompt, count",
    [
        ("two red balls bounce on the sand", 2),
        ("a pair of red balls bounce on the sand", 2),
        ("three red balls bounce on the sand", 3),
        ("a couple of red spheres hop on the sand", 2),
    ],
)
def test_plural_counts(prompt, count):
    plan = plan_prompt(prompt, seed=2)
    assert objects_of(plan) == [("ball", "red", "bounce")] * count
    assert plan.spec.ground == "sand"


def test_a_plural_without_a_number_is_two_and_says_so():
    plan = plan_prompt("cubes slide on the snow")
    assert [o.kind for o in plan.spec.objects] == ["cube", "cube"]
    assert "two" in plan.notice


def test_more_objects_than_the_world_shows_are_capped_with_a_notice():
    plan = plan_prompt("five yellow cones fall")
    assert objects_of(plan) == [("cone", "yellow", "fall")] * 3
    assert "at most 3" in plan.notice


def test_two_objects_each_keep_their_own_colour_and_motion():
    plan = plan_prompt("a red ball rolls and a blue cube slides on the grass", seed=5)
    assert objects_of(plan) == [("ball", "red", "roll"), ("cube", "blue", "slide")]
    plan = plan_prompt("a big red ball and a tiny blue cube; the ball bounces, the cube slides")
    assert objects_of(plan) == [("ball", "red", "bounce"), ("cube", "blue", "slide")]
    big, small = plan.spec.objects
    assert big.radius > small.radius


def test_word_order_does_not_matter():
    a = plan_prompt("a blue cube slides on the sand", seed=7)
    b = plan_prompt("on the sand, a cube, blue, slides", seed=7)
    c = plan_prompt("sliding on the sand, a blue cube", seed=7)
    assert a.to_dict()["spec"] == b.to_dict()["spec"] == c.to_dict()["spec"]
    assert objects_of(a) == [("cube", "blue", "slide")]


def test_words_it_cannot_use_are_reported_and_stop_words_are_not():
    plan = plan_prompt("a red dragon flies over the castle on the grass")
    assert plan.unused == ["red", "dragon", "flies", "castle"]
    assert "'dragon'" in plan.notice and "'castle'" in plan.notice
    assert not {"a", "the", "over", "on"} & set(plan.unused)
    assert plan.spec.ground == "grass"
    assert "red" in plan.unused  # a colour with no object to paint is said, not dropped


def test_a_second_ground_or_colour_is_reported():
    plan = plan_prompt("a red blue ball on the sand on the snow")
    assert plan.spec.ground == "sand"
    assert "snow" in plan.unused and "red" in plan.unused
    assert "second ground" in plan.notice


def test_a_colour_the_palette_lacks_becomes_the_nearest_with_a_notice():
    plan = plan_prompt("a brown ball rolls")
    assert plan.spec.objects[0].colour == "orange"
    assert "brown" in plan.notice


def test_a_cube_asked_to_bounce_gets_a_motion_it_can_do_and_a_notice():
    plan = plan_prompt("a cube bounces on the grass")
    (cube,) = plan.spec.objects
    assert cube.kind == "cube" and cube.motion in MOTIONS["cube"]
    assert "cannot bounce" in plan.notice and "bounces" in plan.notice
    plan = plan_prompt("a person rolls across the lawn")
    assert plan.spec.objects[0].motion == "walk" and "cannot roll" in plan.notice


# ---------------------------------------------------------------------------------------------
# The world's physics
# ---------------------------------------------------------------------------------------------


def heights(plan: ScenePlan, frames: int = 49, fps: float = 24.0) -> np.ndarray:
    return simulate(plan.spec.objects, frames, fps).bottoms()[:, 0]


@pytest.mark.parametrize("seed", range(4))
def test_a_planned_bounce_goes_up_and_down(seed):
    plan = plan_prompt("a red ball bounces across the grass", seed, 49, 24.0)
    y = heights(plan)
    assert y.max() > 0.05 and y.min() < 0.01  # it leaves the ground and comes back to it
    rising = np.diff(y) > 1e-4
    assert rising.any() and (np.diff(y) < -1e-4).any()
    landed = int(np.argmax(y < 0.01))
    assert (y[landed:] > 0.01).any(), "it bounces up again after landing"


@pytest.mark.parametrize("seed", range(4))
def test_a_planned_roll_stays_on_the_ground_and_a_fall_ends_lower(seed):
    rolls = plan_prompt("a ball rolls to the left", seed, 49, 24.0)
    assert np.abs(heights(rolls)).max() < 1e-6
    path = simulate(rolls.spec.objects, 49, 24.0).positions[:, 0]
    assert path[-1, 0] < path[0, 0]  # "to the left"
    falls = plan_prompt("a cube falls", seed, 49, 24.0)
    y = heights(falls)
    assert y[0] > 0.1 and y[-1] < 0.01 and y[-1] < y[0]


def test_directions_are_followed():
    for seed in range(4):
        right = simulate(plan_prompt("a ball rolls to the right", seed).spec.objects, 25, 12.0)
        assert right.positions[-1, 0, 0] > right.positions[0, 0, 0]
        away = simulate(plan_prompt("a man walks away", seed).spec.objects, 25, 12.0)
        assert away.positions[-1, 0, 2] > away.positions[0, 0, 2] + 0.1


def test_plans_are_deterministic_by_seed_and_differ_between_seeds():
    prompt = "two red balls bounce on the sand at dusk"
    assert plan_prompt(prompt, 3).to_dict() == plan_prompt(prompt, 3).to_dict()
    specs = {json.dumps(plan_prompt(prompt, s).to_dict()["spec"]) for s in range(6)}
    assert len(specs) == 6
    for seed in range(6):  # another staging, the same words
        plan = plan_prompt(prompt, seed)
        assert objects_of(plan) == [("ball", "red", "bounce")] * 2
        assert (plan.spec.ground, plan.spec.sky) == ("sand", "dusk")


# ---------------------------------------------------------------------------------------------
# Layout, picture and strokes
# ---------------------------------------------------------------------------------------------


def test_the_layout_has_the_named_colour_where_the_object_is():
    plan = plan_prompt("a blue cube slides across the sand at dusk", seed=1)
    layout = layout_for(plan, 25, 128, 128, 12.0)
    assert layout.shape == (LAYOUT_CHANNELS, 7, 16, 16) and layout.dtype == np.float32
    occupancy = layout[0]
    assert (occupancy > 0.5).any()
    blue = np.asarray(COLOURS["blue"], np.float32) / 127.5 - 1.0
    where = occupancy > 0.5
    colour = layout[1:4][:, where] / occupancy[where]
    np.testing.assert_allclose(colour, np.repeat(blue[:, None], where.sum(), 1), atol=1e-5)
    assert layout[4 + KINDS.index("cube")][where].min() > 0.5
    scene = layout[OBJECT_CHANNELS:, 0, 0, 0]
    assert scene[SKIES.index("dusk")] == 1 and scene[len(SKIES) + GROUNDS.index("sand")] == 1
    clip = render_clip(plan.seed, 25, 128, 12.0, spec=plan.spec)  # the same as the world's
    centre = clip.objects[0].trajectory[24] / 8
    assert occupancy[6, int(centre[1]), int(centre[0])] > 0.3


def test_the_layout_follows_the_camera_it_is_given():
    plan = plan_prompt("a red ball rests on the grass", seed=2)
    still = layout_for(plan, 13, 128, 128, 12.0)
    pan = CameraPath([CameraKeyframe(0, Pose()), CameraKeyframe(12, Pose(pan=15.0))])
    panned = layout_for(plan, 13, 128, 128, 12.0, pan.sample_frames(13))
    xs = np.arange(16)

    def centre(layout, j):
        return (layout[0, j].sum(0) * xs).sum() / layout[0, j].sum()

    assert centre(still, 3) == pytest.approx(centre(still, 0), abs=0.2)
    assert centre(panned, 3) < centre(panned, 0) - 1.0  # the camera turns right: it goes left


def test_strokes_follow_the_objects_the_plan_moves():
    plan = plan_prompt("a red ball rolls to the right and a blue cube rests", seed=3)
    strokes = plan_strokes(plan, 48, 320, 180, 24.0)
    assert [s.name for s in strokes] == ["red ball · rolls"]  # the resting cube has none
    (stroke,) = strokes
    assert stroke.color == "#d62626" and stroke.kind == "move"
    assert [p.frame for p in stroke.trajectory] == [*range(0, 48, 4), 47]
    assert stroke.trajectory[-1].x > stroke.trajectory[0].x
    region = stroke.mask  # the object's first-frame region, grown a little
    assert region.shape == (144, 256)
    first = render_plan(plan, 48, 256, 144, 24.0).objects[0].masks[0]
    assert region[first].min() == 1.0 and first.sum() < region.sum() < 4 * first.sum()
    anchor = stroke.trajectory[0]
    assert region[int(anchor.y * 144), int(anchor.x * 256)] == 1.0
    clip = render_plan(plan, 48, 320, 180, 24.0)
    for f, point in zip(range(0, 48, 4), stroke.trajectory, strict=False):
        x, y = clip.objects[0].trajectory[f]
        assert (point.x, point.y) == pytest.approx(((x + 0.5) / 320, (y + 0.5) / 180), abs=0.01)


def test_the_plan_camera_is_the_worlds_move():
    plan = plan_prompt("a ball, the camera pans left", seed=0)
    camera = plan_camera(plan, 48)
    end = camera.sample(47)
    assert end.pan == pytest.approx(-18.0 * plan.spec.camera_strength)
    assert plan_camera(plan_prompt("a ball"), 48).keyframes == []


def test_the_plan_picture_is_a_flat_sketch_of_the_worlds_first_frame():
    from engine.synth.palette import COLOURS, SKY_GRADIENTS

    plan = plan_prompt("a yellow star spins on the sand at dusk", seed=4)
    picture = plan_picture(plan, 160, 96)
    assert picture.shape == (96, 160, 3) and picture.dtype == np.uint8
    star = render_plan(plan, 1, 160, 96, plan.fps).objects[0].masks[0]
    yellow = (picture == np.array(COLOURS["yellow"], np.uint8)).all(-1)
    np.testing.assert_array_equal(yellow, star)  # the star's silhouette, flat, where it is
    top = picture[0, 80].astype(int)  # dusk's gradient up top; one flat ground colour below
    zenith, horizon = (np.array(c) for c in SKY_GRADIENTS["dusk"])
    assert (top >= np.minimum(zenith, horizon) - 1).all() and (
        top <= np.maximum(zenith, horizon) + 1
    ).all()
    ground = picture[-1][~star[-1]]
    assert (ground == ground[0]).all()
    floor = plan_picture(plan_prompt("a yellow star on a checker floor", seed=4), 160, 96)
    assert len(np.unique(floor[-1].reshape(-1, 3), axis=0)) >= 2  # the tiles, its one feature


# ---------------------------------------------------------------------------------------------
# The document
# ---------------------------------------------------------------------------------------------


def test_planned_strokes_land_in_the_document_and_survive_save_and_load(tmp_path):
    project = Project.new(tmp_path / "Plan", name="Plan")
    project.width, project.height, project.fps = 320, 180, 24.0
    shot = Shot(id="s1", prompt="two red balls bounce across the sand at dusk", seed=9, duration=36)
    project.shots.append(shot)
    assert needs_plan(shot)
    planned = plan_shot(shot, project.width, project.height, project.fps)
    shot.plan, shot.strokes, shot.camera = planned.plan, planned.strokes, planned.camera
    assert [s.name for s in shot.strokes] == ["red ball · bounces"] * 2
    assert planned.plan.stroke_ids == [s.id for s in shot.strokes]
    assert not needs_plan(shot)
    project.save()
    loaded = Project.load(project.folder).shots[0]
    assert loaded.plan.to_dict() == shot.plan.to_dict()
    assert [s.to_dict() for s in loaded.strokes] == [s.to_dict() for s in shot.strokes]
    for stroke in loaded.strokes:  # as a user paints one: a region and a timed path on it
        stroke.validate()
        assert stroke.kind == "move" and 0 < stroke.mask.mean() < 0.2
        assert all(0 <= p.x <= 1 and 0 <= p.y <= 1 for p in stroke.trajectory)
    assert "red ball" in planned.message and "sand" in planned.message


def test_a_file_without_plans_still_opens_and_a_bad_plan_names_its_field():
    data = Shot(prompt="a ball").to_dict()
    del data["plan"]
    assert Shot.from_dict(data).plan is None
    data["plan"] = plan_prompt("a red ball rolls").to_dict()
    assert Shot.from_dict(data).plan.spec.objects[0].colour == "red"
    data["plan"]["spec"]["objects"][0]["kind"] = "dragon"
    with pytest.raises(ProjectError, match=r"shot\.plan\.spec\.objects\[0\]\.kind"):
        Shot.from_dict(data)
    data["plan"] = plan_prompt("a red ball rolls").to_dict()
    data["plan"]["spec"]["objects"][0]["motion"] = "walk"
    with pytest.raises(ProjectError, match=r"objects\[0\]\.motion"):
        Shot.from_dict(data)
    data["plan"] = plan_prompt("a red ball rolls").to_dict()
    data["plan"]["spec"]["objects"][0]["velocity"] = [0, "fast", 0]
    with pytest.raises(ProjectError, match=r"velocity\[1\]"):
        Shot.from_dict(data)
    data["plan"]["spec"] = "sand"
    with pytest.raises(ProjectError, match=r"shot\.plan\.spec"):
        Shot.from_dict(data)


def test_the_users_strokes_camera_and_keyframe_win_over_the_plan():
    mask = np.zeros((32, 32), np.float32)
    mask[10:20, 10:20] = 1.0
    own = MotionStroke(mask, trajectory=[TrajectoryPoint(0.5, 0.5), TrajectoryPoint(0.8, 0.5)])
    keys = CameraPath([CameraKeyframe(0, Pose()), CameraKeyframe(23, Pose(tilt=5.0))])
    shot = Shot(prompt="a red ball rolls, the camera pans left", duration=24, strokes=[own])
    shot.camera = keys
    planned = plan_shot(shot, 128, 128, 12.0)
    assert planned.strokes == [own] and planned.camera.to_dict() == keys.to_dict()
    assert planned.plan.stroke_ids == [] and not planned.plan.camera_set
    assert "Your strokes are kept" in planned.message
    shot = Shot(prompt="a red ball rolls", duration=24, keyframe="media/key.png")
    assert not needs_plan(shot) and plan_shot(shot, 128, 128, 12.0).strokes == []


def test_planning_again_replaces_the_plans_own_strokes_and_camera_only():
    shot = Shot(prompt="a red ball rolls, the camera pans left", duration=24, seed=1)
    first = plan_shot(shot, 128, 128, 12.0)
    shot.plan, shot.strokes, shot.camera = first.plan, first.strokes, first.camera
    assert first.plan.camera_set and len(shot.strokes) == 1
    second = plan_shot(shot, 128, 128, 12.0, seed=2)
    assert len(second.strokes) == 1 and second.strokes[0].id != shot.strokes[0].id
    assert second.plan.camera_set
    assert second.camera.to_dict() == plan_camera(second.plan, 24).to_dict()
    mask = np.ones((8, 8), np.float32)
    painted = MotionStroke(mask, kind="static", name="tree")
    shot.strokes = [*shot.strokes, painted]  # the user paints one next to the plan's
    third = apply_plan(shot, plan_prompt(shot.prompt, 5, 24, 12.0), 128, 128, 12.0)
    assert third.strokes == [painted]  # the plan's old stroke goes; the user's stays alone


def test_render_plans_a_bare_shot_in_memory_for_the_builtin_model_only():
    project = Project(width=256, height=144, fps=24.0)
    shot = Shot(prompt="a blue cube slides on the sand", duration=30)
    builtin = create_backend("builtin").capabilities()
    assert builtin.storyboard and not create_backend("previs").capabilities().storyboard
    planned, line = planned_for_render(project, shot, builtin)
    assert planned is not shot and shot.plan is None  # the document is left as it was
    assert planned.plan is not None and "blue cube" in line
    same, line = planned_for_render(project, shot, create_backend("previs").capabilities())
    assert same is shot and line == ""


def test_a_planned_shot_compiles_to_its_layout_and_previs_picture():
    from engine.backends.builtin import plan_storyboard
    from engine.models.pipeline import native_plan
    from engine.synth.palette import COLOURS

    project = Project(width=256, height=144, fps=24.0)
    shot = Shot(prompt="a blue cube slides on the sand, the camera pans right", duration=30)
    shot.settings = ShotSettings(backend="builtin")
    planned = plan_shot(shot, project.width, project.height, project.fps)
    shot.plan, shot.strokes, shot.camera = planned.plan, planned.strokes, planned.camera
    request = request_for_shot(project, shot)
    controls = compile_request(request)
    np.testing.assert_array_equal(controls.sketch, plan_picture(shot.plan, 256, 144))
    np.testing.assert_array_equal(controls.guide[0], controls.sketch)  # the previs plays it
    native = native_plan(256, 144, 30, 24.0)
    resampled = controls.resample(native.width, native.height, native.frames)
    layout, animatic = plan_storyboard(request.shot, controls, resampled)
    latent = (native.height // 8, native.width // 8)
    assert layout.shape == (LAYOUT_CHANNELS, 1 + (native.frames - 1) // 4, *latent)
    assert layout[0].sum() > 0
    # the animatic the model starts from: the cube in flat blue wherever the layout has it
    assert animatic.shape == (native.frames, native.height, native.width, 3)
    blue = (animatic == np.array(COLOURS["blue"], np.uint8)).all(-1)
    for j in range(layout.shape[1]):
        cells = blue[4 * j].reshape(latent[0], 8, latent[1], 8).any(axis=(1, 3))
        assert cells.any() and (layout[0, j][cells] > 0).all()


def test_kinema_plan_prints_the_plan(capsys):
    assert main(["plan", "two crimson orbs hop across the dunes, a dragon watches"]) == 0
    out = capsys.readouterr().out
    assert "red ball · bounces" in out and "sand" in out and "dragon" in out
    assert main(["plan", "a red ball", "--seed", "3", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert ScenePlan.from_dict(data).seed == 3


def test_in_a_wide_frame_every_planned_path_stays_in_the_picture():
    for seed in range(12):
        plan = plan_prompt("a red ball, a blue cube and a green cone", seed, 1, 24.0, 16 / 9)
        clip = render_plan(plan, 1, 128, 72, 24.0)
        assert all(o.masks[0].sum() >= 4 for o in clip.objects), seed  # none hidden at first
    for seed in range(6):
        plan = plan_prompt("a red ball bounces high and a man walks", seed, 24, 24.0, 16 / 9)
        clip = render_plan(plan, 24, 128, 72, 24.0)
        for obj in clip.objects:
            assert obj.masks[0].any()
            assert (obj.trajectory[:, 1] >= 0).all() and (obj.trajectory[:, 1] <= 72).all()


def test_the_prompts_objects_ride_the_users_own_strokes():
    """A shot with painted strokes and no plan: the prompt says what each painted thing is
    and what colour; the stroke says where it goes (the user's work wins)."""
    from engine.backends.builtin import painted_storyboard
    from engine.models.pipeline import native_plan
    from engine.motion import MotionStroke, TrajectoryPoint
    from engine.synth.palette import COLOURS

    yy, xx = np.mgrid[0:128, 0:128] / 128
    disk = (((xx - 0.3) ** 2 + (yy - 0.7) ** 2) <= 0.08**2).astype(np.float32)
    path = [TrajectoryPoint(0.3 + 0.4 * f / 24, 0.7, float(f)) for f in range(0, 25, 4)]
    shot = Shot(prompt="a red ball rolls across the snow at dusk", duration=25, seed=3)
    shot.strokes = [MotionStroke(mask=disk, trajectory=path)]
    shot.settings = ShotSettings(backend="builtin")
    request = request_for_shot(Project(width=128, height=128, fps=12.0), shot)
    controls = compile_request(request)
    native = native_plan(128, 128, 25, 12.0)
    resampled = controls.resample(native.width, native.height, native.frames)
    layout, animatic = painted_storyboard(request.shot, controls, resampled)
    red = (animatic == np.array(COLOURS["red"], np.uint8)).all(-1)
    for t in (0, 12, 24):  # the red silhouette is the stroke's region, where the path has it
        ys, xs = np.nonzero(red[t])
        assert (
            abs(xs.mean() / 128 - (0.3 + 0.4 * t / 24)) < 0.02 and abs(ys.mean() / 128 - 0.7) < 0.02
        )
    expected = np.asarray(COLOURS["red"], np.float32) / 127.5 - 1
    full = layout[0, 0] > 0.99
    np.testing.assert_allclose(
        layout[1:4, 0][:, full].T, np.tile(expected, (full.sum(), 1)), atol=0.02
    )
    assert layout[10 + 1, 0, 0, 0] == 1 and layout[13 + 2, 0, 0, 0] == 1  # dusk, snow
    shot.prompt = "a misty morning"  # nothing named to ride the stroke: no storyboard
    assert painted_storyboard({**request.shot, "prompt": shot.prompt}, controls, resampled) is None
