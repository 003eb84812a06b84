"""asr.audio: decoding every supported input to float32 mono 16 kHz, and failing clearly on bad input."""

from __future__ import annotations

import shutil
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import asr.audio
import asr.audio.fallback
from asr.audio import AudioError, audio_duration, load_audio, save_wav

SR = 16000
needs_ffmpeg = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")


def chirp(rate: int, seconds: float = 1.0, channels: int = 1) -> np.ndarray:
    """A 200 Hz -> 2 kHz sweep at half scale: audible content that survives lossy codecs."""
    t = np.arange(int(rate * seconds)) / rate
    x = (0.5 * np.sin(2 * np.pi * (200 * t + 900 * t**2))).astype(np.float32)
    return x if channels == 1 else np.stack([x] * channels, axis=1)


def write(path: Path, audio: np.ndarray, rate: int, **kwargs) -> Path:
    sf.write(str(path), audio, rate, **kwargs)
    return path


def ffmpeg_encode(src: Path, dst: Path, *args: str) -> Path:
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(src), *args, str(dst)],
        check=True,
        capture_output=True,
    )
    return dst


def assert_length(audio: np.ndarray, seconds: float, rel: float = 0.01) -> None:
    assert audio.ndim == 1 and audio.dtype == np.float32
    assert len(audio) == pytest.approx(seconds * SR, rel=rel)


# --- good input ------------------------------------------------------------------------------------


@pytest.mark.parametrize("rate", [8000, 16000, 22050, 44100, 48000])
def test_wav_resampled_to_16k(tmp_path: Path, rate: int) -> None:
    audio = load_audio(write(tmp_path / "a.wav", chirp(rate), rate))
    assert_length(audio, 1.0)
    assert 0.3 < np.abs(audio).max() < 0.7  # scale preserved through resampling


@pytest.mark.parametrize("ext", ["flac", "ogg"])
def test_soundfile_formats(tmp_path: Path, ext: str) -> None:
    audio = load_audio(write(tmp_path / f"a.{ext}", chirp(44100), 44100))
    assert_length(audio, 1.0)


def test_resampling_keeps_frequency(tmp_path: Path) -> None:
    t = np.arange(44100) / 44100
    tone = 0.5 * np.sin(2 * np.pi * 1000 * t)
    audio = load_audio(write(tmp_path / "tone.wav", tone, 44100))
    spectrum = np.abs(np.fft.rfft(audio))
    assert np.argmax(spectrum) * SR / len(audio) == pytest.approx(1000, abs=2)


def test_stereo_is_downmixed_by_mean(tmp_path: Path) -> None:
    left = chirp(SR)
    stereo = np.stack([left, np.zeros_like(left)], axis=1)
    audio = load_audio(write(tmp_path / "stereo.wav", stereo, SR, subtype="FLOAT"))
    np.testing.assert_allclose(audio, left / 2, atol=1e-6)


@needs_ffmpeg
def test_mp3(tmp_path: Path) -> None:
    mp3 = ffmpeg_encode(write(tmp_path / "a.wav", chirp(22050, 2.0), 22050), tmp_path / "a.mp3")
    # mp3 adds encoder delay and padding (tens of ms): allow 3 %.
    assert_length(load_audio(mp3), 2.0, rel=0.03)


@needs_ffmpeg
def test_m4a_goes_through_ffmpeg_fallback(tmp_path: Path) -> None:
    left = chirp(44100, 2.0)
    stereo = np.stack([left, np.zeros_like(left)], axis=1)
    m4a = ffmpeg_encode(write(tmp_path / "a.wav", stereo, 44100), tmp_path / "a.m4a")
    with pytest.raises(sf.LibsndfileError):
        sf.info(str(m4a))  # the premise: libsndfile cannot read m4a
    audio = load_audio(m4a)
    assert_length(audio, 2.0, rel=0.03)
    # Mean of the channels (RMS 0.177), as for every other input; not ffmpeg's -3 dB sum (RMS 0.25).
    rms = float(np.sqrt(np.mean(audio**2)))
    assert rms == pytest.approx(np.sqrt(np.mean(left**2)) / 2, rel=0.1)
    assert audio_duration(m4a) == pytest.approx(2.0, rel=0.03)
    assert_length(load_audio(m4a.read_bytes()), 2.0, rel=0.03)


