"""Progress on long work: `transcribe_many(on_progress=...)` reports, `asr transcribe` draws a bar on a
terminal (files, audio seconds, speed, time left) and, with --verbose, each segment as it is decoded.

The terminal is real: `asr transcribe` runs in a subprocess whose stderr is a pseudo-terminal (the bar
must show there and nowhere else). The model is small and untrained (tests/tiny_model.py): these check
the reports and their drawing, not words.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import struct
import subprocess
import sys
import termios
import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from tiny_model import letters_recognizer, save_model

from asr.cli.progress import TranscribeView, clock, duration
from asr.transcription import Progress, transcribe_many

RATE = 16000
ASR = str(Path(sys.executable).parent / "asr")
SEGMENT_LINE = re.compile(r"^\[((?:\d\d:)?\d\d:\d\d\.\d{3}) --> ((?:\d\d:)?\d\d:\d\d\.\d{3})\] (.*)$")


def _bursts(seconds: float, seed: int) -> np.ndarray:
    """Noisy tone bursts between pauses: several segments for the energy VAD, letters for the model."""
    rng = np.random.default_rng(seed)
    audio = np.zeros(int(seconds * RATE), np.float32)
    pos = 0.3
    while pos < seconds - 1.0:
        length = rng.uniform(0.5, 1.5)
        a, b = int(pos * RATE), min(len(audio), int((pos + length) * RATE))
        t = np.arange(b - a) / RATE
        audio[a:b] = 0.3 * np.sin(2 * np.pi * rng.uniform(150, 900) * t) + 0.05 * rng.standard_normal(b - a)
        pos += length + rng.uniform(0.5, 1.0)
    return audio


@pytest.fixture(scope="module")
def model():
    return letters_recognizer()


@pytest.fixture(scope="module")
def model_path(model, tmp_path_factory):
    return save_model(model, tmp_path_factory.mktemp("model") / "m.pt")


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> list[Path]:
    """Three recordings, one of them long enough for several batches of --batch-seconds 10."""
    root = tmp_path_factory.mktemp("audio")
    paths = []
    for i, seconds in enumerate([4.0, 45.0, 6.0]):
        path = root / f"rec{i}.wav"
        sf.write(path, _bursts(seconds, i), RATE)
        paths.append(path)
    return paths


def test_reports_count_files_and_seconds_and_carry_every_segment_in_order(model, files):
    reports: list[Progress] = []
    results = list(
        transcribe_many(
            model, files, vad="energy", batch_seconds=10.0, max_segment_s=5.0, on_progress=reports.append
        )
    )
    quiet = list(transcribe_many(model, files, vad="energy", batch_seconds=10.0, max_segment_s=5.0))
    assert [r.text for _, r in results] == [r.text for _, r in quiet]  # reporting changes nothing

    total = sum(r.duration_s for _, r in results)
    assert total == pytest.approx(55.0)
    first, last = reports[0], reports[-1]
    assert (first.files_done, first.files_total, first.seconds_done) == (0, 3, 0.0)
    assert first.seconds_total is None  # nothing opened yet: no estimate
    assert (last.files_done, last.files_opened) == (3, 3)
    assert last.seconds_done == pytest.approx(total) and last.seconds_total == pytest.approx(total)
    # never backwards, never past the end; the long recording moves the count between its batches
    done = [r.seconds_done for r in reports]
    assert done == sorted(done) and max(done) <= total + 1e-6
    assert len({round(d, 3) for d in done if 4.0 < d < 49.0}) >= 3
    assert [r.files_done for r in reports] == sorted(r.files_done for r in reports)

    # the segments, as reported while decoding, are each transcript's segments, in order
    reported = [(name, s) for r in reports for name, s in r.segments]
    expected = [(str(path), s) for path, t in results for s in t.segments]
    assert [(n, s.text, s.start_s) for n, s in reported] == [(n, s.text, s.start_s) for n, s in expected]
    assert len(expected) >= 10


def test_the_length_of_a_run_is_estimated_from_the_recordings_opened():
    seen = Progress(files_done=1, files_total=10, files_opened=2, seconds_done=30.0, seconds_known=100.0)
    assert seen.seconds_total == pytest.approx(100.0 + 8 * 50.0)
    assert Progress(0, 4, 0, 0.0, 0.0).seconds_total is None
    assert Progress(4, 4, 4, 12.5, 12.5).seconds_total == 12.5


def test_times_are_written_as_whisper_writes_them():
    assert clock(0) == "00:00.000"
    assert clock(4.2) == "00:04.200"
    assert clock(61.25) == "01:01.250" and clock(-0.001) == "00:00.000"
    assert clock(3725.5) == "01:02:05.500"
    assert duration(59.6) == "01:00" and duration(3725) == "1:02:05"


def test_the_view_draws_files_audio_speed_and_time_left(tmp_path):
    """The bar's text for a report, drawn into a file (what a terminal would receive)."""
    out = (tmp_path / "bar.txt").open("w+")
    view = TranscribeView(out, bar=True, segments=False, names=False)
    view.started -= 10.0  # ten seconds into the run
    view(Progress(files_done=3, files_total=10, files_opened=4, seconds_done=120.0, seconds_known=200.0))
    view.bar.refresh()
    out.seek(0)
    drawn = out.read().split("\r")[-1]
    view.close()
    assert "transcribe  24%" in drawn  # 120 s of 500 s (4 opened: 200 s, 6 more at 50 s each)
    assert "3/10 files" in drawn and "02:00/08:20 audio" in drawn
    assert re.search(r"1[12]\.\dx real time", drawn) and re.search(r"00:3\d left", drawn)


