"""Help > Keyboard shortcuts: a non-modal page listing `shortcuts.SHORTCUTS` by group."""

from __future__ import annotations

from html import escape

from PySide6.QtWidgets import QDialog, QTextBrowser, QVBoxLayout, QWidget

from . import theme
from .shortcuts import SHORTCUTS, Shortcut, display_keys


def _keycaps(item: Shortcut) -> str:
    caps = []
    for keys in display_keys(item):
        caps.append(
            f'<span style="background-color:{theme.PANEL}; color:{theme.TEXT}; '
            f'font-family:monospace; font-weight:600;">&nbsp;{escape(keys)}&nbsp;</span>'
        )
    return f' <span style="color:{theme.DIM_TEXT}">or</span> '.join(caps)


def shortcuts_html() -> str:
    groups: dict[str, list[Shortcut]] = {}
    for item in SHORTCUTS:
        groups.setdefault(item.group, []).append(item)
    parts = [
        f'<p style="color:{theme.DIM_TEXT}">Playback keys work whenever the typing cursor is '
        "not in a text field. Esc stops the job that is running; queued jobs keep their place. "
        "The timeline's, camera editor's and motion brush's own keys work while that tool has "
        "the focus: click into it first.</p>"
    ]
    for group, items in groups.items():
        parts.append(
            f'<h3 style="color:{theme.ACCENT}; margin-top:14px; margin-bottom:4px">{escape(group)}</h3>'
        )
        parts.append('<table cellspacing="0" cellpadding="4" width="100%">')
        for item in items:
            parts.append(
                f'<tr><td width="42%">{_keycaps(item)}</td>'
                f'<td style="color:{theme.TEXT}">{escape(item.label)}</td></tr>'
            )
        parts.append("</table>")
    return "".join(parts)


class ShortcutsPage(QDialog):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        self.setModal(False)
        self.resize(540, 860)
        self.browser = QTextBrowser(self)
        self.browser.setOpenLinks(False)
        self.browser.setHtml(shortcuts_html())
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 12, 12, 12)
        layout.addWidget(self.browser)

    def text(self) -> str:
        return self.browser.toPlainText()
