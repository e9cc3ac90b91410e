"""The dashboard's orders panel follows the order stream in Chromium: an order shows up WORKING and turns
FILLED as the sandbox fills it, with polling switched off, so only the stream can have told the page.
Real processes, as in production: uvicorn serving Thor (ASGI) and `manage.py schwab_stream`."""

from __future__ import annotations

import pytest
import requests
from django.contrib.auth.models import User
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from devtools.testing import api, limit_buy
from LiveData.schwab.models import BrokerConnection
from LiveData.schwab.tests.servers import asgi_server, logged_in_session, stream_worker
from thor_project.tests.conftest import ARTIFACTS, connect_in_browser


@pytest.mark.django_db(transaction=True)
def test_an_order_goes_working_then_filled_live(chrome, servers_environment, schwab, tmp_path):
    dora = User.objects.create_user("dora", password="dora-password-123")
    environment = {
        **servers_environment,
        "THOR_DASHBOARD_POLL_SECONDS": "3600",  # no polling: what changes on the page came by the stream
        "SCHWAB_STREAM_POLL_SECONDS": "0.2",
    }
    del environment["SCHWAB_CALLBACK_URL"]  # the server's own
    with asgi_server(environment, log=tmp_path / "uvicorn.log") as server:
        schwab.state.config.callback_urls = (f"{server.url}/schwab/oauth/callback/",)
        worker = stream_worker(environment, log=tmp_path / "worker.log", worker_id="browser-test")
        try:
            wait = WebDriverWait(chrome, 30)
            # The login cookie of a session in the shared database (the servers' password hasher is not
            # the tests'), then Connect Schwab and consent as a person would.
            chrome.get(f"{server.url}/schwab/health/")
            chrome.add_cookie({"name": "sessionid", "value": logged_in_session(dora).cookies["sessionid"]})
            connect_in_browser(chrome, wait, server.url)
            wait.until(lambda driver: schwab.state.stream_sessions["trader1"] == 1)  # the worker streams it
            wait.until(lambda driver: driver.execute_script("return document.readyState") == "complete")
            # The page's order stream is open ("ready" came): an event sent before it would not reach it.
            wait.until(lambda driver: driver.find_elements(By.CSS_SELECTOR, 'body[data-order-stream="open"]'))
            connection = BrokerConnection.objects.get()
            account = api(schwab, connection.access_token, "/accounts/accountNumbers").json()[0]["hashValue"]
            placed = api(
                schwab,
                connection.access_token,
                f"/accounts/{account}/orders",
                "POST",
                json=limit_buy("KO", 3),
            )
            order_id = placed.headers["Location"].rsplit("/", 1)[1]

            row = f'#orders tbody tr[data-order="{order_id}"]'
            wait.until(lambda driver: driver.find_elements(By.CSS_SELECTOR, f'{row}[data-status="WORKING"]'))
            chrome.execute_script("document.getElementById('orders').scrollIntoView()")
            chrome.save_screenshot(str(ARTIFACTS / "orders-stream-working.png"))
            requests.post(f"{schwab.url}/sandbox/orders/{order_id}/execute", json={}, timeout=5)
            wait.until(lambda driver: driver.find_elements(By.CSS_SELECTOR, f'{row}[data-status="FILLED"]'))
            cells = chrome.find_element(By.CSS_SELECTOR, row).find_elements(By.TAG_NAME, "td")
            assert cells[6].text == "FILLED" and cells[7].text == "3"
            chrome.save_screenshot(str(ARTIFACTS / "orders-stream-filled.png"))
            chrome.get("about:blank")  # close the stream before the server stops
        finally:
            worker.terminate()
            worker.wait(timeout=30)
