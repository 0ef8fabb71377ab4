"""The keyboard map: one table that both the menus and the Help page read.

Keys follow what editors already know: Space and J/K/L from NLEs, Left/Right to step,
Home/End, Ctrl+Enter to generate (ComfyUI's queue key), Esc to stop the running job.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtGui import QKeySequence


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
    from PySide6.QtCore import Qt
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
