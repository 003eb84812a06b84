"""End to end in a real browser: headless Debian Chromium (Selenium + chromedriver) opens the page served
by `asr serve`, uploads a WAV and reads the transcript and word times; then uploads a non-audio file
and reads the error message."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
    pytest.skip(
        "Debian chromium + chromium-driver are not installed (make install brings them)",
        allow_module_level=True,
    )
selenium = pytest.importorskip("selenium")
httpx = pytest.importorskip("httpx")
pytest.importorskip("uvicorn")

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from asr.checkpoint import checkpoint_payload, save_checkpoint  # noqa: E402
from asr.features import FeatureConfig  # noqa: E402
from asr.model import ModelConfig  # noqa: E402
from asr.recognizer import SpeechRecognizer  # noqa: E402
from asr.text import Vocabulary  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("browser")
    torch.manual_seed(0)
    rec = SpeechRecognizer(
        FeatureConfig(), ModelConfig(hidden_size=32, num_layers=2), Vocabulary.english_characters()
    )
    with torch.no_grad():  # peaky output with separators: several words to show
        rec.acoustic.output.weight.mul_(8)
        rec.acoustic.output.bias[rec.vocab.separator_id] += 1.5
    save_checkpoint(checkpoint_payload(rec), tmp / "tiny.pt")
    port = free_port()
    log_path = tmp / "server.log"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "asr.cli",
            "serve",
            "--model",
            str(tmp / "tiny.pt"),
            "--port",
            str(port),
            "--threads",
            "1",
            "--vad",
            "energy",
        ],  # fmt: skip
        stdout=log_path.open("wb"),
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        if proc.poll() is not None:
            pytest.fail(f"asr serve exited: {log_path.read_text()[-2000:]}")
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"asr serve did not start: {log_path.read_text()[-2000:]}")
        time.sleep(0.3)
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


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
