"""The storyboard: a prompt staged as a scene plan, and that plan as the shot's own controls.

    plan = plan_prompt("two red balls bounce on the sand at dusk", seed=3)
    layout = layout_for(plan, 25, 128, 128, 12.0)      # what the built-in generator paints
    strokes = plan_strokes(plan, 48, 512, 512, 24.0)  # what the user sees and edits

A 4 M-parameter generator cannot bind "blue" to the cube and "sand" to the ground from
cross-attention alone; the world's physics already knows how a bouncing ball moves. So the
prompt is read into the world's own scene description (`plan`), simulated, and handed to the
generator as a layout and to the user as strokes and a camera path (`controls`).
"""

from .controls import (
    PlannedShot,
    apply_plan,
    needs_plan,
    plan_camera,
    plan_shot,
    plan_strokes,
    planned_shot,
)
from .plan import ScenePlan, layout_for, plan_picture, plan_prompt, render_plan

__all__ = [
    "PlannedShot",
    "ScenePlan",
    "apply_plan",
    "layout_for",
    "needs_plan",
    "plan_camera",
    "plan_picture",
    "plan_prompt",
    "plan_shot",
    "plan_strokes",
    "planned_shot",
    "render_plan",
]
