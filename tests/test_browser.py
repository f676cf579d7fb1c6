"""Headless Chromium opens the report of a ``--quick`` demo: images load, no console errors.

Drives Debian's ``chromium`` through the DevTools protocol (``--remote-debugging-port``, a
websocket client); skips when Chromium or ``websocket-client`` is not installed.  The full-page
screenshot is saved in the test's tmp folder and copied to ``$EUV2MAG_ARTIFACTS`` when set.
"""
from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest


pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-extensions", "--disable-default-apps", "--hide-scrollbars", "--window-size=1200,900",
)


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("Chromium is not installed (apt-get install chromium)")


class DevTools:
    """A minimal DevTools-protocol session on one page target."""

    def __init__(self, ws_url: str):
        import websocket

        self.ws = websocket.create_connection(ws_url, timeout=60, suppress_origin=True)
        self._id = 0
        self.events: list[dict] = []

    def call(self, method: str, **params) -> dict:
        self._id += 1
        self.ws.send(json.dumps({"id": self._id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self._id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self.events.append(msg)

    def wait_for(self, method: str, timeout: float = 60.0) -> dict:
        end = time.monotonic() + timeout
        for ev in self.events:
            if ev.get("method") == method:
                return ev
        while time.monotonic() < end:
            msg = json.loads(self.ws.recv())
            self.events.append(msg)
            if msg.get("method") == method:
                return msg
        raise TimeoutError(method)

    def close(self) -> None:
        self.ws.close()


@pytest.fixture()
def browser(tmp_path):
    pytest.importorskip("websocket", reason="websocket-client is not installed")
    exe = _chromium()
    profile = tmp_path / "chromium-profile"
    log = open(tmp_path / "chromium.log", "w")
    proc = subprocess.Popen(
        [exe, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--remote-debugging-port=0", "about:blank"],
        stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        # Chromium writes the port it chose to <profile>/DevToolsActivePort
        port = None
        end = time.monotonic() + 60
        active = profile / "DevToolsActivePort"
        while time.monotonic() < end and port is None and proc.poll() is None:
            if active.is_file() and active.read_text().strip():
                port = int(active.read_text().split()[0])
            else:
                time.sleep(0.1)
        if port is None:
            pytest.fail("Chromium did not start its DevTools endpoint; see " + str(tmp_path / "chromium.log"))
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as resp:
            targets = json.load(resp)
        page = next(t for t in targets if t.get("type") == "page")
        tools = DevTools(page["webSocketDebuggerUrl"])
        yield tools
        tools.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def test_report_opens_in_chromium(quick_demo, browser, tmp_path):
    report = Path(quick_demo) / "report.html"
    assert report.is_file()
    for domain in ("Page", "Runtime", "Log"):
        browser.call(f"{domain}.enable")
    browser.call("Page.navigate", url=report.resolve().as_uri())
    browser.wait_for("Page.loadEventFired")
    images = json.loads(browser.call(
        "Runtime.evaluate",
        expression="JSON.stringify(Array.from(document.images).map(i => [i.complete, i.naturalWidth, i.naturalHeight, i.alt]))",
        returnByValue=True,
    )["result"]["value"])
    sections = browser.call("Runtime.evaluate", expression="document.querySelectorAll('section').length",
                            returnByValue=True)["result"]["value"]
    metrics = browser.call("Page.getLayoutMetrics")
    size = metrics.get("cssContentSize") or metrics["contentSize"]
    shot = browser.call("Page.captureScreenshot", format="png", captureBeyondViewport=True,
                        clip={"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1})
    png = base64.b64decode(shot["data"])
    out = tmp_path / "report-fullpage.png"
    out.write_bytes(png)
    if os.environ.get("EUV2MAG_ARTIFACTS"):
        dest = Path(os.environ["EUV2MAG_ARTIFACTS"])
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copy(out, dest / out.name)
    # a short pause lets late console messages arrive before we read them
    browser.call("Runtime.evaluate", expression="new Promise(r => setTimeout(r, 300))", awaitPromise=True)
    errors = []
    for ev in browser.events:
        method, params = ev.get("method"), ev.get("params", {})
        if method == "Runtime.exceptionThrown":
            errors.append(params["exceptionDetails"].get("text"))
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            errors.append(str(params.get("args")))
        elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
            errors.append(params["entry"].get("text"))
    assert errors == []
    assert sections >= 8
    # the quick demo's report has at least: activity, leakage, saturation, AMF, Fig. 1, training, full-disk, std map
    assert len(images) >= 8
    assert all(complete and width > 0 and height > 0 for complete, width, height, _ in images), images
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    from PIL import Image

    with Image.open(out) as im:
        assert im.size[0] >= 800 and im.size[1] > 3000  # the whole page, not just the viewport
