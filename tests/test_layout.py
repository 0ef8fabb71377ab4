"""A plan's layout as the generator reads it: objects where the world draws them, in their
palette colours, the sky and ground as one-hots; and a generator widened to read layouts
starts out making exactly what it made before."""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from engine.models.dit import VideoDiT
from engine.models.dit import preset as dit_preset
from engine.models.layout import (
    LAYOUT_CHANNELS,
    OBJECT_CHANNELS,
    SCENE_CHANNELS,
    layout_from_clip,
    scene_vector,
)
from engine.synth import SceneSpec, render_clip
from engine.synth.palette import COLOURS
from engine.synth.scene import make_object


def _scene() -> SceneSpec:
    rng = np.random.default_rng(3)
    ball = make_object(rng, "ball", "blue", "roll", frames=9)
    ball.position = (0.0, 0.0, 1.2)  # near and centred: big enough to read at latent size
    return SceneSpec(sky="dusk", ground="sand", far="mountains", objects=[ball])


def test_the_layout_puts_each_object_where_the_world_draws_it_in_its_colour():
    clip = render_clip(0, 9, 64, spec=_scene())
    layout = layout_from_clip(clip, 8, 8)
    assert layout.shape == (LAYOUT_CHANNELS, 3, 8, 8) and layout.dtype == np.float32
    ball = clip.objects[0]
    for j, f in enumerate((0, 4, 8)):
        ys, xs = np.nonzero(ball.masks[f])
        cells = np.zeros((8, 8), bool)
        cells[ys // 8, xs // 8] = True
        assert (layout[0, j][cells] > 0).all() and (layout[0, j][~cells] == 0).all()
        full = layout[0, j] > 0.99  # a cell the ball covers whole carries its exact colour
        expected = np.asarray(COLOURS["blue"], np.float32) / 127.5 - 1
        np.testing.assert_allclose(
            layout[1:4, j][:, full].T, np.tile(expected, (full.sum(), 1)), atol=0.02
        )
        np.testing.assert_allclose(layout[4, j], layout[0, j])  # kind channel 4 is "ball"
        assert layout[5:9, j].max() == 0
    assert (layout[9] == 1).all()  # "a plan is given"
    scene = layout[OBJECT_CHANNELS:, 0, 0, 0]
    np.testing.assert_array_equal(scene, scene_vector("dusk", "sand", "mountains"))
    assert scene.sum() == 3 and (layout[OBJECT_CHANNELS:] == scene[:, None, None, None]).all()


def test_a_generator_widened_for_layouts_starts_as_the_one_it_came_from():
    torch.manual_seed(0)
    old = VideoDiT(dit_preset("tiny")).eval()
    for p in old.parameters():  # trained weights are not zero where a new model's are
        p.data.normal_(0, 0.05)
    cfg = dataclasses.replace(
        old.cfg, layout_channels=OBJECT_CHANNELS, scene_channels=SCENE_CHANNELS
    )
    new = VideoDiT(cfg).eval()
    new.load_without_layout(old.state_dict())
    x, t = torch.randn(1, 16, 3, 8, 8), torch.full((1, 3), 0.6)
    controls = torch.randn(1, 8, 3, 8, 8)
    layout = torch.from_numpy(layout_from_clip(render_clip(0, 9, 64, spec=_scene()), 8, 8))[None]
    with torch.no_grad():
        before = old(x, t, controls, old.encode_text(["a blue ball"]))
        text = new.encode_text(["a blue ball"])
        plain = new(x, t, controls, text)
        planned = new(x, t, torch.cat([controls, layout], 1), text)
        torch.testing.assert_close(plain, before)
        torch.testing.assert_close(planned, before)  # the layout's inputs start at zero
        new.patch_in.weight.normal_(0, 0.05)
        new.scene_in.weight.normal_(0, 0.05)
        assert (
            new(x, t, torch.cat([controls, layout], 1), text) - new(x, t, controls, text)
        ).abs().max() > 1e-3
