"""A private home for the real OpenCode CLI, pointed at the fake model server.

OpenCode bundles `@ai-sdk/openai-compatible`, so the provider needs no npm install. What it
does install on its own, in the background at every start, is `@opencode-ai/plugin` into each
config directory that has no `node_modules` (here `$XDG_CONFIG_HOME/opencode`): that is
installed once into a shared cache under /root/.cache/studio/ and linked in, so a run makes no
network call and does not wait on npm.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
from pathlib import Path

OPENCODE_VERSION = "1.18.33"
DEPS = Path.home() / ".cache" / "studio" / "opencode-config-deps"
PROVIDER = "fake"
MODEL = "fake-model"


def _config(base_url: str) -> dict[str, object]:
    return {
        "$schema": "https://opencode.ai/config.json",
        "model": f"{PROVIDER}/{MODEL}",
        "small_model": f"{PROVIDER}/{MODEL}",
        "enabled_providers": [PROVIDER],
        "provider": {
            PROVIDER: {
                "npm": "@ai-sdk/openai-compatible",
                "name": "Fake",
                "options": {"baseURL": f"{base_url}/v1", "apiKey": "fake"},
                "models": {
                    MODEL: {
                        "name": "Fake Model",
                        "tool_call": True,
                        "limit": {"context": 200_000, "output": 8_192},
                    }
                },
            }
        },
        "autoupdate": False,
        "share": "disabled",
        "lsp": False,
        "formatter": False,
    }


def _plugin_deps() -> Path | None:
    """`@opencode-ai/plugin` installed once, as OpenCode would install it in a config dir;
    None if npm failed (OpenCode then tries its own install, in the background, harmlessly)."""
    DEPS.mkdir(parents=True, exist_ok=True)
    with open(DEPS / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (DEPS / "node_modules" / "@opencode-ai" / "plugin").is_dir():
            subprocess.run(
                ["npm", "install", "--no-audit", "--no-fund", "--ignore-scripts", "--save-exact",
                 f"@opencode-ai/plugin@{OPENCODE_VERSION}"],
                cwd=DEPS, capture_output=True,
            )  # fmt: skip
    return DEPS if (DEPS / "node_modules" / "@opencode-ai" / "plugin").is_dir() else None


def prepare(
    home: Path, cwd: Path, base_url: str, permission: dict[str, str] | None = None
) -> dict[str, str]:
    """Write `home` (HOME and the XDG dirs) so that `opencode`, run in `cwd`, uses the fake
    model at `base_url` with no dialog and no network; the environment to run it with."""
    xdg = {
        "XDG_CONFIG_HOME": home / ".config",
        "XDG_DATA_HOME": home / ".local" / "share",
        "XDG_CACHE_HOME": home / ".cache",
        "XDG_STATE_HOME": home / ".local" / "state",
    }
    config_dir = xdg["XDG_CONFIG_HOME"] / "opencode"
    for path in [*xdg.values(), config_dir, cwd]:
        path.mkdir(parents=True, exist_ok=True)
    config = _config(base_url)
    if permission:
        config["permission"] = permission  # the user's own rules; studio's merge over them
    (config_dir / "opencode.json").write_text(json.dumps(config, indent=2))
    deps = _plugin_deps()
    if deps and not (config_dir / "node_modules").exists():
        for name in ("package.json", "package-lock.json"):
            (config_dir / name).write_text((deps / name).read_text())
        (config_dir / "node_modules").symlink_to(deps / "node_modules")
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENCODE")}
    env.update({k: str(v) for k, v in xdg.items()})
    env.update(
        HOME=str(home),
        TERM="xterm-256color",
        OPENCODE_DISABLE_MODELS_FETCH="1",
        OPENCODE_DISABLE_AUTOUPDATE="1",
        OPENCODE_DISABLE_SHARE="1",
        OPENCODE_DISABLE_LSP_DOWNLOAD="1",
        OPENCODE_DISABLE_DEFAULT_PLUGINS="1",
        OPENCODE_DISABLE_CLAUDE_CODE="1",
        OPENCODE_DISABLE_EXTERNAL_SKILLS="1",
        OPENCODE_DISABLE_TERMINAL_TITLE="1",
    )
    return env
