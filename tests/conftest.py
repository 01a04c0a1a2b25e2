"""Shared test setup: pygame runs offscreen."""

import os

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
