"""recipes/synthetic/synth: every engine speaks at its rate and length, reserved voices are refused, a
multi-engine corpus is deterministic and resumes, and leave-one-engine-out splits share no voice."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "recipes" / "synthetic"
sys.path.insert(0, str(RECIPE))

import render  # noqa: E402
import split_engines  # noqa: E402
import synth  # noqa: E402
from synth import DEFAULT_VOICES, ReservedVoiceError, SpeakerWarp, apply_warp, check_not_reserved  # noqa: E402

TEXT = "the quick brown fox jumps over the lazy dog"
# Words per second of ordinary read speech is ~2-4: nine words take ~2-5 s in any engine.
NATIVE_RATES = {
    "espeak": 22050,
    "mbrola": 16000,
    "festival": 16000,
    "pico": 16000,
    "rhvoice": 24000,
    "piper": 22050,
}
# Kokoro, hibari and the accented voices: tests/test_synth_voices.py
ENGINE_VOICES = [("espeak", "gmw/en-US+m3")] + [
    (e, v) for e, vs in DEFAULT_VOICES.items() if e in NATIVE_RATES for v in vs
]


def _spectral_centroid(x: np.ndarray, sr: int) -> float:
    spectrum = np.abs(np.fft.rfft(x))
    freqs = np.fft.rfftfreq(len(x), 1 / sr)
    return float((spectrum * freqs).sum() / spectrum.sum())


@pytest.mark.parametrize(("engine", "voice"), ENGINE_VOICES, ids=lambda v: str(v))
def test_every_backend_speaks_at_its_rate_and_a_plausible_length(engine, voice):
    backend = synth.get_backend(engine)
    assert backend.available(), f"{engine} is not installed: run {backend.install_hint()}"
    assert voice in backend.voices() or engine == "espeak"
    rng = np.random.default_rng(0)
    settings = backend.draw_settings(rng)
    x = backend.synthesize(TEXT, voice, settings)
    assert x.dtype == np.float32 and x.ndim == 1
    assert backend.sample_rate == NATIVE_RATES[engine]
    seconds = len(x) / backend.sample_rate
    assert 1.5 < seconds < 6.0, seconds
    assert 0.05 < float(np.abs(x).max()) <= 1.0 and np.isfinite(x).all()
    # speech, not a tone or noise: most of the energy lies in the speech band
    centroid = _spectral_centroid(x, backend.sample_rate)
    assert 200 < centroid < 4000, centroid
    # the rate setting does what it says: slower settings give longer audio
    slow_fast = {
        "espeak": ({"rate": 120, "pitch": 50}, {"rate": 220, "pitch": 50}),
        "mbrola": ({"rate": 120, "pitch": 50}, {"rate": 220, "pitch": 50}),
        "festival": ({"stretch": 1.3}, {"stretch": 0.8}),
        "pico": ({"speed": 70, "pitch": 100}, {"speed": 140, "pitch": 100}),
        "rhvoice": ({"rate": 70, "pitch": 100}, {"rate": 150, "pitch": 100}),
        "piper": (
            {"length_scale": 1.3, "noise_scale": 0.5, "noise_w": 0.6},
            {"length_scale": 0.8, "noise_scale": 0.5, "noise_w": 0.6},
        ),
    }[engine]
    slow = backend.synthesize(TEXT, voice, slow_fast[0])
    fast = backend.synthesize(TEXT, voice, slow_fast[1])
    assert len(slow) > 1.25 * len(fast)
    # even the fastest setting, warped 1.1x faster, is no "stopped early" render
    sped_up = apply_warp(fast, backend.sample_rate, SpeakerWarp(tempo=1.1))
    trimmed = render.trim_silence(sped_up, backend.sample_rate, 0.1)
    render.check_render_length(trimmed, backend.sample_rate, TEXT, engine)


def test_festival_refuses_a_sentence_mbrola_gave_up_on():
    """MBROLA's us3 database lacks the ax-ax diphone: Festival saved "the unkindest cut of all" as 0.2 s
    of audio and the corpus trained on it. The backend must refuse what it cannot render whole."""
    backend = synth.get_backend("festival")
    assert backend.available(), f"festival is not installed: run {backend.install_hint()}"
    try:
        x = backend.synthesize("the unkindest cut of all.", "us3_mbrola", {"stretch": 0.93})
    except synth.SynthesisError as e:
        assert "stopped early" in str(e)
    else:  # a database that has the diphone renders the whole sentence
        render.check_render_length(x, backend.sample_rate, "the unkindest cut of all.", "festival")
        assert len(x) / backend.sample_rate > 1.0


def test_a_render_that_stopped_early_is_refused():
    """MBROLA's us3 has no ax-ax diphone: Festival's us3_mbrola ends such a sentence after ~0.2 s."""
    backend = synth.get_backend("espeak")
    x = render.trim_silence(
        backend.synthesize(TEXT, "gmw/en-US", backend.draw_settings(np.random.default_rng(0))),
        backend.sample_rate,
        0.1,
    )
    render.check_render_length(x, backend.sample_rate, TEXT, "espeak")
    with pytest.raises(RuntimeError, match="stopped early"):
        render.check_render_length(x[: backend.sample_rate // 5], backend.sample_rate, TEXT, "espeak")
    with pytest.raises(RuntimeError, match="stopped early"):  # under 0.1 s is too short for any text
        render.check_render_length(x[: backend.sample_rate // 20], backend.sample_rate, "hi", "espeak")


@pytest.mark.parametrize(
    ("engine", "voice"),
    [
        ("festival", "kal_diphone"),
        ("festival", "ked_diphone"),
        ("festival", "cmu_us_slt_arctic_hts"),
        ("festival", "kal_diphone_8k"),
        ("rhvoice", "alan"),
        ("rhvoice", "SLT"),
        ("flite", "awb"),
        ("festival", "cmu_us_awb_flite"),
        ("freetts", "kevin16"),
        ("espeak", "kevin"),
    ],
)
def test_reserved_voices_are_refused_by_name(engine, voice):
    with pytest.raises(ReservedVoiceError, match="reserved"):
        check_not_reserved(engine, voice)
    if engine in synth.ENGINES and engine != "espeak":
        backend = synth.get_backend(engine)
        with pytest.raises(ReservedVoiceError):
            backend.check_voices([voice])
        assert voice not in backend.voices()


def test_reserved_voices_are_refused_in_a_corpus_config():
    import importlib.util

    spec = importlib.util.spec_from_file_location("synthetic_prepare_r", RECIPE / "prepare.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    with pytest.raises(ReservedVoiceError):
        module.CorpusConfig.from_dict({"engines": ["espeak", "rhvoice"], "rhvoice_voices": ["bdl", "slt"]})
    with pytest.raises(ReservedVoiceError):
        module.CorpusConfig.from_dict({"engines": ["espeak", "festival"], "festival_voices": ["kal_diphone"]})
    check_not_reserved("rhvoice", "bdl")  # the shipped voices pass


def _median_f0(x: np.ndarray, sr: int) -> float:
    import pyworld

    x64 = x.astype(np.float64)
    f0, t = pyworld.dio(x64, sr)
    f0 = pyworld.stonemask(x64, f0, t, sr)
    return float(np.median(f0[f0 > 0]))


def test_speaker_warp_moves_formants_pitch_and_tempo_independently():
    backend = synth.get_backend("pico")
    x = backend.synthesize(TEXT, "en-US", {"speed": 100, "pitch": 100})
    sr = backend.sample_rate
    up = apply_warp(x, sr, SpeakerWarp(formant=1.12, pitch_semitones=0.0, tempo=1.0))
    down = apply_warp(x, sr, SpeakerWarp(formant=0.88, pitch_semitones=0.0, tempo=1.0))
    higher = apply_warp(x, sr, SpeakerWarp(formant=1.0, pitch_semitones=3.0, tempo=1.0))
    slow = apply_warp(x, sr, SpeakerWarp(formant=1.0, pitch_semitones=0.0, tempo=0.8))
    f0 = _median_f0(x, sr)
    # formants move, F0 and length stay
    assert _spectral_centroid(up, sr) > 1.03 * _spectral_centroid(x, sr) > 1.03 * _spectral_centroid(down, sr)
    for y in (up, down):
        assert abs(_median_f0(y, sr) / f0 - 1) < 0.03 and abs(len(y) / len(x) - 1) < 0.01
    # F0 moves by 3 semitones (x 1.189), length stays
    assert abs(_median_f0(higher, sr) / f0 - 2 ** (3 / 12)) < 0.04 and abs(len(higher) / len(x) - 1) < 0.01
    # tempo 0.8: 1.25 x as long, same F0
    assert abs(len(slow) / len(x) - 1.25) < 0.02 and abs(_median_f0(slow, sr) / f0 - 1) < 0.03
    assert apply_warp(x, sr, SpeakerWarp()) is x


MULTI_TOML = """
[corpus]
seed = 11
num_train = 14
num_dev = 6
num_test = 4
num_test_text = 6
engines = ["espeak", "mbrola", "festival", "pico", "rhvoice", "piper"]
accents = ["en-us", "en-gb"]
variants = ["m1", "f2", "m3"]
test_heldout_pairs = 1
heldout_voices = ["rhvoice:clb"]
[corpus.warp]
prob = 0.5
"""


def _run(config: Path, out: Path, *extra: str) -> None:
    cmd = [
        sys.executable,
        str(RECIPE / "prepare.py"),
        "--config",
        str(config),
        "--out",
        str(out),
        "--no-progress",
    ]
    proc = subprocess.run([*cmd, *extra], capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]


def _digests(out: Path) -> dict[str, str]:
    return {p.name: hashlib.md5(p.read_bytes()).hexdigest() for p in (out / "wav").rglob("*.wav")}


def test_multi_engine_corpus_is_deterministic_resumes_and_splits_by_engine(tmp_path):
    config = tmp_path / "multi.toml"
    config.write_text(MULTI_TOML)
    out = tmp_path / "a"
    _run(config, out, "--jobs", "2")
    rows = {
        s: [json.loads(x) for x in (out / f"{s}.jsonl").read_text().splitlines()]
        for s in ("train", "dev", "test", "test_text")
    }
    engines = {r["engine"] for s in ("train", "dev", "test_text") for r in rows[s]}
    assert len(engines) >= 4, engines  # 26 utterances over six engines
    test_speakers = {r["speaker"] for r in rows["test"]}
    seen = {r["speaker"] for s in ("train", "dev", "test_text") for r in rows[s]}
    assert not test_speakers & seen and "rhvoice:clb" not in seen
    assert any("warp" in r for r in rows["train"]) and not any(
        "warp" in r for r in rows["dev"] + rows["test"]
    )
    for r in rows["train"]:
        info = sf.info(str(out / r["audio"]))
        assert (info.samplerate, info.subtype) == (16000, "PCM_16") and 0.5 < r["duration"] < 15

    # one job, another folder: the same corpus byte for byte
    out2 = tmp_path / "b"
    _run(config, out2, "--jobs", "1")
    assert (out / "train.jsonl").read_text() == (out2 / "train.jsonl").read_text()
    assert _digests(out) == _digests(out2)

    # killed mid-way: missing clips (and a half-written temp file) are redone, the rest kept
    victims = [out / rows["train"][i]["audio"] for i in (0, 3, 7)]
    for v in victims:
        v.unlink()
    (out / "wav" / "train" / ".x.wav.123.tmp").write_bytes(b"RIFF")
    (out / ".done").unlink()
    before = {p: p.stat().st_mtime_ns for p in (out / "wav").rglob("*.wav")}
    _run(config, out, "--jobs", "2")
    assert _digests(out) == _digests(out2)
    assert not list((out / "wav").rglob("*.tmp"))
    assert all(p.stat().st_mtime_ns == t for p, t in before.items())  # the others were not rewritten

    # leave-one-engine-out: the held-out engines' voices only in test, none of them in train/dev
    for hold in (["pico"], ["mbrola", "festival"], ["piper"]):
        loeo = tmp_path / f"loeo-{'-'.join(hold)}"
        report = split_engines.split_by_engine(out, hold, loeo)
        split = {s: [json.loads(x) for x in (loeo / f"{s}.jsonl").read_text().splitlines()] for s in report}
        train_voices = {r["speaker"] for r in split["train"] + split["dev"]}
        test_voices = {r["speaker"] for r in split["test"]}
        assert not train_voices & test_voices
        assert {r["engine"] for r in split["test"]} <= set(hold)
        assert not {r["engine"] for r in split["train"] + split["dev"]} & set(hold)
        assert all((loeo / r["audio"]).is_file() for r in split["train"][:3] + split["test"][:3])
    with pytest.raises(ValueError, match="share speakers"):
        split_engines.split_by_engine(out, ["mbrola"], tmp_path / "bad")
