"""A private HOME for the real Claude Code CLI, so it starts straight into its input box
against the fake model server: no theme picker, no login, no API-key approval, no folder-trust
or bypass-permissions warning, no release notes, no auto-update, no telemetry.
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
        "numStartups": 1,
        "theme": "dark",
        "hasCompletedOnboarding": True,
        "lastOnboardingVersion": VERSION,
        "lastReleaseNotesSeen": VERSION,
        "bypassPermissionsModeAccepted": True,
        "hasUsedBackslashReturn": True,
        "shiftEnterKeyBindingInstalled": True,
        "hasIdeOnboardingBeenShown": {"vscode": True},
        "autoUpdates": False,
        "officialMarketplaceAutoInstallAttempted": True,
        "officialMarketplaceAutoInstalled": True,
        "customApiKeyResponses": {"approved": [API_KEY[-20:]], "rejected": []},
        "projects": {
            str(cwd): {
                "hasTrustDialogAccepted": True,
                "hasCompletedProjectOnboarding": True,
                "projectOnboardingSeenCount": 1,
                "allowedTools": [],
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
