"""Labels whose text never sets the width of the panel they sit in.

A plain QLabel asks for its whole text on one line (or, wrapped, for a height Qt's form
and scroll layouts work out for another width), so a long message either widens its dock,
and with it the window, or gets its lines cut off top and bottom.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget


class ElidedLabel(QLabel):
    """One line in the room it is given, cut with "…" when it does not fit; the whole
    text is the tooltip. It asks for no width of its own."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._full = ""
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)

    def setText(self, text: str) -> None:  # noqa: N802
        self._full = text
        self.setToolTip(text)
        self._elide()

    def full_text(self) -> str:
        return self._full

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        shown = self.fontMetrics().elidedText(self._full, Qt.TextElideMode.ElideRight, self.width())
        super().setText(shown)


class WrappedLabel(QLabel):
    """Word-wrapped, and always as tall as its text is at the width it has: it sets its
    least height from that width whenever either changes, which a form row inside a
    scroll area otherwise gets wrong (it cut the backend's description in the inspector)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWordWrap(True)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Minimum)

    def setText(self, text: str) -> None:  # noqa: N802
        super().setText(text)
        self._fit()

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._fit()

    def _fit(self) -> None:
        height = self.heightForWidth(max(self.width(), 1)) if self.text() else 0
        if height != self.minimumHeight():
            self.setMinimumHeight(height)
