"""Kinema's engine: the document, controls, media and generation, with no GUI.

Nothing under this package imports Qt; the studio sits on top and talks to the
engine through `engine.worker.Engine`, requests and events (`engine.jobs`).
"""

__version__ = "0.1.0"
