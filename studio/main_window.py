"""The main window: composes the docks, menus and status bar, and wires them together.

Logic lives elsewhere (document + commands, bridge, generation, files, export, presenter);
this file only builds widgets and connects signals. Everything that can ask the user a
question does it through `dialogs`, which tests replace.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QByteArray, Qt, QTimer
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget,
    QLabel,
    QMainWindow,
    QMenu,
    QProgressBar,
    QPushButton,
    QTabWidget,
    QWidget,
)

import engine
from engine.errors import InvalidRequest
from engine.export import review_export
from engine.model_library import PREFIX as REAL_MODEL_PREFIX

from . import preferences, settings, theme
from .brush_canvas import BrushPanel
from .camera_editor import CameraPathEditor
from .commands import SetShotField
from .dialogs import Dialogs
from .document import Document
from .engine_bridge import EngineBridge, EngineFactory
from .export import (
    ExportAfterGeneration,
    ExportController,
    ExportOptions,
    plan_export,
    remember_options,
    remembered_options,
)
from .export_dialog import GenerateFirst
from .files import FileController
from .frame_view import ZOOM_FIT
from .gc_guard import GuiThreadCollector
from .generation import GenerationController
from .help_page import ShortcutsPage
from .inspector import Inspector
from .last_frame import LastFrameImporter
from .live_previs import LivePrevis
from .media_import import KeyframeImporter, ShotImporter
from .metrics_panel import MetricsPanel
from .queue_panel import QueuePanel
from .sequence_player import SequencePlayer
from .shortcuts import FieldKeys, key_sequences
from .shot_list import ShotListWidget
from .shot_presenter import ShotPresenter
from .storyboard import StoryboardController
from .take_cache import TakeCache
from .take_obedience import ObedienceController
from .takes_panel import TakesPanel
from .tasks import TaskRunner
from .timeline import Thumbnails, TimelineWidget
from .viewer import ViewerWidget

log = logging.getLogger(__name__)

LAYOUT_VERSION = 2
#: how long quitting waits for the engine to reach its next step (a step takes well under
#: this; a model still loading cannot be interrupted and is left to the process's exit)
QUIT_ENGINE_WAIT_S = 1.0


class MainWindow(QMainWindow):
    def __init__(
        self,
        *,
        dialogs: Dialogs | None = None,
        engine_factory: EngineFactory | None = None,
        device: str = "auto",
        autosave_interval_ms: int = 60_000,
        restore_layout: bool = True,
    ) -> None:
        super().__init__()
        self.setObjectName("KinemaMainWindow")
        self.setDockNestingEnabled(True)
        self.dialogs = dialogs if dialogs is not None else Dialogs(self)
        self._closed = False
        self.engine_stopped = False  # set by shutdown: the engine thread ended in time

        # -- the pieces
        self.gc_guard = GuiThreadCollector(self)
        self.tasks = TaskRunner(self)
        self.document = Document(parent=self)
        # the model folders reach the engine before its capabilities are first read
        self.preferences = preferences.load()
        preferences.apply(self.preferences)
        self._own_engine = engine_factory is not None  # a test's engine: the farm stays out
        if engine_factory is None:
            engine_factory = preferences.engine_factory(self.preferences)
        self.bridge = EngineBridge(self, engine_factory=engine_factory, device=device)
        self.take_cache = TakeCache(self.tasks, parent=self)
        self.storyboard = StoryboardController(self.document, self.tasks, self)
        self.viewer = ViewerWidget(self)
        self.inspector = Inspector(
            self.document,
            self.bridge.capabilities(),
            self,
            tasks=self.tasks,
            memory_mode=lambda: self.preferences.memory,
        )
        self.generation = GenerationController(
            self.document,
            self.bridge,
            self.tasks,
            self.take_cache,
            seed_locked=lambda: self.inspector.seed_locked,
            parent=self,
            memory_mode=lambda: self.preferences.memory,
            storyboard=self.storyboard,
            write_refusal=lambda: self.files.write_refusal(),
        )
        self.queue_panel = QueuePanel(self.generation.model, self)
        self.metrics_panel = MetricsPanel(self.document, self.take_cache, self.tasks, self)
        self.shot_list = ShotListWidget(self.document, self)
        self.takes_panel = TakesPanel(
            self.document,
            self,
            take_cache=self.take_cache,
            seed_locked=lambda: self.inspector.seed_locked,
            set_seed_locked=self.inspector.set_seed_locked,
        )
        self.files = FileController(
            self.document, self.dialogs, self.tasks, autosave_interval_ms, self
        )
        self.files.jobs_running = lambda: self.generation.active_jobs
        self.files.cancel_jobs = self.generation.cancel_all
        refusal = self.files.write_refusal
        self.importer = KeyframeImporter(
            self.document,
            self.tasks,
            self,
            refusal,
            keep_originals=lambda: self.preferences.keep_originals,
        )
        self.shot_importer = ShotImporter(self.document, self.tasks, self, refusal)
        self.last_frame_importer = LastFrameImporter(
            self.document,
            self.tasks,
            lambda start: self.dialogs.import_media_path(start),
            self,
            refusal,
            keep_originals=lambda: self.preferences.keep_originals,
        )
        self.exporter = ExportController(self.tasks, self)
        self.export_waiting = ExportAfterGeneration(self.document, self.generation.job_ended, self)
        self.live_previs = LivePrevis(self.document, self)
        self.presenter = ShotPresenter(
            self.document,
            self.viewer,
            self.generation,
            self.take_cache,
            self.tasks,
            self,
            live=self.live_previs,
        )
        self.obedience = ObedienceController(
            self.document, self.viewer, self.take_cache, self.tasks, self
        )
        self.thumbnails = Thumbnails(
            self.document, self.live_previs, self.take_cache, self.tasks, self
        )
        self.timeline = TimelineWidget(self.document, self.thumbnails, self)
        self.camera_editor = CameraPathEditor(self.document, self)
        self.brush_panel = BrushPanel(
            self.document, self.live_previs.base_image, self._take_frame_for_brush, self
        )
        self.shortcuts_page: ShortcutsPage | None = None

        self._build_docks()
        self._build_actions()
        self._build_menus()
        self._build_status_bar()
        self._wire()
        self.field_keys = FieldKeys(self, home=self.viewer.view)  # app keys in every field
        self._update_title()
        self.resize(1440, 900)
        if not (restore_layout and self.restore_layout()):
            QTimer.singleShot(0, self._default_sizes)  # once the window has its size
        self.gc_guard.freeze_startup()  # the window is built: what lives now lives on

    # ------------------------------------------------------------------ building

    def _dock(self, title: str, name: str, widget: QWidget, area) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)
        dock.setWidget(widget)
        dock.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetMovable
            | QDockWidget.DockWidgetFeature.DockWidgetFloatable
            | QDockWidget.DockWidgetFeature.DockWidgetClosable
        )
        self.addDockWidget(area, dock)
        return dock

    def _build_docks(self) -> None:
        self.setCentralWidget(self.viewer)
        right = Qt.DockWidgetArea.RightDockWidgetArea
        bottom = Qt.DockWidgetArea.BottomDockWidgetArea
        self.setCorner(Qt.Corner.BottomRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)
        self.inspector_dock = self._dock("Inspector", "inspector_dock", self.inspector, right)
        self.brush_dock = self._dock("Motion brush", "brush_dock", self.brush_panel, right)
        self.camera_dock = self._dock("Camera", "camera_dock", self.camera_editor, bottom)
        self.shots_dock = self._dock("Shots", "shots_dock", self.shot_list, bottom)
        self.takes_dock = self._dock("Takes", "takes_dock", self.takes_panel, bottom)
        self.queue_dock = self._dock("Queue", "queue_dock", self.queue_panel, bottom)
        self.metrics_dock = self._dock("Metrics", "metrics_dock", self.metrics_panel, bottom)
        self.timeline_dock = self._dock("Timeline", "timeline_dock", self.timeline, bottom)
        self._arrange_docks()

    @property
    def docks(self) -> tuple[QDockWidget, ...]:
        return (
            self.inspector_dock,
            self.brush_dock,
            self.camera_dock,
            self.shots_dock,
            self.takes_dock,
            self.queue_dock,
            self.metrics_dock,
            self.timeline_dock,
        )

    def _arrange_docks(self) -> None:
        """Inspector and brush on the right; camera (takes, shots) and queue above the timeline."""
        for dock in self.docks:
            if dock is not self.timeline_dock:  # their tabs already name them
                dock.setTitleBarWidget(QWidget(dock))
        self.setTabPosition(Qt.DockWidgetArea.BottomDockWidgetArea, QTabWidget.TabPosition.North)
        self.setTabPosition(Qt.DockWidgetArea.RightDockWidgetArea, QTabWidget.TabPosition.North)
        self.tabifyDockWidget(self.inspector_dock, self.brush_dock)
        self.splitDockWidget(self.camera_dock, self.timeline_dock, Qt.Orientation.Vertical)
        self.splitDockWidget(self.camera_dock, self.queue_dock, Qt.Orientation.Horizontal)
        self.tabifyDockWidget(self.camera_dock, self.takes_dock)
        self.tabifyDockWidget(self.camera_dock, self.shots_dock)
        self.tabifyDockWidget(self.queue_dock, self.metrics_dock)
        self.camera_dock.raise_()
        self.queue_dock.raise_()
        self.inspector_dock.raise_()
        self._default_sizes()

    def _default_sizes(self) -> None:
        self.resizeDocks([self.inspector_dock], [380], Qt.Orientation.Horizontal)
        self.resizeDocks(
            [self.camera_dock, self.timeline_dock], [250, 150], Qt.Orientation.Vertical
        )
        width = max(self.width() - 380, 800)
        self.resizeDocks(
            [self.camera_dock, self.queue_dock],
            [int(width * 0.6), int(width * 0.4)],
            Qt.Orientation.Horizontal,
        )

    def _action(
        self, name: str, text: str, slot, *, keys: str | None = None, checkable=False
    ) -> QAction:
        action = QAction(text, self)
        action.setObjectName(name)
        if keys:
            action.setShortcuts(key_sequences(keys))
        action.setCheckable(checkable)
        if checkable:
            action.toggled.connect(slot)
        else:
            action.triggered.connect(lambda _checked=False: slot())
        self.addAction(action)  # active even while its menu is hidden
        return action

    def _build_actions(self) -> None:
        a = self._action
        v = self.viewer
        self.actions_by_name: dict[str, QAction] = {}
        specs = [
            ("new", "&New project…", self.new_project, "new"),
            ("open", "&Open…", self.files.open_project, "open"),
            ("save", "&Save", self.files.save, "save"),
            ("save_as", "Save &As…", self.files.save_as, "save_as"),
            ("import", "&Import keyframe image or video…", self.import_keyframe, "import"),
            ("export", "&Export…", self.export, "export"),
            ("project_settings", "Project Se&ttings…", self.show_project_settings, None),
            ("quit", "&Quit", self.close, None),
            ("plan", "&Plan from prompt", self.plan_from_prompt, "plan"),
            ("generate", "&Generate", self.generate, "generate"),
            ("variations", "Generate &variations", self.generate_variations, None),
            ("generate_all", "Generate &all shots", self.generate_all, None),
            ("cancel", "&Cancel running job", self.cancel_running, "cancel"),
            ("cancel_all", "Cancel &all jobs", self.generation.cancel_all, None),
            ("add_shot", "Add shot", self.timeline.add_shot, None),
            ("duplicate_shot", "Duplicate shot", self.timeline.duplicate_shot, None),
            ("remove_shot", "Remove shot", self.shot_list.remove_shot, None),
            ("relink_keyframe", "Re&link keyframe…", self.relink_keyframe, None),
            ("remove_keyframe", "Remove keyframe", self.remove_keyframe, None),
            ("play", "Play / pause", v.toggle_play, "play"),
            ("play_sequence", "Play sequence", self.play_sequence, "play_sequence"),
            ("shuttle_back", "Play backwards", lambda: v.shuttle(-1), "shuttle_back"),
            ("stop", "Stop", lambda: (self.sequence_player.pause(), v.pause()), "stop"),
            ("shuttle_forward", "Play forwards", lambda: v.shuttle(1), "shuttle_forward"),
            ("previous_frame", "Previous frame", lambda: v.step(-1), "previous_frame"),
            ("next_frame", "Next frame", lambda: v.step(1), "next_frame"),
            ("go_start", "Go to start", v.go_to_start, "go_start"),
            ("go_end", "Go to end", v.go_to_end, "go_end"),
            ("toggle_ab", "Toggle A/B", v.toggle_compare, "toggle_ab"),
            ("toggle_previs", "Show previs", v.previs_button.toggle, "toggle_previs"),
            ("zoom_fit", "Zoom to fit", lambda: self._set_zoom(ZOOM_FIT), "zoom_fit"),
            ("zoom_100", "Zoom 100 %", lambda: self._set_zoom(1.0), "zoom_100"),
            ("preferences", "&Preferences…", self.show_preferences, "preferences"),
            ("reset_layout", "Reset layout", self.reset_layout, None),
            ("shortcuts", "&Keyboard shortcuts", self.show_shortcuts, "shortcuts"),
            ("about", "&About Kinema", self.show_about, None),
        ]
        for name, text, slot, keys in specs:
            self.actions_by_name[name] = a(name, text, slot, keys=keys)
        self.actions_by_name["quit"].setShortcuts(QKeySequence.StandardKey.Quit)
        prefs = self.actions_by_name["preferences"]
        prefs.setMenuRole(QAction.MenuRole.PreferencesRole)
        standard = QKeySequence.keyBindings(QKeySequence.StandardKey.Preferences)
        prefs.setShortcuts([*standard, *(k for k in prefs.shortcuts() if k not in standard)])
        self.undo_action = self.document.undo_stack.createUndoAction(self, "&Undo")
        self.undo_action.setShortcuts(key_sequences("undo"))
        self.redo_action = self.document.undo_stack.createRedoAction(self, "&Redo")
        self.redo_action.setShortcuts(key_sequences("redo"))
        for action in (self.undo_action, self.redo_action):
            self.addAction(action)
        self.camera_action = a(
            "show_camera",
            "Camera frame overlay",
            self.viewer.camera_button.setChecked,
            checkable=True,
        )
        self.strokes_action = a(
            "show_strokes", "Stroke overlay", self.viewer.strokes_button.setChecked, checkable=True
        )
        self.obedience_action = a(
            "toggle_obedience",
            "Ask versus got overlay",
            self.obedience.set_enabled,
            keys="toggle_obedience",
            checkable=True,
        )
        self.obedience.enabled_changed.connect(self.obedience_action.setChecked)
        self.camera_action.setChecked(True)
        self.strokes_action.setChecked(True)
        self.viewer.camera_button.toggled.connect(self.camera_action.setChecked)
        self.viewer.strokes_button.toggled.connect(self.strokes_action.setChecked)
        zooms = QActionGroup(self)
        for name in ("zoom_fit", "zoom_100"):
            self.actions_by_name[name].setCheckable(True)
            zooms.addAction(self.actions_by_name[name])
        self.actions_by_name["zoom_fit"].setChecked(True)

    def _build_menus(self) -> None:
        n = self.actions_by_name
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.addActions([n["new"], n["open"]])
        self.recent_menu = QMenu("Open &Recent", self)
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        file_menu.addMenu(self.recent_menu)
        file_menu.addSeparator()
        file_menu.addActions([n["save"], n["save_as"]])
        file_menu.addSeparator()
        file_menu.addActions([n["import"], n["export"]])
        file_menu.addSeparator()
        file_menu.addAction(n["project_settings"])
        file_menu.addSeparator()
        file_menu.addAction(n["quit"])
        edit_menu = bar.addMenu("&Edit")
        edit_menu.addActions([self.undo_action, self.redo_action])
        edit_menu.addSeparator()
        edit_menu.addActions([n["add_shot"], n["duplicate_shot"], n["remove_shot"]])
        edit_menu.addActions([n["relink_keyframe"], n["remove_keyframe"]])
        edit_menu.addSeparator()
        edit_menu.addAction(n["preferences"])
        generate_menu = bar.addMenu("&Generate")
        generate_menu.addActions([n["plan"], n["generate"], n["variations"], n["generate_all"]])
        generate_menu.addSeparator()
        generate_menu.addActions([n["cancel"], n["cancel_all"]])
        view_menu = bar.addMenu("&View")
        playback = view_menu.addMenu("Playback")
        playback.addActions(
            [
                n[k]
                for k in (
                    "play",
                    "play_sequence",
                    "shuttle_back",
                    "stop",
                    "shuttle_forward",
                    "previous_frame",
                    "next_frame",
                    "go_start",
                    "go_end",
                )
            ]
        )
        view_menu.addActions([n["zoom_fit"], n["zoom_100"]])
        view_menu.addSeparator()
        view_menu.addActions([self.camera_action, self.strokes_action, self.obedience_action])
        view_menu.addActions([n["toggle_previs"], n["toggle_ab"]])
        view_menu.addSeparator()
        panels = view_menu.addMenu("Panels")
        for dock in self.docks:
            panels.addAction(dock.toggleViewAction())
        view_menu.addAction(n["reset_layout"])
        help_menu = bar.addMenu("&Help")
        help_menu.addActions([n["shortcuts"], n["about"]])

    def _build_status_bar(self) -> None:
        status = self.statusBar()
        self.export_label = QLabel(self)
        self.export_bar = QProgressBar(self)
        self.export_bar.setFixedWidth(180)
        self.export_cancel = QPushButton("Cancel export", self)
        self.export_cancel.clicked.connect(self.exporter.cancel)
        for widget in (self.export_label, self.export_bar, self.export_cancel):
            status.addPermanentWidget(widget)
            widget.hide()
        self.project_label = QLabel(self)
        self.project_label.setObjectName("dim")
        status.addPermanentWidget(self.project_label)

    def _wire(self) -> None:
        d, g = self.document, self.generation
        self.inspector.generate_requested.connect(self.generate)
        self.inspector.plan_requested.connect(self.plan_from_prompt)
        self.inspector.project_settings_requested.connect(self.show_project_settings)
        self.export_waiting.ready.connect(self.export)
        self.export_waiting.abandoned.connect(lambda line: self.show_message(line, error=True))
        self.storyboard.message.connect(self.show_message)
        self.storyboard.problem.connect(lambda message: self.show_message(message, error=True))
        self.storyboard.planned.connect(self.presenter.end_edit)  # the previs plays the plan
        self.queue_panel.generate_requested.connect(lambda n: g.generate(n))
        self.queue_panel.cancel_requested.connect(g.cancel)
        self.queue_panel.cancel_all_requested.connect(g.cancel_all)
        self.queue_panel.finished_cleared.connect(g.forget)
        self.queue_panel.decode_again_requested.connect(g.decode_again)
        self.takes_panel.compare_requested.connect(self.presenter.compare_with)
        self.takes_panel.rerun_requested.connect(g.rerun)
        self.viewer.media_dropped.connect(self.importer.import_file)
        self.importer.failed.connect(
            lambda message: self.dialogs.error("Could not import", message)
        )
        self.importer.imported.connect(
            lambda _shot, path: self.show_message(f"Keyframe set to {path}")
        )
        self.importer.noted.connect(self.show_message)
        self.importer.cancelled.connect(lambda: self.show_message("Import cancelled."))
        d.project_replaced.connect(self.importer.empty_trash)  # undone imports of a crash
        self.timeline.file_dropped.connect(self.shot_importer.import_file)
        last_frame = self.last_frame_importer
        self.inspector.last_frame.choose_requested.connect(last_frame.choose)
        last_frame.failed.connect(lambda message: self.dialogs.error("Could not import", message))
        last_frame.imported.connect(lambda _s, path: self.show_message(f"Last frame set to {path}"))
        last_frame.noted.connect(self.show_message)
        self.shot_importer.imported.connect(self.show_message)
        self.shot_importer.failed.connect(lambda message: self.show_message(message, error=True))
        for source in (g.message, self.files.message, self.presenter.message, d.notice):
            source.connect(self.show_message)
        g.problem.connect(lambda message: self.show_message(message, error=True))
        for refusal in (g.problem, self.storyboard.problem):  # after: no job will end for that shot
            refusal.connect(self.export_waiting.refused)
        d.dirty_changed.connect(self.setWindowModified)
        d.project_replaced.connect(self._update_title)
        self.files.project_saved.connect(lambda _folder: self._update_title())
        self.files.read_only_changed.connect(lambda _ro: self._update_title())
        self.metrics_dock.visibilityChanged.connect(self.metrics_panel.set_watching)
        self._right_widths: dict[QDockWidget, int] = {}
        self._right_tab: QDockWidget | None = None  # the right area's tab on top
        for dock in (self.inspector_dock, self.brush_dock):
            dock.visibilityChanged.connect(
                lambda shown, dock=dock: shown and self._on_right_tab(dock)
            )
        # the tools show their edits in the viewer while they drag
        p = self.presenter
        self.camera_editor.path_previewed.connect(
            lambda sid, path: p.preview_edit(sid, camera=path)
        )
        self.timeline.camera_previewed.connect(lambda sid, path: p.preview_edit(sid, camera=path))
        self.brush_panel.strokes_previewed.connect(
            lambda sid, strokes: p.preview_edit(sid, strokes=strokes)
        )
        for tool in (self.camera_editor, self.timeline, self.brush_panel):
            tool.edit_finished.connect(p.end_edit)
        # one playhead: the viewer's frame, shown on the timeline, the curves and the brush
        self.sequence_player = SequencePlayer(
            d, self.viewer, self.take_cache, self, playhead=lambda: self.timeline.canvas.playhead
        )
        self.viewer.frame_changed.connect(self._on_viewer_frame_changed)
        d.current_shot_changed.connect(lambda _id: self._on_viewer_frame_changed())
        self.sequence_player.frame_changed.connect(self.timeline.set_sequence_frame)
        self.sequence_player.stopped.connect(self._on_sequence_stopped)
        self.timeline.sequence_button.toggled.connect(self.sequence_player.set_mode)
        self.timeline.playhead_moved.connect(self._on_timeline_playhead_moved)
        self.camera_editor.playhead_moved.connect(self.viewer.seek)
        self.thumbnails.changed.connect(self.timeline.canvas.update)
        self.live_previs.base_ready.connect(self.brush_panel.on_base_ready)
        self.exporter.started.connect(self._on_export_started)
        self.exporter.progress.connect(self._on_export_progress)
        self.exporter.finished.connect(self._on_export_finished)
        self.exporter.failed.connect(self._on_export_failed)
        self.exporter.cancelled.connect(lambda: self._on_export_ended("Export cancelled."))

    # ------------------------------------------------------------------ the playhead

    def _on_viewer_frame_changed(self, frame: int | None = None) -> None:
        if self.sequence_player.is_playing:
            return  # the sequence's playhead moves the timeline (its frame_changed)
        frame = self.viewer.current_frame if frame is None else frame
        self.timeline.set_shot_frame(frame)
        self.camera_editor.set_playhead(frame)
        self.brush_panel.set_playhead(frame)

    def _on_timeline_playhead_moved(self, sequence_frame: int) -> None:
        """Scrubbing the sequence: select the shot under the playhead and show its frame."""
        found = self.timeline.canvas.locate(sequence_frame)
        if found is None:
            return
        shot, frame = found
        self.sequence_player.pause()
        self.viewer.pause()
        if shot.id != self.document.current_shot_id:
            self.document.set_current_shot(shot.id)
        self.viewer.seek(frame)
        self.timeline.set_shot_frame(frame)

    def play_sequence(self) -> None:
        """Shift+Space: play or pause the whole sequence from the timeline's playhead."""
        self.sequence_player.toggle_play(self.timeline.canvas.playhead)

    def _on_sequence_stopped(self, sequence_frame: int) -> None:
        """Sequence playback ended: the shot under the playhead is selected and shown there."""
        found = self.timeline.canvas.locate(sequence_frame)
        if found is None:
            return
        shot, frame = found
        self.document.set_current_shot(shot.id)
        self.presenter.reshow()
        self.viewer.seek(frame)
        self.timeline.set_sequence_frame(sequence_frame)
        self._on_viewer_frame_changed()

    def _take_frame_for_brush(self):
        return self.viewer.displayed_frame() if self.viewer.kind == "take" else None

    # ------------------------------------------------------------------ commands from menus

    def generate(self) -> list[str]:
        return self.generation.generate(1)

    def plan_from_prompt(self) -> bool:
        return self.storyboard.plan()

    def new_project(self) -> bool:
        """File > New project; says so when its shot cannot start on the built-in model."""
        from engine.project import default_backend_note

        made = self.files.new_project()
        if made and (note := default_backend_note()):
            self.show_message(note, error=True)
        return made

    def generate_all(self) -> list[str]:
        """Generate > Generate all shots: every shot queued once, in timeline order."""
        return self.generate_shots([shot.id for shot in self.document.project.shots])

    def generate_shots(self, shot_ids) -> list[str]:
        jobs, queued = [], 0
        for shot_id in shot_ids:
            started = self.generation.generate(1, shot_id)
            jobs += started
            queued += bool(started) or self.storyboard.is_planning(shot_id)
        if queued == len(shot_ids):  # otherwise the refusal's sentence stays on screen
            self.show_message(f"Queued {queued} shot{'s' if queued != 1 else ''} to generate.")
        return jobs

    def show_project_settings(self):
        """File > Project Settings: size and frame rate of every shot, one undo step."""
        from .project_settings import ProjectSettingsDialog

        dialog = ProjectSettingsDialog(self.document, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        self.project_settings_dialog = dialog
        return dialog

    def generate_variations(self) -> list[str]:
        return self.generation.generate(self.queue_panel.variations_spin.value())

    def cancel_running(self) -> None:
        if not self.generation.cancel_running() and self.exporter.busy:
            self.exporter.cancel()

    def relink_keyframe(self) -> None:
        """Point the shot at its keyframe again (a missing one, or a replacement)."""
        self.import_keyframe()

    def remove_keyframe(self) -> None:
        shot = self.document.current_shot
        if shot is not None and shot.keyframe is not None:
            self.document.push(
                SetShotField(self.document, shot.id, "keyframe", None, "Remove keyframe", False)
            )

    def import_keyframe(self, path: Path | str | None = None) -> None:
        if path is None:
            folder = self.document.project.folder
            path = self.dialogs.import_media_path(folder.parent if folder else None)
            if path is None:
                return
        self.importer.import_file(path)

    def export(self, options: ExportOptions | None = None) -> bool:
        project = self.document.project
        if self.exporter.busy:
            self.dialogs.error("Export", "An export is already running: wait for it or cancel it.")
            return False
        if options is None:
            shot = self.document.current_shot
            base = project.folder.parent if project.folder else Path.home()
            name = f"{project.name} - {shot.name}" if shot else project.name
            defaults = remembered_options(project, ExportOptions(path=base / f"{name}.mp4"))
            chosen = self.dialogs.export_options(
                defaults,
                len(project.shots) > 1,
                review=lambda scope: review_export(project, self.document.current_shot_id, scope),
                check=self._export_refusal,
            )
            if chosen is None:
                return False
            if isinstance(chosen, GenerateFirst):
                remember_options(project, chosen.options)
                self.export_waiting.wait_for(chosen.options, chosen.shot_ids)
                self.generate_shots(chosen.shot_ids)
                return False
            options = chosen
            remember_options(project, options)
        try:
            plan = plan_export(project, self.document.current_shot_id, options)
        except InvalidRequest as error:
            self.dialogs.error("Nothing to export yet", str(error))
            return False
        self.exporter.start(plan)
        return True

    def _export_refusal(self, options: ExportOptions) -> str:
        """Why the Export dialog's options cannot be exported now, or "" (the dialog stays
        open with its settings when they cannot)."""
        remember_options(self.document.project, options)
        try:
            plan_export(self.document.project, self.document.current_shot_id, options)
        except InvalidRequest as error:
            return str(error)
        return ""

    def show_preferences(self) -> bool:
        """Edit > Preferences; True when the user pressed OK (and the changes are applied)."""
        chosen = self.dialogs.preferences(self.preferences)
        if chosen is None:
            return False
        self.apply_preferences(chosen)
        return True

    def apply_preferences(self, chosen: preferences.Preferences) -> None:
        """Store and apply preferences; models found in new folders are offered at once, and
        a new farm address takes over once the queue is empty."""
        farm_changed = chosen.farm_address != self.preferences.farm_address
        self.preferences = chosen
        preferences.save(chosen)
        preferences.apply(chosen)
        self._show_time_style()
        farm_note = ""
        if farm_changed and not self._own_engine:
            where = f"the farm at {chosen.farm_address}" if chosen.farm_address else "this machine"
            if self.bridge.switch_engine(preferences.engine_factory(chosen)):
                farm_note = f" New jobs run on {where}."
            else:
                farm_note = f" Jobs are running: jobs run on {where} from the next start."
        self.inspector.set_capabilities(self.bridge.refresh_capabilities())
        models = [
            c for n, c in self.bridge.capabilities().items() if n.startswith(REAL_MODEL_PREFIX)
        ]
        ready = sum(not c.unavailable for c in models)
        self.show_message(
            f"Preferences saved. Models found: {len(models)}, of which {ready} can run here."
            + farm_note
        )

    def _show_time_style(self) -> None:
        """Times read as the preference says: the ruler, the viewer's counter, the curves."""
        self.timeline.canvas.update()
        self.viewer.seek(self.viewer.current_frame)
        self.camera_editor.refresh_time_labels()

    def show_shortcuts(self) -> ShortcutsPage:
        if self.shortcuts_page is None:
            self.shortcuts_page = ShortcutsPage(self)
        self.shortcuts_page.show()
        self.shortcuts_page.raise_()
        return self.shortcuts_page

    def show_about(self) -> None:
        self.dialogs.about(
            "About Kinema",
            f"<b>Kinema {engine.__version__}</b><br>A desktop studio for AI video: prompt, "
            "keyframe, camera path and motion brush, with live previews.<br><br>"
            "Backends: " + ", ".join(c.label for c in self.bridge.capabilities().values()),
        )

    def show_message(self, message: str, error: bool = False) -> None:
        colour = theme.DANGER if error else theme.DIM_TEXT
        self.statusBar().setStyleSheet(f"QStatusBar {{ color: {colour}; }}")
        self.statusBar().showMessage(message, 12_000 if error else 6_000)

    def _set_zoom(self, zoom: float) -> None:
        index = self.viewer.zoom_box.findData(zoom)
        if index >= 0:
            self.viewer.zoom_box.setCurrentIndex(index)

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        recent = settings.recent_projects()
        if not recent:
            self.recent_menu.addAction("(none yet)").setEnabled(False)
        for folder in recent:
            action = self.recent_menu.addAction(str(folder))
            action.triggered.connect(lambda _c=False, f=folder: self.files.open_project(f))

    def _update_title(self) -> None:
        project = self.document.project
        read_only = " (read-only)" if self.files.read_only else ""
        self.setWindowTitle(f"{project.name}[*]{read_only} — Kinema")
        self.setWindowModified(self.document.is_dirty)
        self.project_label.setText(str(project.folder) if project.folder else "")

    # ------------------------------------------------------------------ export status

    def _on_export_started(self, path: str) -> None:
        self.export_label.setText(f"Exporting {Path(path).name}")
        self.export_bar.setRange(0, 0)
        for widget in (self.export_label, self.export_bar, self.export_cancel):
            widget.show()

    def _on_export_progress(self, done: int, total: int) -> None:
        self.export_bar.setRange(0, max(total, 1))
        self.export_bar.setValue(done)

    def _on_export_ended(self, message: str) -> None:
        for widget in (self.export_label, self.export_bar, self.export_cancel):
            widget.hide()
        self.show_message(message)

    def _on_export_finished(self, path: str) -> None:
        self._on_export_ended(" ".join([f"Exported {path}.", *self.exporter.notes]))

    def _on_export_failed(self, message: str) -> None:
        self._on_export_ended(message)
        self.dialogs.error("Export failed", message)

    # ------------------------------------------------------------------ layout

    def restore_layout(self) -> bool:
        """The saved window size and dock layout; False when there was none to restore."""
        geometry = settings.value("window/geometry")
        state = settings.value("window/state")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        if isinstance(state, QByteArray):
            return bool(self.restoreState(state, LAYOUT_VERSION))
        return False

    def _on_right_tab(self, shown: QDockWidget) -> None:
        """Painting wants room and a form does not: the right panel is wide while the brush is
        up and narrow while the inspector is, each at the width the user last gave it."""
        other = self.brush_dock if shown is self.inspector_dock else self.inspector_dock
        before, self._right_tab = self._right_tab, shown
        tabbed = other in self.tabifiedDockWidgets(shown)
        if before is not other or not tabbed or shown.isFloating() or not self.isVisible():
            return
        self._right_widths[other] = shown.width()  # the area's width: the other tab's, until now
        default = 380 if shown is self.inspector_dock else max(380, int(self.width() * 0.42))
        width = self._right_widths.get(shown, default)
        QTimer.singleShot(0, lambda: self.resizeDocks([shown], [width], Qt.Orientation.Horizontal))

    def save_layout(self) -> None:
        settings.set_value("window/geometry", self.saveGeometry())
        settings.set_value("window/state", self.saveState(LAYOUT_VERSION))

    def reset_layout(self) -> None:
        self._right_widths.clear()
        self._right_tab = None
        for dock in self.docks:
            dock.setFloating(False)
            dock.show()
        for dock in (self.inspector_dock, self.brush_dock):
            self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
        for dock in self.docks[2:]:
            self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, dock)
        self._arrange_docks()
        QTimer.singleShot(0, self._default_sizes)

    # ------------------------------------------------------------------ closing

    def closeEvent(self, event) -> None:  # noqa: N802
        if self._closed:
            event.accept()
            return
        # saving first: a user who backs out of either question finds the jobs still running
        if not self.files.maybe_save():
            event.ignore()
            return
        busy = self.generation.active_jobs
        if busy and not self.dialogs.confirm_quit_while_busy(busy):
            event.ignore()
            return
        self.generation.cancel_all()  # "quit and cancel": at once, not after the layout
        self.save_layout()
        self.hide()  # gone at once; the engine stops at its next step meanwhile
        self.shutdown(release_lock=False, engine_wait_s=QUIT_ENGINE_WAIT_S)
        self.importer.empty_trash()  # undone imports: nothing can redo them now
        self.files.close()  # cleans up what the user removed, then gives the lock up
        event.accept()

    def shutdown(self, release_lock: bool = True, engine_wait_s: float = 10.0) -> None:
        """Stop the engine and every worker; after this no thread of ours is running, but
        an engine thread inside a model load, which nothing can interrupt, may be given up
        on after `engine_wait_s` (`engine_stopped` says; the process then exits without it).

        Closing calls it; a test that simulates a crash calls it alone (the autosave stays,
        and the lock goes, as it does when a crashed process is gone).
        """
        if self._closed:
            return
        self._closed = True
        self.viewer.pause()
        self.files.autosaver.timer.stop()
        self.exporter.cancel()
        self.live_previs.shutdown()
        self.tasks.cancel_all()
        self.engine_stopped = self.bridge.shutdown(engine_wait_s)
        self.tasks.wait()
        self.gc_guard.release()
        if self.shortcuts_page is not None:
            self.shortcuts_page.close()
        if release_lock:
            self.files.release()
