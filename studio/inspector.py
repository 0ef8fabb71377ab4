"""The inspector: the selected shot's prompt, seed, duration and generation settings.

Size and frame rate belong to the whole project: the inspector shows them on one line with
a button to File > Project Settings, and never lets them pass for a shot's own. Input is
never corrected silently: a duration out of range reaches no document and says why beside
the field; one between two frames is rounded to a whole frame and says to what.

It shows the document and edits it only through commands. Which settings mean anything
depends on the backend, so the backend list and every control's enabled state come from
the engine's `Capabilities` (never a hard-coded list): a control the chosen backend cannot
honour is disabled, and its tooltip says why.

A real model (`diffusers:<name>`) also shows what it makes (its frame rule, whether it
starts from the keyframe) and the memory the shot needs on it. That line reads the model's
weight headers and asks the GPU its size, so it is worked out on the task pool, once per
shot size, length, frame rate, model and memory mode.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from PySide6.QtCore import QSignalBlocker, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from engine.backends import Capabilities, switched_settings
from engine.backends.diffusers import memory_advice
from engine.model_library import PREFIX as REAL_MODEL_PREFIX
from engine.project import Shot

from . import icons, settings
from .commands import SetShotField, SetShotSetting
from .document import Document
from .labels import WrappedLabel
from .last_frame import LastFrameSlot
from .project_settings import show_warning, warning_label
from .tasks import TaskRunner

MAX_SEED = 2**32 - 1
MAX_SECONDS = 100_000  # what the duration field takes in; `check_duration` says what is used


def check_duration(
    seconds: float, fps: float, max_frames: int, label: str
) -> tuple[int | None, str]:
    """The frames a typed duration gives, and the line that says what became of it:
    (None, why) when it cannot be used, (frames, "rounded...") or (frames, "")."""
    frames = round(seconds * fps)
    one = 1 / fps
    if frames < 1:
        return None, f"Duration must be at least one frame ({one:.2f} s at {fps:g} fps)."
    if frames > max_frames:
        return None, (
            f"Duration must be at most {max_frames / fps:.2f} s: {label} makes at most "
            f"{max_frames} frames a shot."
        )
    if abs(frames / fps - seconds) > 0.005:
        return frames, f"Rounded to a whole frame: {frames} frames ({frames / fps:.2f} s)."
    return frames, ""


class Inspector(QWidget):
    generate_requested = Signal()
    plan_requested = Signal()
    project_settings_requested = Signal()  # the project's size and frame rate, in their dialog

    def __init__(
        self,
        document: Document,
        capabilities: dict[str, Capabilities],
        parent=None,
        *,
        tasks: TaskRunner | None = None,
        memory_mode: Callable[[], str] = lambda: "auto",
    ):
        super().__init__(parent)
        self.document = document
        self.capabilities = capabilities
        self._tasks = tasks
        self._memory_mode = memory_mode
        self._advice: dict[tuple, str] = {}  # (backend, w, h, frames, fps, mode) -> line
        self._advice_wanted: tuple | None = None  # the line the shot on screen needs
        self._advice_asked: set[tuple] = set()  # lines being worked out on the pool
        self._advice_epoch = 0  # bumped when the backends change: older answers are stale
        self._updating = False
        self._build()
        document.current_shot_changed.connect(lambda _id: self.refresh())
        document.shot_changed.connect(self._on_document_shot_changed)
        document.project_changed.connect(self.refresh)
        document.project_replaced.connect(self.refresh)
        self.refresh()

    # ------------------------------------------------------------------ building

    def _build(self) -> None:
        content = QWidget(self)
        form = QFormLayout(content)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        form.setContentsMargins(10, 10, 10, 10)
        form.setVerticalSpacing(8)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.DontWrapRows)

        self.heading = QLabel(content)
        self.heading.setObjectName("heading")
        form.addRow(self.heading)

        self.name_edit = QLineEdit(content)
        self.name_edit.textEdited.connect(lambda text: self._edit_shot("name", text))
        form.addRow("Name", self.name_edit)

        self.prompt_edit = QPlainTextEdit(content)
        self.prompt_edit.setPlaceholderText("What happens in the shot")
        self.prompt_edit.setTabChangesFocus(True)
        self.prompt_edit.setFixedHeight(88)
        self.prompt_edit.textChanged.connect(
            lambda: self._edit_shot("prompt", self.prompt_edit.toPlainText())
        )
        self.prompt_label = QLabel("Prompt", content)
        form.addRow(self.prompt_label, self.prompt_edit)

        self.negative_edit = QPlainTextEdit(content)
        self.negative_edit.setPlaceholderText("What to avoid")
        self.negative_edit.setTabChangesFocus(True)
        self.negative_edit.setFixedHeight(48)
        self.negative_edit.textChanged.connect(
            lambda: self._edit_shot("negative_prompt", self.negative_edit.toPlainText())
        )
        self.negative_label = QLabel("Negative", content)
        form.addRow(self.negative_label, self.negative_edit)
        self.prompt_note = WrappedLabel(content)
        self.prompt_note.setObjectName("dim")
        self.prompt_note.setWordWrap(True)
        form.addRow("", self.prompt_note)
        self.plan_button = QPushButton("Plan from prompt", content)
        self.plan_button.setToolTip(
            "Stage the prompt in Kinema's world: its objects become strokes and its camera "
            "move a camera path, ready to edit before any model runs (Ctrl+Shift+P)"
        )
        self.plan_button.clicked.connect(self.plan_requested)
        self.plan_note = WrappedLabel(content)
        self.plan_note.setObjectName("dim")
        self.plan_note.setWordWrap(True)
        form.addRow("Storyboard", self.plan_button)
        form.addRow("", self.plan_note)
        self.last_frame = LastFrameSlot(self.document, content)  # where a model ends the shot
        form.addRow("Last frame", self.last_frame)

        self.seed_spin = QDoubleSpinBox(content)
        self.seed_spin.setDecimals(0)
        self.seed_spin.setRange(0, MAX_SEED)
        self.seed_spin.valueChanged.connect(lambda v: self._edit_shot("seed", int(v)))
        self.lock_box = QCheckBox("Lock", content)
        self.lock_box.setToolTip(
            "Locked: Generate reuses this seed (the same picture again). Unlocked (the "
            "default): every Generate draws a new seed and keeps it here, so a render of the "
            "saved project makes the latest take again."
        )
        self.lock_box.setChecked(bool(settings.value("generate/lock_seed", False, bool)))
        self.lock_box.toggled.connect(lambda on: settings.set_value("generate/lock_seed", on))
        self.randomise_button = QToolButton(content)
        self.randomise_button.setIcon(icons.icon("dice"))
        self.randomise_button.setToolTip("Pick a new random seed")
        self.randomise_button.clicked.connect(self.randomise_seed)
        form.addRow("Seed", _row(self.seed_spin, self.randomise_button, self.lock_box))

        self.duration_spin = QDoubleSpinBox(content)
        self.duration_spin.setDecimals(2)
        self.duration_spin.setSuffix(" s")
        self.duration_spin.setMaximumWidth(120)
        self.duration_spin.setRange(0.0, MAX_SECONDS)  # anything typed is checked, not clamped
        self.duration_spin.setKeyboardTracking(False)  # checked on Enter, not per keystroke
        self.duration_spin.valueChanged.connect(self._on_duration_changed)
        self.frames_label = QLabel(content)
        self.frames_label.setObjectName("dim")
        form.addRow("Duration", _row(self.duration_spin, self.frames_label))
        self.duration_note = warning_label(content)
        form.addRow("", self.duration_note)

        self.project_label = WrappedLabel(content)
        self.project_label.setObjectName("dim")
        self.project_label.setWordWrap(True)
        self.project_label.setToolTip(
            "Size and frame rate are the project's: every shot is made and exported at them."
        )
        self.project_button = QPushButton("Project Settings…", content)
        self.project_button.setToolTip("Change the size and frame rate of the whole project")
        self.project_button.clicked.connect(self.project_settings_requested)
        form.addRow("Project", _row(self.project_label, self.project_button))
        self.size_note = warning_label(content)
        form.addRow("", self.size_note)

        self.backend_box = QComboBox(content)
        self.backend_box.activated.connect(self._on_backend_chosen)
        form.addRow("Backend", self.backend_box)
        self.backend_note = WrappedLabel(content)  # the whole description, never cut
        self.backend_note.setObjectName("dim")
        form.addRow("", self.backend_note)
        self.memory_note = WrappedLabel(content)
        self.memory_note.setObjectName("dim")
        self.memory_note.setWordWrap(True)
        self.memory_note.hide()
        form.addRow("", self.memory_note)

        self.steps_spin = QSpinBox(content)
        self.steps_spin.setRange(1, 1000)
        self.steps_spin.valueChanged.connect(lambda v: self._edit_setting("steps", int(v)))
        self.steps_label = QLabel("Steps", content)
        form.addRow(self.steps_label, self.steps_spin)

        self.guidance_spin = QDoubleSpinBox(content)
        self.guidance_spin.setRange(0.0, 50.0)
        self.guidance_spin.setSingleStep(0.5)
        self.guidance_spin.setDecimals(1)
        self.guidance_spin.valueChanged.connect(lambda v: self._edit_setting("guidance", float(v)))
        self.guidance_label = QLabel("Guidance", content)
        form.addRow(self.guidance_label, self.guidance_spin)

        self.guide_spin = QDoubleSpinBox(content)
        self.guide_spin.setRange(0.0, 1.0)
        self.guide_spin.setSingleStep(0.05)
        self.guide_spin.setDecimals(2)
        self.guide_spin.valueChanged.connect(
            lambda v: self._edit_setting("guide_strength", float(v))
        )
        self.guide_label = QLabel("Guide strength", content)
        form.addRow(self.guide_label, self.guide_spin)

        self.generate_button = QPushButton("Generate", content)
        self.generate_button.setObjectName("primary")
        self.generate_button.setToolTip("Generate this shot (Ctrl+Enter)")
        self.generate_button.clicked.connect(self.generate_requested)
        form.addRow(self.generate_button)

        outer = QWidget(self)
        column = QVBoxLayout(outer)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(content)
        column.addStretch(1)
        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(outer)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(scroll)

    # ------------------------------------------------------------------ reading the document

    @property
    def seed_locked(self) -> bool:
        return self.lock_box.isChecked()

    def set_seed_locked(self, locked: bool) -> None:
        self.lock_box.setChecked(bool(locked))

    def set_capabilities(self, capabilities: dict[str, Capabilities]) -> None:
        """The engine's backends changed (model folders edited): rebuild the menu."""
        self.capabilities = capabilities
        self._advice.clear()
        self._advice_asked.clear()
        self._advice_wanted = None
        self._advice_epoch += 1
        self.refresh()

    def _on_document_shot_changed(self, shot_id: str) -> None:
        if shot_id == self.document.current_shot_id:
            self.refresh()

    def refresh(self) -> None:
        """Show the current shot; block our own edit handlers while doing it."""
        shot = self.document.current_shot
        project = self.document.project
        self._updating = True
        try:
            self.setEnabled(shot is not None)
            if shot is None:
                self.heading.setText("No shot selected")
                self._shown_shot = ""
                return
            if shot.id != getattr(self, "_shown_shot", ""):
                show_warning(self.duration_note, "")  # a message belongs to its shot
                self._shown_shot = shot.id
            number = self.document.shot_number(shot.id)
            self.heading.setText(f"Shot {number} of {len(project.shots)}")
            _set_text(self.name_edit, shot.name)
            _set_plain(self.prompt_edit, shot.prompt)
            _set_plain(self.negative_edit, shot.negative_prompt)
            _set_value(self.seed_spin, shot.seed)
            caps = self._caps(shot)
            fps = project.fps
            self.duration_spin.setSingleStep(1 / fps)
            _set_value(self.duration_spin, round(shot.duration / fps, 2))
            self.frames_label.setText(f"{shot.duration} frames")
            self._show_project(caps)
            self._show_backends(shot)
            _set_value(self.steps_spin, shot.settings.steps)
            _set_value(self.guidance_spin, shot.settings.guidance)
            _set_value(self.guide_spin, shot.settings.guide_strength)
            self._apply_capabilities(caps)
            self._show_model(shot, caps)
            self._show_plan(shot)
            self.last_frame.show_shot(shot, caps, self.capabilities)
        finally:
            self._updating = False

    def _show_plan(self, shot: Shot) -> None:
        """What the storyboard holds, and what of the prompt it could not use."""
        self.plan_button.setEnabled(bool(shot.prompt.strip()))
        plan = shot.plan
        if plan is None:
            self.plan_button.setText("Plan from prompt")
            self.plan_note.setText(
                "No plan yet: Generate with the built-in model plans a bare shot first."
            )
            return
        self.plan_button.setText("Plan again")
        spec = plan.spec
        things = ", ".join(plan.labels()) or "no objects"
        text = f"{things}. {spec.ground.capitalize()} at {spec.sky}, {spec.far}; "
        text += f"camera {spec.camera_move}."
        if plan.prompt != shot.prompt:
            text += " Planned from an earlier prompt: plan again to follow this one."
        self.plan_note.setText(" ".join([text, plan.notice]).strip())

    def _caps(self, shot: Shot) -> Capabilities | None:
        return self.capabilities.get(shot.settings.backend)

    def _show_project(self, caps: Capabilities | None) -> None:
        """The project's size and rate, and whether the shot's backend can make that size."""
        project = self.document.project
        width, height = project.width, project.height
        self.project_label.setText(f"{width} × {height} · {project.fps:g} fps, every shot")
        why = ""
        if caps is not None:
            if width % caps.size_multiple or height % caps.size_multiple:
                why = (
                    f"{caps.label} needs a width and height that are multiples of "
                    f"{caps.size_multiple}: change the size in Project Settings."
                )
            elif max(width, height) > caps.max_side:
                why = (
                    f"{caps.label} makes frames at most {caps.max_side} pixels wide or high: "
                    "change the size in Project Settings."
                )
        show_warning(self.size_note, why)

    def _backend_items(self, shot: Shot) -> list[tuple[str | None, str, str]]:
        """(name, label, tooltip) per menu item; (None, "", "") is the line before real models."""
        items: list[tuple[str | None, str, str]] = []
        for name, caps in self.capabilities.items():
            if name.startswith(REAL_MODEL_PREFIX) and all(
                not (n or "").startswith(REAL_MODEL_PREFIX) for n, _l, _t in items
            ):
                items.append((None, "", ""))
            items.append((name, caps.label, caps.description))
        if shot.settings.backend not in self.capabilities:
            name = shot.settings.backend
            items.append((name, f"{name} (not available)", ""))
        return items

    def _show_backends(self, shot: Shot) -> None:
        box = self.backend_box
        wanted = self._backend_items(shot)
        have = [
            (box.itemData(i), box.itemText(i), box.itemData(i, Qt.ItemDataRole.ToolTipRole) or "")
            for i in range(box.count())
        ]
        with QSignalBlocker(box):
            if have != wanted:  # rebuilt only when the list changes (not on every keystroke)
                box.clear()
                for name, label, tooltip in wanted:
                    if name is None:
                        box.insertSeparator(box.count())
                        continue
                    box.addItem(label, name)
                    box.setItemData(box.count() - 1, tooltip, Qt.ItemDataRole.ToolTipRole)
            box.setCurrentIndex(box.findData(shot.settings.backend))

    def _apply_capabilities(self, caps: Capabilities | None) -> None:
        """Enable what the backend honours; say why the rest is off."""
        if caps is None:
            self.backend_note.setText(
                "This backend is not installed here: choose another to generate."
            )
            self.generate_button.setEnabled(False)
            self.generate_button.setToolTip("The shot's backend is not available.")
            return
        if caps.unavailable:
            self.backend_note.setText(caps.unavailable)
            self.generate_button.setEnabled(False)
            self.generate_button.setToolTip(caps.unavailable)
        else:
            self.backend_note.setText(caps.description)
            self.generate_button.setEnabled(True)
            self.generate_button.setToolTip("Generate this shot (Ctrl+Enter)")
        label = caps.label
        # The prompt is the shot's content, not a setting: it stays editable for the model
        # the user switches to later, with a note saying this backend ignores it.
        prompt_note = (
            ""
            if caps.text
            else f"{label} ignores the prompt: it only moves the keyframe along the camera path "
            "and the strokes. A model backend follows it."
        )
        for widget in (self.prompt_edit, self.negative_edit):
            widget.setToolTip(prompt_note)
        self.prompt_note.setText(f"{label} ignores the prompt." if prompt_note else "")
        self.prompt_note.setVisible(bool(prompt_note))
        gates = (
            (
                caps.uses_steps,
                (self.steps_spin, self.steps_label, self.guidance_spin, self.guidance_label),
                f"{label} does not denoise, so steps and guidance change nothing.",
            ),
            (
                caps.uses_steps and (caps.camera or caps.motion_brush),
                (self.guide_spin, self.guide_label),
                f"{label} shows the guide video itself; guide strength applies to models "
                "that denoise from it."
                if not caps.uses_steps
                else f"{label} does not follow the camera path or the strokes, so guide "
                "strength changes nothing.",
            ),
        )
        for honoured, widgets, why in gates:
            for widget in widgets:
                widget.setEnabled(honoured)
                widget.setToolTip("" if honoured else why)

    def _show_model(self, shot: Shot, caps: Capabilities | None) -> None:
        """A real model: what it makes, and the memory line for this shot (worked out once)."""
        self.backend_note.setToolTip(caps.description if caps else "")
        real = caps is not None and caps.name.startswith(REAL_MODEL_PREFIX)
        if not real or caps.unavailable:
            self.memory_note.hide()
            self._advice_wanted = None
            return
        project = self.document.project
        self.backend_note.setText(model_summary(caps, project.fps, bool(shot.keyframe)))
        self.memory_note.show()
        key = (
            caps.name,
            project.width,
            project.height,
            shot.duration,
            float(project.fps),
            self._memory_mode(),
        )
        self._advice_wanted = key
        if key in self._advice:
            self.memory_note.setText(self._advice[key])
            return
        self.memory_note.setText("Working out the GPU memory this shot needs…")
        epoch = self._advice_epoch
        if self._tasks is None:
            self._on_advice(epoch, key, memory_advice(*key))
        elif key not in self._advice_asked:
            self._advice_asked.add(key)
            self._tasks.submit(
                lambda _ctx: memory_advice(*key),
                on_done=lambda line: self._on_advice(epoch, key, line),
                on_error=lambda error: self._on_advice(
                    epoch, key, f"The memory this shot needs cannot be predicted ({error})."
                ),
                name="memory advice",
            )

    def _on_advice(self, epoch: int, key: tuple, line: str) -> None:
        if epoch != self._advice_epoch:
            return  # asked before the model folders changed
        self._advice_asked.discard(key)
        self._advice[key] = line
        if key == self._advice_wanted:
            self.memory_note.setText(line)

    @property
    def memory_line(self) -> str:
        """The memory line on screen ("" while none is shown)."""
        return self.memory_note.text() if not self.memory_note.isHidden() else ""

    # ------------------------------------------------------------------ editing (commands only)

    def _edit_shot(self, field: str, value, text: str | None = None, merge: bool = True) -> None:
        shot = self.document.current_shot
        if self._updating or shot is None or getattr(shot, field) == value:
            return
        self.document.push(SetShotField(self.document, shot.id, field, value, text, merge))

    def _edit_setting(self, field: str, value) -> None:
        shot = self.document.current_shot
        if self._updating or shot is None or getattr(shot.settings, field) == value:
            return
        self.document.push(SetShotSetting(self.document, shot.id, field, value))

    def randomise_seed(self) -> None:
        self._edit_shot("seed", random.randint(0, MAX_SEED), "Randomise seed", merge=False)

    def _on_duration_changed(self, seconds: float) -> None:
        shot = self.document.current_shot
        if self._updating or shot is None:
            return
        caps = self._caps(shot)
        frames, why = check_duration(
            seconds,
            self.document.project.fps,
            caps.max_frames if caps else 100_000,
            caps.label if caps else "this backend",
        )
        show_warning(self.duration_note, why)
        if frames is None:
            return  # the document keeps its duration; the field shows what was typed
        self._edit_shot("duration", frames)
        with QSignalBlocker(self.duration_spin):  # show the whole frames that were kept
            _set_value(self.duration_spin, round(frames / self.document.project.fps, 2))

    def _on_backend_chosen(self, index: int) -> None:
        name = self.backend_box.itemData(index)
        caps = self.capabilities.get(name)
        label = caps.label if caps else name
        shot = self.document.current_shot
        if shot is None or self._updating or name == shot.settings.backend or caps is None:
            return
        before = shot.settings
        after = switched_settings(before, self.capabilities.get(before.backend), caps)
        stack = self.document.undo_stack
        stack.beginMacro(f"Use {label}")  # one undo step, steps and guidance with it
        for field in ("backend", "steps", "guidance"):
            if getattr(after, field) != getattr(before, field):
                value = getattr(after, field)
                self.document.push(
                    SetShotSetting(self.document, shot.id, field, value, None, False)
                )
        stack.endMacro()


