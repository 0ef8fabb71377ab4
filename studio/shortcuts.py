"""The keyboard map: one table that both the menus and the Help page read.

Keys follow what editors already know: Space and J/K/L from NLEs, Left/Right to step,
Home/End, Ctrl+Enter to generate (ComfyUI's queue key), Esc to stop the running job.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QEvent, QKeyCombination, QObject, Qt, QTimer
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QDockWidget,
    QLineEdit,
    QPlainTextEdit,
    QTextEdit,
    QWidget,
)


@dataclass(frozen=True)
class Shortcut:
    action: str  # the action's id in the main window
    keys: tuple[str, ...]  # portable key sequences; the first is shown in menus
    label: str
    group: str
    shown: tuple[str, ...] = ()  # what the Help page prints, when `keys` reads oddly


SHORTCUTS: tuple[Shortcut, ...] = (
    Shortcut("play", ("Space",), "Play / pause", "Playback"),
    Shortcut(
        "play_sequence", ("Shift+Space",), "Play / pause the whole sequence across cuts", "Playback"
    ),
    Shortcut("shuttle_back", ("J",), "Play backwards (again: faster)", "Playback"),
    Shortcut("stop", ("K",), "Stop", "Playback"),
    Shortcut("shuttle_forward", ("L",), "Play forwards (again: faster)", "Playback"),
    Shortcut("previous_frame", ("Left",), "Previous frame", "Playback"),
    Shortcut("next_frame", ("Right",), "Next frame", "Playback"),
    Shortcut("go_start", ("Home",), "Go to the first frame", "Playback"),
    Shortcut("go_end", ("End",), "Go to the last frame", "Playback"),
    Shortcut("toggle_ab", ("\\",), "Toggle A/B comparison", "Playback"),
    Shortcut("toggle_previs", ("Shift+P",), "Show the previs instead of the take", "Playback"),
    Shortcut(
        "toggle_obedience", ("O",), "Ask versus got: the take's request beside what it did", "View"
    ),
    Shortcut(
        "generate", ("Ctrl+Return", "Ctrl+Enter"), "Generate the shot", "Generate", ("Ctrl+Enter",)
    ),
    Shortcut("cancel", ("Esc",), "Cancel the running job", "Generate"),
    Shortcut("plan", ("Ctrl+Shift+P",), "Plan the shot from its prompt", "Generate"),
    Shortcut("new", ("Ctrl+N",), "New project", "File"),
    Shortcut("open", ("Ctrl+O",), "Open project", "File"),
    Shortcut("save", ("Ctrl+S",), "Save", "File"),
    Shortcut("save_as", ("Ctrl+Shift+S",), "Save as", "File"),
    Shortcut("import", ("Ctrl+I",), "Import a keyframe image or video", "File"),
    Shortcut("export", ("Ctrl+E",), "Export", "File"),
    Shortcut("undo", ("Ctrl+Z",), "Undo", "Edit"),
    Shortcut("redo", ("Ctrl+Shift+Z", "Ctrl+Y"), "Redo", "Edit"),
    Shortcut("preferences", ("Ctrl+,",), "Preferences: model folders, GPU memory", "Edit"),
    Shortcut("zoom_fit", ("F",), "Zoom to fit", "View"),
    Shortcut("zoom_100", ("1",), "Zoom to 100 %", "View"),
    Shortcut("shortcuts", ("F1",), "Show this list", "Help"),
    # the tools' own keys: they work while the tool has the focus (click into it first)
    Shortcut("timeline_delete", ("Delete",), "Delete the selected shot", "Timeline"),
    Shortcut("timeline_duplicate", ("Ctrl+D",), "Duplicate the selected shot", "Timeline"),
    Shortcut("timeline_zoom_in", ("+", "="), "Zoom in (or Ctrl+wheel)", "Timeline", ("+",)),
    Shortcut("timeline_zoom_out", ("-",), "Zoom out", "Timeline"),
    Shortcut("timeline_snap", ("S",), "Snapping on / off (hold Ctrl to drag freely)", "Timeline"),
    Shortcut("camera_add_key", ("I",), "Add a camera key at the playhead", "Camera editor"),
    Shortcut(
        "camera_delete_key", ("Delete", "Backspace"), "Delete the selected key", "Camera editor"
    ),
    Shortcut("brush_brush", ("B",), "Brush: paint a region that moves", "Motion brush"),
    Shortcut("brush_static", ("S",), "Static: paint a region that stays put", "Motion brush"),
    Shortcut("brush_erase", ("E",), "Erase from the selected stroke", "Motion brush"),
    Shortcut("brush_path", ("P",), "Path: drag where the region goes", "Motion brush"),
    Shortcut("brush_smaller", ("[",), "Smaller brush", "Motion brush"),
    Shortcut("brush_larger", ("]",), "Larger brush", "Motion brush"),
)


def shortcut(action: str) -> Shortcut:
    return next(s for s in SHORTCUTS if s.action == action)


def key_sequences(action: str) -> list[QKeySequence]:
    return [QKeySequence(k) for k in shortcut(action).keys]


def add_local_shortcuts(widget, bindings) -> None:
    """`(action, slot)` pairs as shortcuts live while `widget` or a child has the focus."""
    from PySide6.QtGui import QShortcut

    for action, slot in bindings:
        for sequence in key_sequences(action):
            item = QShortcut(sequence, widget)
            item.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            item.activated.connect(slot)


def display_keys(item: Shortcut) -> list[str]:
    """The keys as the platform writes them (Ctrl becomes ⌘ on a Mac)."""
    return [
        QKeySequence(k).toString(QKeySequence.SequenceFormat.NativeText)
        for k in (item.shown or item.keys)
    ]


# ----------------------------------------------------------------------------- fields

#: what a numeric field needs typed; any other key that is an app shortcut is the app's
_NUMBER_TEXT = frozenset("0123456789.,-+")
#: the keys that move or delete inside a field: a field keeps them
_MOVE_KEYS = frozenset(
    (Qt.Key.Key_Left, Qt.Key.Key_Right, Qt.Key.Key_Up, Qt.Key.Key_Down, Qt.Key.Key_Home,
     Qt.Key.Key_End, Qt.Key.Key_Backspace, Qt.Key.Key_Delete, Qt.Key.Key_PageUp,
     Qt.Key.Key_PageDown)
)  # fmt: skip
_CHORD = (
    Qt.KeyboardModifier.ControlModifier
    | Qt.KeyboardModifier.AltModifier
    | Qt.KeyboardModifier.MetaModifier
)


def field_kind(widget: QWidget | None) -> str:
    """'number', 'text' or 'choice' for the fields whose keys clash with the app's; '' else."""
    if isinstance(widget, QAbstractSpinBox):
        return "number"
    if isinstance(widget, QComboBox):
        return "text" if widget.isEditable() else "choice"
    if isinstance(widget, QLineEdit):
        return "number" if isinstance(widget.parent(), QAbstractSpinBox) else "text"
    if isinstance(widget, (QPlainTextEdit, QTextEdit)):
        return "" if widget.isReadOnly() else "text"
    return ""


