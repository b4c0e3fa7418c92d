"""A private HOME for the real Claude Code CLI, so it starts straight into its input box
(about 0.6 s) against the fake model server: no theme picker, no API-key approval, no
folder-trust or bypass-permissions warning, no auto-update, no telemetry. Checked against
2.1.197: without the onboarding, API-key or trust key the named dialog appears; either bypass
key alone suppresses the bypass warning.

CLAUDE_CODE_MAX_RETRIES=0: a scripted `Fail` ends the turn at once instead of after ten
retries with backoff (about 3 minutes).
"""

from __future__ import annotations

import json
from pathlib import Path

API_KEY = "sk-ant-api03-fake-studio-test-key-0123456789abcdefghij"
VERSION = "2.1.197"


def prepare(home: Path, cwd: Path, base_url: str) -> dict[str, str]:
    """Write `home/.claude.json` (and `home/.claude/`) and return the environment to run
    `claude` with; merge it over a minimal base env (PATH, TERM), not the developer's."""
    home.mkdir(parents=True, exist_ok=True)
    (home / ".claude").mkdir(exist_ok=True)
    state = {
        # the first-run theme picker
        "hasCompletedOnboarding": True,
        "lastOnboardingVersion": VERSION,
        "theme": "dark",
        "autoUpdates": False,
        # "Detected a custom API key ... Do you want to use this API key?"
        "customApiKeyResponses": {"approved": [API_KEY[-20:]], "rejected": []},
        # the --dangerously-skip-permissions warning (as root it also needs IS_SANDBOX=1)
        "bypassPermissionsModeAccepted": True,
        # "Quick safety check: Is this a project you created or one you trust?"
        "projects": {
            str(cwd.resolve()): {
                "hasTrustDialogAccepted": True,
                "hasCompletedProjectOnboarding": True,
            }
        },
    }
    (home / ".claude.json").write_text(json.dumps(state, indent=2))
    settings = {"skipDangerousModePermissionPrompt": True}
    (home / ".claude" / "settings.json").write_text(json.dumps(settings, indent=2))
    return {
        "HOME": str(home),
        "ANTHROPIC_BASE_URL": base_url,
        "ANTHROPIC_API_KEY": API_KEY,
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_AUTOUPDATER": "1",
        "DISABLE_TELEMETRY": "1",
        "DISABLE_ERROR_REPORTING": "1",
        "CLAUDE_CODE_MAX_RETRIES": "0",
    }
