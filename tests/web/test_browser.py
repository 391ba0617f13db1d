"""End to end in real headless Chromium (Debian's ``chromium`` + ``chromium-driver``, driven by Selenium).

A person's session: open the page, drag the eps slider, wait for the scores
to change, switch the CAM overlay on, upload a file that is not an image.
Not skipped when Chromium is missing: it fails saying what to install (CI
installs it, see README "Web page").

``ADVINTERP_SCREENSHOT=path.png`` also saves the final screenshot there.
"""

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("ADVINTERP_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("ADVINTERP_CHROMEDRIVER", shutil.which("chromedriver") or "/usr/bin/chromedriver")
# The closed network makes Chromium's background services fail or stall: all off, and a fresh profile per run.
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=1280,1450")
WAIT = 30


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not Path(p).is_file()]
    if missing:
        pytest.fail(f"the browser test needs Chromium and its driver, missing: {missing}. Install them with "
                    "`tools/install-chromium.sh` (Debian/Ubuntu: apt-get install chromium chromium-driver), "
                    "or point ADVINTERP_CHROMIUM / ADVINTERP_CHROMEDRIVER at them.")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(WAIT)
    yield driver
    driver.quit()


def _updates(driver) -> int:
    return int(driver.execute_script("return Number(document.body.dataset.updates || 0)"))


def _top5(driver, list_id):
    return [li.text for li in driver.find_elements("css selector", f"#{list_id} li")]


def test_slider_moves_scores_and_cam_follows(browser, live_server, tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, WAIT)
    browser.get(live_server.url + "/")
    wait.until(lambda d: _updates(d) >= 1 and len(_top5(d, "adv-top5")) == 5)
    assert browser.find_element("id", "model").get_attribute("value") == "shapes"
    before_scores, before_updates = _top5(browser, "adv-top5"), _updates(browser)
    assert "8/255" in browser.find_element("id", "eps-value").text

    slider = browser.find_element("id", "eps")
    ActionChains(browser).click_and_hold(slider).move_by_offset(80, 0).release().perform()
    wait.until(lambda d: _updates(d) > before_updates and _top5(d, "adv-top5") != before_scores)
    eps_255 = float(slider.get_attribute("value"))
    assert eps_255 > 32, f"the drag should move the slider past its middle. Got {eps_255}/255"
    wait.until(lambda d: f"eps {eps_255:g}/255" in d.find_element("id", "adv-title").text)
    assert "fooled" in browser.find_element("id", "adv-caption").text  # FGSM at > 32/255 flips this image
    assert "/255" in browser.find_element("id", "delta-caption").text

    assert not browser.find_element("id", "cam-row").is_displayed()
    browser.find_element("id", "cam-toggle").click()
    wait.until(lambda d: d.find_element("id", "cam-row").is_displayed()
               and d.find_element("id", "cam-adv").get_attribute("src").startswith("data:image/png"))
    assert "CAM" in browser.find_element("id", "cam-adv-caption").text.upper()
    wait.until(lambda d: "DeepFool flips" in d.find_element("id", "df-text").text)
    assert browser.find_element("id", "transfer-title").text.startswith("shapes_mobile")

    shot = tmp_path / "page.png"
    assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 20_000
    if os.environ.get("ADVINTERP_SCREENSHOT"):
        browser.save_screenshot(os.environ["ADVINTERP_SCREENSHOT"])
    severe = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert not severe, f"JavaScript errors on the page: {severe}"


def test_a_bad_upload_is_refused_on_the_page(browser, live_server, tmp_path):
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(live_server.url + "/")
    WebDriverWait(browser, WAIT).until(lambda d: _updates(d) >= 1)
    notes = tmp_path / "notes.txt"
    notes.write_text("not a picture\n")
    browser.find_element("id", "upload").send_keys(str(notes))
    message = browser.find_element("id", "message")
    WebDriverWait(browser, WAIT).until(lambda d: message.is_displayed() and "refused" in message.text)
    assert "notes.txt" in message.text and "PNG" in message.text
    assert len(_top5(browser, "adv-top5")) == 5  # the page keeps working