def _commit(widget: QWidget) -> None:
    """What is typed in a numeric field becomes its value (an app key acts on the edit)."""
    if isinstance(widget, QAbstractSpinBox):
        widget.interpretText()


def _revert(widget: QWidget) -> None:
    """A numeric field shows its value again, dropping what was typed and not committed."""
    if isinstance(widget, QAbstractSpinBox) and hasattr(widget, "setValue"):
        widget.setValue(widget.value())


class FieldKeys(QObject):
    """The app's shortcuts work wherever the focus is, as in an NLE or Blender.

    Qt gives the focused field the first claim on every key (a ShortcutOverride event
    before any shortcut): a line edit claims every printable key and, on Linux, Ctrl+E,
    Ctrl+Z and other editing chords, so with the focus in a spin box Ctrl+E moved the
    cursor instead of exporting and Space did nothing. This filter, on the focused field
    only, decides per key of the window's shortcuts:

    - a chord with Ctrl, Alt or Meta is the app's, everywhere (Ctrl+Enter, Ctrl+E,
      Ctrl+Z...); a numeric field commits what was typed first, so Generate sees it;
    - a bare key (Space, J/K/L, F, Shift+P...) stays in a free-text field (the prompt, the
      name), which needs letters; a numeric field keeps only digits, signs and decimal
      marks and the keys that move inside it (arrows, Home/End, Backspace/Delete), so the
      rest reach the app;
    - Escape leaves the field, a numeric one dropping what was typed and showing its value
      again; the focus goes `home` (the viewer), so the next Escape cancels the job;
    - Enter commits a single-line field and sends the focus home too.

    A key that is no shortcut of the window goes to the field as always; a dialog's fields
    are left alone (Escape and Enter belong to the dialog there).
    """

    def __init__(self, window: QWidget, home: QWidget) -> None:
        super().__init__(window)
        self._window = window
        self._home = home
        self._watched: QWidget | None = None
        QApplication.instance().focusChanged.connect(self._on_focus_changed)

    def _in_window(self, widget: QWidget | None) -> bool:
        """In the main window itself (a floating dock included), not in a dialog of it."""
        while widget is not None:
            if widget is self._window:
                return True
            if widget.isWindow() and not isinstance(widget, QDockWidget):
                return False
            widget = widget.parentWidget()
        return False

    def _on_focus_changed(self, _old: QWidget | None, new: QWidget | None) -> None:
        if self._watched is not None:
            try:
                self._watched.removeEventFilter(self)
            except RuntimeError:  # the field was deleted with the focus on it
                pass
            self._watched = None
        if field_kind(new) and self._in_window(new):
            new.installEventFilter(self)
            self._watched = new

    def _is_app_key(self, event) -> bool:
        modifiers = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
        pressed = QKeySequence(QKeyCombination(modifiers, Qt.Key(event.key())))
        return any(
            action.isEnabled() and pressed in action.shortcuts()
            for action in self._window.actions()
        )

    def eventFilter(self, watched, event) -> bool:  # noqa: N802
        if event.type() == QEvent.Type.ShortcutOverride:
            return self._on_shortcut_override(watched, event)
        if event.type() == QEvent.Type.KeyPress:
            return self._on_key_press(watched, event)
        return False

    def _on_shortcut_override(self, widget: QWidget, event) -> bool:
        chord = bool(event.modifiers() & _CHORD)
        if event.key() == Qt.Key.Key_Escape and not chord:
            event.accept()  # the field's, not "cancel the job": see _on_key_press
            return True
        if not self._is_app_key(event):
            return False
        kind = field_kind(widget)
        if chord:
            _commit(widget)
            event.ignore()  # the app's shortcut runs
            return True
        if kind == "text":
            return False  # a free-text field keeps its letters, Space and arrows
        if kind == "number" and (event.text() in _NUMBER_TEXT or event.key() in _MOVE_KEYS):
            event.accept()
            return True
        event.ignore()
        return True

    def _on_key_press(self, widget: QWidget, event) -> bool:
        plain = not (event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier)
        if event.key() == Qt.Key.Key_Escape and plain:
            _revert(widget)
            self._home.setFocus(Qt.FocusReason.OtherFocusReason)
            return True
        single_line = field_kind(widget) == "number" or isinstance(widget, QLineEdit)
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and plain and single_line:
            # the field takes its Enter first (commits, emits editingFinished), then lets go
            QTimer.singleShot(0, self, lambda: self._let_go(widget))
        return False

    def _let_go(self, widget: QWidget) -> None:
        try:
            focused = widget.hasFocus()
        except RuntimeError:  # gone meanwhile
            return
        if focused:
            self._home.setFocus(Qt.FocusReason.OtherFocusReason)