@needs_ffmpeg
@pytest.mark.slow  # the first librosa.load costs ~10 s of imports and numba compilation
def test_librosa_fallback_without_ffmpeg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("librosa")
    m4a = ffmpeg_encode(write(tmp_path / "a.wav", chirp(22050, 2.0), 22050), tmp_path / "a.m4a")
    # Hide ffmpeg from asr.audio only; audioread still finds it to decode.
    monkeypatch.setattr(asr.audio.fallback.shutil, "which", lambda name: None)
    assert_length(load_audio(m4a), 2.0, rel=0.03)


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")
def test_espeak_speech(tmp_path: Path) -> None:
    wav = tmp_path / "speech.wav"
    subprocess.run(["espeak-ng", "-w", str(wav), "hello world"], check=True, capture_output=True)
    info = sf.info(str(wav))
    assert info.samplerate != SR  # espeak-ng writes 22050 Hz
    audio = load_audio(wav)
    assert_length(audio, info.duration)
    assert audio_duration(wav) == pytest.approx(info.duration)


def test_bytes_input(tmp_path: Path) -> None:
    path = write(tmp_path / "a.flac", chirp(8000, 0.5), 8000)
    np.testing.assert_array_equal(load_audio(path.read_bytes()), load_audio(path))


def test_path_as_str_and_pathlike(tmp_path: Path) -> None:
    path = write(tmp_path / "a.wav", chirp(SR), SR)
    np.testing.assert_array_equal(load_audio(str(path)), load_audio(path))


@pytest.mark.parametrize("layout", ["mono", "channels_last", "channels_first"])
def test_array_layouts(layout: str) -> None:
    x = chirp(8000, 0.5)
    array = {"mono": x, "channels_last": np.stack([x, x], 1), "channels_first": np.stack([x, x], 0)}[layout]
    audio = load_audio(array, source_rate=8000)
    assert_length(audio, 0.5)
    np.testing.assert_allclose(audio, load_audio(x, source_rate=8000), atol=1e-6)


def test_array_at_target_rate_is_unchanged() -> None:
    x = chirp(SR).astype(np.float64)
    np.testing.assert_allclose(load_audio(x, source_rate=SR), x, atol=1e-7)


@pytest.mark.parametrize(
    ("dtype", "value", "expected"),
    [(np.int16, 16384, 0.5), (np.int16, -32768, -1.0), (np.int32, -(2**30), -0.5), (np.uint8, 192, 0.5)],
)
def test_integer_arrays_are_scaled(dtype: type, value: int, expected: float) -> None:
    audio = load_audio(np.full(100, value, dtype=dtype), source_rate=SR)
    assert audio.dtype == np.float32
    np.testing.assert_allclose(audio, expected)


def test_array_needs_source_rate() -> None:
    with pytest.raises(ValueError, match="source_rate"):
        load_audio(np.zeros(100, np.float32))


def test_source_rate_rejected_for_files(tmp_path: Path) -> None:
    path = write(tmp_path / "a.wav", chirp(SR), SR)
    with pytest.raises(ValueError, match="source_rate"):
        load_audio(path, source_rate=8000)


@pytest.mark.parametrize("shape", [(16, 16), (3, 4, 5)])
def test_array_bad_shapes(shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match="shape"):
        load_audio(np.zeros(shape, np.float32), source_rate=SR)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="sample_rate"):
        load_audio(np.zeros(10), 0, source_rate=SR)
    with pytest.raises(TypeError, match="list"):
        load_audio([0.0, 0.1], source_rate=SR)  # type: ignore[arg-type]


# --- bad input ---------------------------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(AudioError, match="nope.wav.*no such file"):
        load_audio(tmp_path / "nope.wav")
    with pytest.raises(AudioError, match="nope.wav"):
        audio_duration(tmp_path / "nope.wav")


def test_directory(tmp_path: Path) -> None:
    folder = tmp_path / "clips.wav"
    folder.mkdir()
    with pytest.raises(AudioError, match="clips.wav.*directory"):
        load_audio(folder)


def test_empty_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty.wav"
    empty.touch()
    with pytest.raises(AudioError, match="empty.wav.*empty"):
        load_audio(empty)
    with pytest.raises(AudioError, match="<bytes>.*empty"):
        load_audio(b"")


def test_corrupt_file(tmp_path: Path) -> None:
    garbage = np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8).tobytes()
    bad = tmp_path / "garbage.wav"
    bad.write_bytes(garbage)
    with pytest.raises(AudioError, match="garbage.wav.*cannot decode") as e:
        load_audio(bad)
    assert "ffmpeg -i" in str(e.value)  # says what to do
    with pytest.raises(AudioError, match="<bytes>.*cannot decode"):
        load_audio(garbage)


def test_zero_length(tmp_path: Path) -> None:
    path = write(tmp_path / "silent.wav", np.zeros(0, np.float32), SR)
    assert audio_duration(path) == 0.0
    with pytest.raises(AudioError, match="silent.wav.*zero samples"):
        load_audio(path)
    with pytest.raises(AudioError, match="<array>.*zero samples"):
        load_audio(np.zeros(0, np.float32), source_rate=SR)


