"""A real `studio dashboard` process on a real nats-server, and a real headless Chromium
(Debian's `chromium` and `chromium-driver`, which `make browser` installs) driven by
Selenium. Screenshots go to $STUDIO_ARTIFACTS (default .artifacts/, outside git)."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from broker.connection import Broker
from tests.node_agent.conftest import STUDIO

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
START_S = 30.0


def artifacts_dir() -> Path:
    root = Path(os.environ.get("STUDIO_ARTIFACTS") or Path(__file__).parents[3] / ".artifacts")
    path = root / "dashboard"
    path.mkdir(parents=True, exist_ok=True)
    return path


@dataclass
class Dashboard:
    url: str  # with ?token=
    base: str
    proc: subprocess.Popen

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


def start_dashboard(broker: Broker, *extra: str) -> Dashboard:
    """`studio dashboard --port 0` for the broker's team and node, reading the printed URL."""
    s = broker.settings
    env = {
        **os.environ,
        "STUDIO_NATS_URL": ",".join(s.nats_url),
        "STUDIO_HOME": str(s.home),
        "STUDIO_TEAM": s.team,
        "STUDIO_NODE": s.node,
    }
    env.pop("STUDIO_AGENT_ID", None)
    proc = subprocess.Popen(
        [STUDIO, "dashboard", "--port", "0", *extra],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line: list[str] = []
    reader = threading.Thread(target=lambda: line.append(proc.stdout.readline()), daemon=True)  # type: ignore[union-attr]
    reader.start()
    reader.join(START_S)
    if not line or not line[0].startswith("studio dashboard: "):
        proc.kill()
        _, err = proc.communicate(timeout=5)
        raise AssertionError(f"the dashboard did not start: {line} {err[-2000:]}")
    url = line[0].split(": ", 1)[1].strip()
    return Dashboard(url=url, base=url.split("?", 1)[0], proc=proc)


@pytest.fixture
async def dashboard(broker: Broker) -> AsyncIterator[Dashboard]:
    started = start_dashboard(broker)
    yield started
    started.stop()


def headless_chromium() -> webdriver.Chrome:
    """The system Chromium (`make browser`), headless, driven by its chromedriver."""
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1500,1100",
    ):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)


@pytest.fixture(scope="session")
def chromium() -> Iterator[webdriver.Chrome]:
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.fail("chromium and chromium-driver are not installed: run `make browser`")
    driver = headless_chromium()
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def browser(chromium: webdriver.Chrome) -> webdriver.Chrome:
    chromium.delete_all_cookies()
    chromium.get("about:blank")
    return chromium