def _run_on_pty(args: list[str], cwd: Path, columns: int = 120) -> tuple[int, str, str]:
    """`asr ARGS` with stderr on a pseudo-terminal `columns` wide (0: one that reports no size) and
    stdout on a pipe: (exit status, what the terminal received, stdout)."""
    master, slave = os.openpty()
    rows = 40 if columns else 0
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    received = bytearray()

    def read_terminal() -> None:
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the child closed its end
                return
            if not chunk:
                return
            received.extend(chunk)

    reader = threading.Thread(target=read_terminal, daemon=True)
    reader.start()
    try:
        proc = subprocess.run(
            [ASR, *args], cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave,
            env={**os.environ, "TERM": "xterm"}, timeout=300,
        )  # fmt: skip
    finally:
        os.close(slave)
        reader.join(timeout=10)
        os.close(master)
    return proc.returncode, received.decode("utf-8", "replace"), proc.stdout.decode()


def _screens(terminal: str) -> list[str]:
    """Each state the terminal showed: the text between carriage returns and newlines."""
    return [part.strip() for part in re.split(r"[\r\n]", terminal) if part.strip()]


@pytest.mark.parametrize("columns", [120, 0])
def test_a_terminal_shows_the_bar_and_the_transcripts_stay_clean(model_path, files, tmp_path, columns):
    common = ["transcribe", *map(str, files), "--model", str(model_path), "--vad", "energy",
              "--batch-seconds", "10", "--threads", "1"]  # fmt: skip
    code, terminal, stdout = _run_on_pty(common, tmp_path, columns)
    assert code == 0, terminal
    bars = [s for s in _screens(terminal) if s.startswith("transcribe ") and "%|" in s]
    assert bars, terminal
    # after each transcript the bar is drawn again: files done, audio done of the run, speed, time left
    assert any(re.search(r"\b[123]/3 files, \d\d:\d\d/\d\d:\d\d audio, [\d.]+x real time, \d\d:\d\d left", b)
               for b in bars), bars  # fmt: skip
    # stdout (a pipe) has the transcripts only: one line per file, no bar, no carriage return
    assert "\r" not in stdout and "%|" not in stdout
    assert [line.split("\t")[0] for line in stdout.splitlines()] == [str(p) for p in files]

    code, terminal, stdout = _run_on_pty([*common, "--quiet"], tmp_path, columns)
    assert code == 0 and "%|" not in terminal and " INFO " not in terminal, terminal
    assert len(stdout.splitlines()) == 3


def test_no_bar_when_stderr_is_not_a_terminal(model_path, files, tmp_path):
    proc = subprocess.run(
        [ASR, "transcribe", *map(str, files), "--model", str(model_path), "--vad", "energy", "--threads", "1"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "%|" not in proc.stderr and "\r" not in proc.stderr
    assert "files" not in proc.stderr


def test_verbose_prints_each_segment_in_order_with_its_times(model_path, files, tmp_path):
    """--verbose lines (stderr) are the segments of the JSON transcripts, in order, with whisper's times,
    under the name of each recording; on a terminal they stay whole lines above the bar."""
    out_dir = tmp_path / "json"
    args = ["transcribe", *map(str, files), "--model", str(model_path), "--vad", "energy",
            "--batch-seconds", "10", "--max-segment-seconds", "5", "--threads", "1",
            "--format", "json", "--output-dir", str(out_dir), "--verbose"]  # fmt: skip
    proc = subprocess.run([ASR, *args], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    expected: list[tuple[str, float, float]] = []  # (name or text, start, end)
    for path in files:
        expected.append((str(path), 0.0, 0.0))
        transcript = json.loads((out_dir / f"{path.stem}.json").read_text())
        expected += [(s["text"], s["start"], s["end"]) for s in transcript["segments"]]
    printed = [line for line in proc.stderr.splitlines() if " INFO " not in line]
    assert len(printed) == len(expected) >= 13, proc.stderr  # three names and at least ten segments
    for line, (text, start, end) in zip(printed, expected):
        match = SEGMENT_LINE.match(line)
        if match is None:
            assert line == text  # a recording's name before its segments
            continue
        # the JSON rounds to the millisecond as the line does: they may differ by one in the last digit
        assert match.group(3) == text
        assert _seconds(match.group(1)) == pytest.approx(start, abs=0.0011)
        assert _seconds(match.group(2)) == pytest.approx(end, abs=0.0011)

    code, terminal, _ = _run_on_pty([*args, "--overwrite"], tmp_path)
    assert code == 0, terminal
    screens = _screens(terminal)
    names = {str(p) for p in files}
    shown = [s for s in screens if SEGMENT_LINE.match(s) or s in names]
    assert shown == printed  # each line whole, none mixed with the bar


def _seconds(text: str) -> float:
    """[HH:]MM:SS.mmm → seconds."""
    seconds = 0.0
    for part in text.split(":"):
        seconds = 60 * seconds + float(part)
    return seconds


def test_verbose_and_quiet_exclude_each_other(model_path, files, capsys):
    from asr.cli import main

    with pytest.raises(SystemExit):
        main(["transcribe", str(files[0]), "--model", str(model_path), "--verbose", "--quiet"])
    assert "not allowed with" in capsys.readouterr().err
