"""Where `make agent-clis` installed the pinned agent CLIs (tests/agents/package.json)."""

from __future__ import annotations

import os
from pathlib import Path

CLIS = Path(
    os.environ.get("STUDIO_AGENT_CLIS")
    or Path.home() / ".cache" / "studio" / "agent-clis" / "node_modules" / ".bin"
)
