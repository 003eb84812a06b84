"""End to end in a real browser: headless Debian Chromium (Selenium + chromedriver) opens the page served
by `asr serve`, uploads a WAV and reads the transcript, each word's confidence shade and the legend, and
the word times; then uploads a non-audio file and reads the error message."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
    pytest.skip(
        "Debian chromium + chromium-driver are not installed (make install brings them)",
        allow_module_level=True,
    )
selenium = pytest.importorskip("selenium")
from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402
from serve_helpers import Server, httpx  # noqa: E402 - skips this module without httpx or uvicorn
from tiny_model import tiny_checkpoint  # noqa: E402


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("browser")
    # A peaky model: several words to show.
    srv = Server(tiny_checkpoint(tmp / "tiny.pt"), tmp / "server.log", start_timeout_s=90)
    yield srv.url
    srv.stop()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    driver = _chromium(tmp_path_factory)
    yield driver
    driver.quit()


def _chromium(tmp_path_factory, *extra: str):
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-first-run", f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):  # fmt: skip
        options.add_argument(flag)
    for flag in extra:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    return driver


def _upload(browser, url: str, path: Path) -> str:
    browser.get(url + "/")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Speech to text"
    browser.find_element(By.ID, "file").send_keys(str(path))
    browser.find_element(By.ID, "upload").click()
    WebDriverWait(browser, 60).until(
        lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-state") in ("done", "error")
    )
    return browser.find_element(By.TAG_NAME, "body").get_attribute("data-state")


def _recorded_s(text: str) -> float:
    """Seconds from the page's "recording 1.2 s" counter (0 before it first ticks)."""
    try:
        return float(text.split()[1])
    except (IndexError, ValueError):
        return 0.0


def test_page_uploads_wav_and_shows_transcript_with_word_times(server, browser, speech_corpus):
    wav = speech_corpus / "wav" / "2.wav"
    expected = httpx.post(server + "/v1/transcribe", files={"file": ("2.wav", wav.read_bytes())}).json()
    assert expected["text"] and expected["words"]
    assert _upload(browser, server, wav) == "done", browser.find_element(By.ID, "status").text
    assert browser.find_element(By.ID, "transcript").text == expected["text"]
    rows = browser.find_elements(By.CSS_SELECTOR, "#words tbody tr")
    assert [r.find_elements(By.TAG_NAME, "td")[0].text for r in rows] == [
        w["word"] for w in expected["words"]
    ]
    first = rows[0].find_elements(By.TAG_NAME, "td")
    assert float(first[1].text) == pytest.approx(expected["words"][0]["start"], abs=0.006)
    assert float(first[2].text) == pytest.approx(expected["words"][0]["end"], abs=0.006)
    assert "Done" in browser.find_element(By.ID, "status").text


def _alpha(css_color: str) -> float:
    """The alpha of a computed CSS colour ("rgba(r, g, b, a)"; "rgb(...)" is opaque)."""
    parts = css_color[css_color.index("(") + 1 : -1].split(",")
    return float(parts[3]) if len(parts) == 4 else 1.0


def test_page_shades_each_word_by_its_confidence_with_a_legend(server, browser, speech_corpus):
    wav = speech_corpus / "wav" / "3.wav"
    expected = httpx.post(server + "/v1/transcribe", files={"file": ("3.wav", wav.read_bytes())}).json()
    assert expected["words"]
    assert _upload(browser, server, wav) == "done", browser.find_element(By.ID, "status").text
    spans = browser.find_elements(By.CSS_SELECTOR, "#transcript span.w")
    assert [s.text for s in spans] == [w["word"] for w in expected["words"]]
    for span, word in zip(spans, expected["words"]):
        assert float(span.get_attribute("data-confidence")) == pytest.approx(word["confidence"], abs=6e-4)
        assert span.get_attribute("title") == f"confidence {word['confidence']:.2f}"
        # the less sure the recognizer, the stronger the shade: alpha 0.85 x (1 - confidence)
        shade = _alpha(span.value_of_css_property("background-color"))
        assert shade == pytest.approx(0.85 * (1 - word["confidence"]), abs=0.01)
    legend = browser.find_element(By.ID, "legend")
    assert legend.is_displayed() and "how sure the recognizer is of each word" in legend.text
    swatches = legend.find_elements(By.CSS_SELECTOR, "span.w:not(.unknown)")
    assert [s.text for s in swatches] == ["1.0", "0.75", "0.5", "0.25", "0.0"]
    shades = [_alpha(s.value_of_css_property("background-color")) for s in swatches]
    assert shades == sorted(shades) and shades[0] == 0 and shades[-1] == pytest.approx(0.85, abs=0.01)
    # the page named no decoder: the model's own decoding ran (greedy: this model has no decoder.json)
    assert browser.find_element(By.ID, "decoder").get_attribute("value") == ""
    assert "(greedy decoding)" in browser.find_element(By.ID, "status").text


def test_page_shows_error_for_non_audio(server, browser, tmp_path):
    bad = tmp_path / "notes.wav"
    bad.write_text("this is not audio\n" * 20)
    assert _upload(browser, server, bad) == "error"
    status = browser.find_element(By.ID, "status").text
    assert "Error 422" in status and "cannot decode audio" in status
    assert httpx.get(server + "/healthz").json()["status"] == "ok"  # and the service keeps serving


def test_page_records_from_microphone(server, tmp_path_factory):
    """Chromium's fake microphone (a beep) → MediaRecorder (webm/opus) → upload → ffmpeg decode → result."""
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg is needed to decode the browser's webm recording (make install brings it)")
    driver = _chromium(
        tmp_path_factory, "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"
    )
    try:
        driver.get(server + "/")
        driver.find_element(By.ID, "record").click()
        WebDriverWait(driver, 10).until(
            lambda d: (
                d.find_element(By.TAG_NAME, "body").get_attribute("data-state") in ("recording", "error")
            )
        )
        assert driver.find_element(By.TAG_NAME, "body").get_attribute("data-state") == "recording", (
            driver.find_element(By.ID, "status").text
        )
        # Record until the page's own clock shows 1.5 s (a deadline, not a fixed sleep, decides).
        WebDriverWait(driver, 30, poll_frequency=0.05).until(
            lambda d: _recorded_s(d.find_element(By.ID, "rec-time").text) >= 1.5
        )
        driver.find_element(By.ID, "stop").click()
        WebDriverWait(driver, 60).until(
            lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-state") in ("done", "error")
        )
        status = driver.find_element(By.ID, "status").text
        assert driver.find_element(By.TAG_NAME, "body").get_attribute("data-state") == "done", status
        seconds = float(status.split("Done: ")[1].split(" s")[0])
        assert 1.0 < seconds < 10, status  # the recording's duration as the server decoded it
    finally:
        driver.quit()
