"""The dark theme: a Fusion palette plus a small style sheet, tuned for judging pictures.

Grey, not black, around the picture (as grading suites do), so the eye judges the frame and
not the chrome; one accent colour for focus, selection and progress; text contrast kept
above 7:1 for body text.
"""

from __future__ import annotations

from PySide6.QtGui import QColor, QFont, QPalette
from PySide6.QtWidgets import QApplication

WINDOW = "#232629"
BASE = "#1a1c1e"
ALT_BASE = "#202326"
PANEL = "#2b2f33"
BORDER = "#3a3f44"
TEXT = "#e3e6e8"
DIM_TEXT = "#8e969c"
ACCENT = "#4aa3ff"
ACCENT_TEXT = "#0b1a2a"
VIEWER_BACKDROP = "#111213"
DANGER = "#ff6b5a"
SUCCESS = "#5ccf7a"
WARNING = "#f0b54a"

STYLE_SHEET = f"""
QMainWindow::separator {{ background: {BASE}; width: 4px; height: 4px; }}
QMainWindow::separator:hover {{ background: {ACCENT}; }}
QDockWidget {{ color: {TEXT}; titlebar-close-icon: none; }}
QDockWidget::title {{
    background: {PANEL}; padding: 5px 8px; border-bottom: 1px solid {BORDER};
    text-transform: uppercase; font-weight: 600;
}}
QTabBar::tab {{
    background: {WINDOW}; color: {DIM_TEXT}; padding: 5px 14px; border: 1px solid {BORDER};
    border-bottom: none; margin-right: 1px;
}}
QTabBar::tab:selected {{ background: {PANEL}; color: {TEXT}; border-top: 2px solid {ACCENT}; }}
QToolTip {{ background: {PANEL}; color: {TEXT}; border: 1px solid {BORDER}; padding: 4px; }}
QLineEdit, QPlainTextEdit, QSpinBox, QDoubleSpinBox, QComboBox {{
    background: {BASE}; border: 1px solid {BORDER}; border-radius: 3px; padding: 3px 5px;
    selection-background-color: {ACCENT}; selection-color: {ACCENT_TEXT};
}}
QLineEdit:focus, QPlainTextEdit:focus, QSpinBox:focus, QDoubleSpinBox:focus,
QComboBox:focus {{ border: 1px solid {ACCENT}; }}
QLineEdit:disabled, QPlainTextEdit:disabled, QSpinBox:disabled, QDoubleSpinBox:disabled,
QComboBox:disabled {{ color: {DIM_TEXT}; background: {WINDOW}; }}
QPushButton, QToolButton {{
    background: {PANEL}; border: 1px solid {BORDER}; border-radius: 3px; padding: 4px 10px;
}}
QToolButton {{ padding: 3px 6px; }}
QPushButton:hover, QToolButton:hover {{ border-color: {ACCENT}; }}
QPushButton:pressed, QToolButton:pressed, QToolButton:checked {{
    background: #1f3b57; border-color: {ACCENT};
}}
QPushButton:disabled, QToolButton:disabled {{ color: {DIM_TEXT}; }}
QPushButton#primary {{
    background: {ACCENT}; color: {ACCENT_TEXT}; border: none; font-weight: 600; padding: 6px 14px;
}}
QPushButton#primary:hover {{ background: #6db5ff; }}
QPushButton#primary:disabled {{ background: {BORDER}; color: {DIM_TEXT}; }}
QProgressBar {{
    background: {BASE}; border: 1px solid {BORDER}; border-radius: 3px; text-align: center;
    color: {TEXT}; min-height: 14px;
}}
QProgressBar::chunk {{ background: {ACCENT}; border-radius: 2px; }}
QSlider::groove:horizontal {{ height: 4px; background: {BORDER}; border-radius: 2px; }}
QSlider::sub-page:horizontal {{ background: {ACCENT}; border-radius: 2px; }}
QSlider::handle:horizontal {{
    background: {TEXT}; width: 12px; height: 12px; margin: -5px 0; border-radius: 6px;
}}
QHeaderView::section {{
    background: {PANEL}; color: {DIM_TEXT}; border: none; border-right: 1px solid {BORDER};
    border-bottom: 1px solid {BORDER}; padding: 4px 6px;
}}
QTreeView, QListView, QTableView {{
    background: {BASE}; alternate-background-color: {ALT_BASE}; border: none;
    selection-background-color: #1f3b57; selection-color: {TEXT};
}}
QTreeView::item, QListView::item {{ padding: 3px; }}
QMenu {{ background: {PANEL}; border: 1px solid {BORDER}; padding: 4px; }}
QMenu::item {{ padding: 5px 24px 5px 18px; }}
QMenu::item:selected {{ background: #1f3b57; }}
QMenu::separator {{ height: 1px; background: {BORDER}; margin: 4px 8px; }}
QMenuBar {{ background: {WINDOW}; }}
QMenuBar::item:selected {{ background: {PANEL}; }}
QStatusBar {{ background: {BASE}; color: {DIM_TEXT}; }}
QLabel#dim {{ color: {DIM_TEXT}; }}
QLabel#heading {{ color: {TEXT}; font-weight: 600; }}
QLabel#counter {{ font-family: monospace; color: {TEXT}; }}
QScrollBar:vertical {{ background: {BASE}; width: 10px; }}
QScrollBar::handle:vertical {{ background: {BORDER}; min-height: 24px; border-radius: 4px; }}
QScrollBar::add-line, QScrollBar::sub-line {{ height: 0; width: 0; }}
"""


def dark_palette() -> QPalette:
    palette = QPalette()
    roles = {
        QPalette.ColorRole.Window: WINDOW,
        QPalette.ColorRole.WindowText: TEXT,
        QPalette.ColorRole.Base: BASE,
        QPalette.ColorRole.AlternateBase: ALT_BASE,
        QPalette.ColorRole.ToolTipBase: PANEL,
        QPalette.ColorRole.ToolTipText: TEXT,
        QPalette.ColorRole.PlaceholderText: DIM_TEXT,
        QPalette.ColorRole.Text: TEXT,
        QPalette.ColorRole.Button: PANEL,
        QPalette.ColorRole.ButtonText: TEXT,
        QPalette.ColorRole.BrightText: "#ffffff",
        QPalette.ColorRole.Highlight: ACCENT,
        QPalette.ColorRole.HighlightedText: ACCENT_TEXT,
        QPalette.ColorRole.Link: ACCENT,
        QPalette.ColorRole.Light: "#4a5056",
        QPalette.ColorRole.Midlight: "#3a3f44",
        QPalette.ColorRole.Mid: "#2e3236",
        QPalette.ColorRole.Dark: "#16181a",
        QPalette.ColorRole.Shadow: "#000000",
    }
    for role, colour in roles.items():
        palette.setColor(role, QColor(colour))
    disabled = QPalette.ColorGroup.Disabled
    for role in (
        QPalette.ColorRole.WindowText,
        QPalette.ColorRole.Text,
        QPalette.ColorRole.ButtonText,
    ):
        palette.setColor(disabled, role, QColor(DIM_TEXT))
    return palette


def apply(app: QApplication) -> None:
    """Fusion + the dark palette + the style sheet, on the whole application."""
    app.setStyle("Fusion")
    app.setPalette(dark_palette())
    font = QFont(app.font())
    if font.pointSizeF() < 9.5:
        font.setPointSizeF(9.5)
    app.setFont(font)
    app.setStyleSheet(STYLE_SHEET)