def model_summary(caps: Capabilities, fps: float, has_keyframe: bool) -> str:
    """What a real model makes and what it starts from, in a sentence or two."""
    rule = f"Makes {caps.frame_rule}" if caps.frame_rule else "Makes clips at its own length"
    if caps.native_fps and abs(caps.native_fps - fps) > 1e-3:
        rule += f", retimed to the shot's {fps:g} fps"
    if caps.keyframe:
        start = "Starts from the keyframe" + (
            " and can end on a last frame" if caps.last_frame else ""
        )
    elif has_keyframe and caps.camera:
        start = "Text to video: the keyframe guides it loosely"
    elif has_keyframe:
        start = "Text to video: this shot's keyframe is not used"
    else:
        start = "Text to video: it takes no keyframe"
    steer = (
        " The camera and strokes steer it."
        if caps.camera or caps.motion_brush
        else " The camera path and strokes do not steer it."
    )
    return f"{rule}. {start}.{steer}"


def _row(*widgets) -> QWidget:
    holder = QWidget()
    row = QHBoxLayout(holder)
    row.setContentsMargins(0, 0, 0, 0)
    row.setSpacing(6)
    for index, widget in enumerate(widgets):
        row.addWidget(widget, 1 if index == 0 else 0)
    return holder


def _set_text(edit: QLineEdit, text: str) -> None:
    if edit.text() != text:
        edit.setText(text)


def _set_plain(edit: QPlainTextEdit, text: str) -> None:
    if edit.toPlainText() != text:
        edit.setPlainText(text)


def _set_value(spin, value) -> None:
    if spin.value() != value:
        spin.setValue(value)
