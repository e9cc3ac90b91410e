"""The dashboard in headless Chromium, as a person uses it: log in, connect through the sandbox's consent
page, see the summary card and positions, watch a row update after a price move, and see the reconnect
banner once the refresh token has expired. Screenshots go to test-artifacts/."""

from __future__ import annotations

import re

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as seen
from selenium.webdriver.support.ui import Select, WebDriverWait

from devtools.sandbox.accounts import totals, value_holding
from devtools.testing import clear_faults, fault
from LiveData.schwab.live_data.summary import format_money
from thor_project.tests.conftest import ARTIFACTS, log_in_and_connect


def _net_liquidation(sandbox) -> str:
    account = sandbox.state.users["trader1"].accounts[0]
    now = sandbox.state.now()
    valued = [value_holding(holding, account.type, now) for holding in account.holdings]
    return format_money(totals(account, valued).liquidation_value)


@pytest.mark.django_db(transaction=True)
def test_connect_watch_and_reconnect(
    chrome, page_on_sandbox, schwab, settings, thor_clock, real_redis, django_user_model
):
    django_user_model.objects.create_user("carol", password="carol-password-123")
    wait = WebDriverWait(chrome, 20)
    log_in_and_connect(chrome, wait, page_on_sandbox, username="carol", password="carol-password-123")

    expected = _net_liquidation(schwab)
    wait.until(lambda driver: driver.find_element(By.ID, "net-liq").text == expected)
    rows = wait.until(lambda driver: driver.find_elements(By.CSS_SELECTOR, "#positions tbody tr"))
    assert len(rows) == len(schwab.state.users["trader1"].accounts[0].holdings)
    assert chrome.find_element(By.ID, "freshness").text == "live"
    bond = chrome.find_element(By.CSS_SELECTOR, 'tr[data-symbol="912797KX4"]')
    price = bond.find_elements(By.TAG_NAME, "td")[3].text
    assert price.endswith("%*") and "$" not in price  # percent of par, explained by the note
    assert "27/05/2027" in bond.text and "Matures May 27, 2027" in bond.text  # Schwab's text, our format
    assert chrome.find_element(By.ID, "par-note").is_displayed()
    assert chrome.find_element(By.ID, "as-of").text.endswith(" UTC")
    chrome.save_screenshot(str(ARTIFACTS / "dashboard-connected.png"))

    row = "#positions tbody tr:first-child td:nth-child(5)"
    before = chrome.find_element(By.CSS_SELECTOR, row).text
    thor_clock.advance(seconds=30)  # the sandbox's prices move; the summary is now old enough to refresh
    wait.until(lambda driver: driver.find_element(By.CSS_SELECTOR, row).text != before)
    assert chrome.find_element(By.ID, "net-liq").text == _net_liquidation(schwab)
    chrome.save_screenshot(str(ARTIFACTS / "dashboard-price-moved.png"))

    # Schwab goes down: the last numbers stay, marked stale, with a plain sentence (never raw JSON).
    fault(schwab, kind="503", count=-1, path_prefix="/trader/v1/accounts/")  # until cleared
    thor_clock.advance(seconds=30)
    problem = wait.until(seen.visibility_of_element_located((By.ID, "problem")))
    assert problem.text == "Schwab is not answering right now; showing the last numbers we have."
    assert chrome.find_element(By.ID, "freshness").text == "stale"
    chrome.save_screenshot(str(ARTIFACTS / "dashboard-schwab-down.png"))
    clear_faults(schwab)

    assert re.fullmatch(r"Schwab login: .+ left", chrome.find_element(By.ID, "status").text)
    # The trader looks at the second account when the login lapses; reconnecting brings them back to it.
    second = schwab.state.users["trader1"].accounts[1].hash_value
    Select(chrome.find_element(By.ID, "account")).select_by_value(second)
    wait.until(lambda driver: f"account={second}" in driver.current_url)
    thor_clock.advance(days=7)  # the refresh token dies 7 days after the login
    banner = wait.until(seen.visibility_of_element_located((By.ID, "reconnect")))
    assert "Reconnect Schwab" in banner.text
    chrome.save_screenshot(str(ARTIFACTS / "dashboard-reconnect.png"))
    assert "{" not in chrome.find_element(By.TAG_NAME, "main").text  # never raw JSON on the page
    banner.find_element(By.TAG_NAME, "a").click()
    wait.until(seen.presence_of_element_located((By.NAME, "username"))).send_keys("trader1")
    chrome.find_element(By.NAME, "password").send_keys("trader1-pass")
    chrome.find_element(By.ID, "approve").click()
    wait.until(lambda driver: "schwab=connected" in driver.current_url)
    assert f"account={second}" in chrome.current_url
    wait.until(lambda driver: driver.find_element(By.ID, "account").get_attribute("value") == second)
    wait.until(lambda driver: not driver.find_element(By.ID, "reconnect").is_displayed())
