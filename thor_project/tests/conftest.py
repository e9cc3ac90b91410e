"""Headless Chromium for the page tests (Debian's chromium and chromedriver; nothing is downloaded)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as seen

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


@pytest.fixture
def chrome():
    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        if os.environ.get("REQUIRE_SERVICES") == "1":
            pytest.fail("Chromium and ChromeDriver are required (apt-get install chromium chromium-driver)")
        pytest.skip("needs Debian's chromium and chromium-driver")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1280,1000",
    ):
        options.add_argument(flag)
    try:
        driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    except WebDriverException as failure:
        pytest.fail(f"Chromium did not start: {failure.msg}")
    ARTIFACTS.mkdir(exist_ok=True)
    yield driver
    driver.quit()


@pytest.fixture
def page_on_sandbox(live_server, schwab, settings):
    """The live server wired to the sandbox (callback registered), polling fast; returns its URL."""
    callback = f"{live_server.url}/schwab/oauth/callback/"
    settings.SCHWAB_CALLBACK_URL = callback
    settings.THOR_DASHBOARD_POLL_SECONDS = 0.3
    schwab.state.config.callback_urls = (callback,)
    return live_server.url


def log_in_and_connect(chrome, wait, url: str, *, username: str, password: str) -> None:
    """Log in to Thor, press Connect Schwab and approve as trader1 at the sandbox's consent page."""
    chrome.get(f"{url}/dashboard/")
    chrome.find_element(By.ID, "id_username").send_keys(username)
    chrome.find_element(By.ID, "id_password").send_keys(password)
    chrome.find_element(By.ID, "login").click()
    connect_in_browser(chrome, wait, url)


def connect_in_browser(chrome, wait, url: str) -> None:
    """On the dashboard, logged in: press Connect Schwab and approve as trader1 at the consent page."""
    if not chrome.current_url.startswith(f"{url}/dashboard/"):
        chrome.get(f"{url}/dashboard/")
    wait.until(seen.visibility_of_element_located((By.ID, "connect-button"))).click()
    wait.until(seen.presence_of_element_located((By.NAME, "username"))).send_keys("trader1")
    chrome.find_element(By.NAME, "password").send_keys("trader1-pass")
    chrome.find_element(By.ID, "approve").click()