@pytest.mark.parametrize("bad_value", [np.nan, np.inf])
def test_non_finite_samples(tmp_path: Path, bad_value: float) -> None:
    x = chirp(SR)
    x[100] = bad_value
    with pytest.raises(AudioError, match="<array>.*NaN"):
        load_audio(x, source_rate=8000)
    path = write(tmp_path / "nan.wav", x, SR, subtype="FLOAT")
    with pytest.raises(AudioError, match="nan.wav.*NaN"):
        load_audio(path)


# --- duration and writing ------------------------------------------------------------------------------


def test_audio_duration_from_header(tmp_path: Path) -> None:
    assert audio_duration(write(tmp_path / "a.flac", chirp(22050, 1.5), 22050)) == pytest.approx(1.5)


def test_save_wav_round_trip(tmp_path: Path) -> None:
    x = chirp(SR)
    path = tmp_path / "out.wav"
    save_wav(path, x, SR)
    info = sf.info(str(path))
    assert (info.samplerate, info.channels, info.subtype) == (SR, 1, "PCM_16")
    np.testing.assert_allclose(load_audio(path), x, atol=1 / 32768 + 1e-6)
    assert [p.name for p in tmp_path.iterdir()] == ["out.wav"]  # no temp file left behind


def test_save_wav_replaces_and_clips(tmp_path: Path) -> None:
    path = tmp_path / "out.wav"
    save_wav(path, np.zeros(10), SR)
    save_wav(path, np.array([2.0, -2.0, 0.25]), 8000)
    data, rate = sf.read(str(path))
    assert rate == 8000
    np.testing.assert_allclose(data, [32767 / 32768, -1.0, 0.25])


def test_save_wav_rejects_bad_audio(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="NaN"):
        save_wav(tmp_path / "x.wav", np.array([0.0, np.nan]), SR)
    with pytest.raises(ValueError, match="shape"):
        save_wav(tmp_path / "x.wav", np.zeros(0), SR)
    assert list(tmp_path.iterdir()) == []


def test_import_does_not_load_librosa() -> None:
    code = "import sys, asr.audio; assert 'librosa' not in sys.modules, 'librosa imported eagerly'"
    subprocess.run([sys.executable, "-c", code], check=True)


# --- hostile input: measured before decoding, capped while decoding ------------------------------------


def long_silence_flac(path: Path, seconds: int, rate: int = SR) -> Path:
    with sf.SoundFile(str(path), "w", rate, 1, format="FLAC") as f:
        block = np.zeros(rate * 60, np.float32)
        for _ in range(seconds // 60):
            f.write(block)
    return path


def test_too_long_file_is_refused_from_its_header_before_decoding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    flac = long_silence_flac(tmp_path / "long.flac", 20 * 60)
    assert asr.audio.probe_audio(flac).duration_s == pytest.approx(1200)

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded samples of a file whose header is already too long")

    monkeypatch.setattr(sf.SoundFile, "read", no_decoding)
    with pytest.raises(asr.audio.AudioTooLong, match=r"long.flac.*lasts 1200.0 s.*at most 60 s"):
        load_audio(flac, max_seconds=60)
    with pytest.raises(asr.audio.AudioTooLong, match=r"<bytes>.*lasts 1200.0 s"):
        load_audio(flac.read_bytes(), max_seconds=60)
    monkeypatch.undo()
    assert_length(load_audio(flac, max_seconds=1300), 1200)


@needs_ffmpeg
def test_ffmpeg_formats_are_measured_by_ffprobe_before_decoding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    m4a = tmp_path / "long.m4a"
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi", "-i", "anullsrc=r=8000:cl=mono", "-t", "600",
         "-c:a", "aac", "-b:a", "16k", str(m4a)],
        check=True, capture_output=True,
    )  # fmt: skip
    info = asr.audio.probe_audio(m4a)
    assert (info.reader, info.channels) == ("ffprobe", 1) and info.duration_s == pytest.approx(600, abs=1)

    def no_decoder(*args, **kwargs):
        raise AssertionError("started a decoder for a file whose header is already too long")

    monkeypatch.setattr(asr.audio.fallback, "_decode_ffmpeg", no_decoder)
    with pytest.raises(asr.audio.AudioTooLong, match=r"lasts 600.0 s"):
        load_audio(m4a, max_seconds=30)
    assert audio_duration(m4a) == pytest.approx(600, abs=1)  # from the header, no decoding


def _webm_with_lying_duration(tmp_path: Path, seconds: int, claimed_s: float) -> Path:
    webm = tmp_path / "lies.webm"
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi", "-i", f"sine=f=440:r=48000:d={seconds}",
         "-c:a", "libopus", "-b:a", "12k", str(webm)],
        check=True, capture_output=True,
    )  # fmt: skip
    data = bytearray(webm.read_bytes())
    at = data.find(b"\x44\x89\x88")  # Matroska Duration element, an 8-byte float (milliseconds)
    assert at > 0
    data[at + 3 : at + 11] = struct.pack(">d", claimed_s * 1000)
    webm.write_bytes(bytes(data))
    return webm


