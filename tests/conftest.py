"""Shared test setup: the tests folder is importable (oracle, engine helpers)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from servers import *  # noqa: E402,F403  (redis_server, push_server, ... fixtures)
