"""Where the files that ship with Kinema live, without importing anything heavy.

Backends read these to say whether they can run (the studio asks at start-up, on the GUI
thread), so this module must stay free of torch and friends.
"""

from __future__ import annotations

from pathlib import Path

ASSETS = Path(__file__).resolve().parents[1] / "assets"
BUILTIN_WEIGHTS = ASSETS / "models" / "builtin"
SAMPLES = ASSETS / "samples"