@needs_ffmpeg
def test_a_header_that_lies_cannot_get_past_the_cap(tmp_path: Path) -> None:
    webm = _webm_with_lying_duration(tmp_path, 120, 2.0)
    assert asr.audio.probe_audio(webm).duration_s == pytest.approx(2.0, abs=0.1)  # the lie
    assert_length(load_audio(webm), 120, rel=0.02)  # the truth, without a cap
    with pytest.raises(asr.audio.AudioTooLong, match=r"lies.webm.*more than 10 s"):
        load_audio(webm, max_seconds=10)


@needs_ffmpeg
def test_ffmpeg_reads_no_other_file_than_the_one_given(tmp_path: Path) -> None:
    """A concat list (or playlist) naming other local files is not decoded: demuxer whitelist."""
    write(tmp_path / "secret.wav", chirp(SR), SR)
    playlist = tmp_path / "upload.wav"
    playlist.write_text("ffconcat version 1.0\nfile 'secret.wav'\n")
    with pytest.raises(AudioError, match="cannot decode audio"):
        load_audio(playlist)


@needs_ffmpeg
def test_ffmpeg_decode_has_a_timeout(tmp_path: Path) -> None:
    m4a = ffmpeg_encode(write(tmp_path / "a.wav", chirp(SR, 30.0), SR), tmp_path / "a.m4a")
    with pytest.raises(AudioError, match="longer than 0.001 s"):
        load_audio(m4a, timeout_s=0.001)


def test_huge_finite_samples_are_refused(tmp_path: Path) -> None:
    x = chirp(SR)
    x[1000:1100] = 3e30  # finite, but squared in the features it overflows to inf
    path = write(tmp_path / "loud.wav", x, SR, subtype="FLOAT")
    with pytest.raises(AudioError, match=r"loud.wav: samples reach 3e\+30.*normalise"):
        load_audio(path)
    with pytest.raises(AudioError, match="far beyond full scale"):
        load_audio(x, source_rate=SR)
    x[1000:1100] = 1.5  # a little over full scale is still audio
    assert np.abs(load_audio(x, source_rate=SR)).max() == pytest.approx(1.5)


def test_too_many_channels_in_the_header_are_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "many.wav", np.zeros((160, 40), np.float32), SR)
    with pytest.raises(AudioError, match="many.wav.*40 channels"):
        load_audio(path)


def test_error_messages_carry_no_object_reprs() -> None:
    with pytest.raises(AudioError) as e:
        load_audio(b"not audio at all" * 20)
    assert " at 0x" not in str(e.value) and "/tmp" not in str(e.value), str(e.value)


# --- stretches and blocks --------------------------------------------------------------------------


def test_load_segment_seeks_to_the_stretch_and_decodes_only_it(tmp_path: Path, monkeypatch) -> None:
    ramp = (np.arange(3 * SR) / (3 * SR) - 0.5).astype(np.float32)
    path = write(tmp_path / "ramp.wav", ramp, SR, subtype="FLOAT")
    import asr.audio.load

    def whole(*args, **kwargs):
        raise AssertionError("decoded the whole file")

    monkeypatch.setattr(asr.audio.load, "load_audio", whole)
    segment = asr.audio.load_segment(path, SR, offset=1.0, duration=0.5)
    assert np.array_equal(segment, ramp[SR : SR + SR // 2])
    assert np.array_equal(asr.audio.load_segment(path, SR, offset=2.5), ramp[2 * SR + SR // 2 :])
    with pytest.raises(AudioError, match="no audio at offset 5.0"):
        asr.audio.load_segment(path, SR, offset=5.0, duration=1.0)


def test_read_blocks_streams_files_and_cuts_arrays(tmp_path: Path) -> None:
    audio = chirp(SR, 2.5)
    path = write(tmp_path / "c.wav", audio, SR, subtype="FLOAT")
    seen: list[float] = []
    blocks = list(asr.audio.read_blocks(path, SR, block_seconds=1.0, on_duration=seen.append))
    assert [len(b) for b in blocks] == [SR, SR, SR // 2] and seen == [pytest.approx(2.5)]
    assert np.allclose(np.concatenate(blocks), audio)
    blocks = list(asr.audio.read_blocks(audio, SR, source_rate=SR, block_seconds=1.0))
    assert [len(b) for b in blocks] == [SR, SR, SR // 2]
    with pytest.raises(ValueError, match="source_rate"):
        list(asr.audio.read_blocks(audio, SR))
