"""Voices closer to people (recipes/synthetic/synth): Kokoro's blended speakers, hibari and its variants,
the accented MBROLA voices. Each speaks at its rate, length and in the speech band; a blended speaker is
the same for its seed; the reserved accented voices are refused by name; a corpus with these engines
renders deterministically and resumes after a kill; the leave-out folds share no voice."""

from __future__ import annotations

import hashlib
import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "recipes" / "synthetic"
sys.path.insert(0, str(RECIPE))

import render  # noqa: E402
import split_engines  # noqa: E402
import synth  # noqa: E402
from synth import ReservedVoiceError, check_not_reserved  # noqa: E402
from synth.hibari import variant_warp  # noqa: E402
from synth.kokoro import KokoroBackend, _tables, _vocab, blend_style, espeak_phonemes, speaker_recipe  # noqa: E402
from synth.mbrola import ACCENTED_VOICES  # noqa: E402

TEXT = "the quick brown fox jumps over the lazy dog"
ACCENTED_22K = {"mb-de3-en", "mb-de5-en", "mb-de6-en", "mb-fr4-en", "mb-gr2-en"}  # the others: 16 kHz
NEW_VOICES = [("kokoro", "blend-0000"), ("kokoro", "blend-0003"), ("hibari", "heart"), ("hibari", "heart-02")]
NEW_VOICES += [("accented", v) for v in ACCENTED_VOICES]
SLOW_FAST = {
    "kokoro": ({"speed": 0.8}, {"speed": 1.25}),
    "hibari": ({"speed": 0.8}, {"speed": 1.25}),
    "accented": ({"rate": 120, "pitch": 50}, {"rate": 220, "pitch": 50}),
}


def _band_share(x: np.ndarray, sr: int, lo: float = 100.0, hi: float = 7000.0) -> float:
    power = np.abs(np.fft.rfft(x)) ** 2
    freqs = np.fft.rfftfreq(len(x), 1 / sr)
    return float(power[(freqs >= lo) & (freqs <= hi)].sum() / power.sum())


def _median_f0(x: np.ndarray, sr: int) -> float:
    import pyworld

    x64 = x.astype(np.float64)
    f0, t = pyworld.dio(x64, sr)
    f0 = pyworld.stonemask(x64, f0, t, sr)
    return float(np.median(f0[f0 > 0]))


@pytest.mark.parametrize(("engine", "voice"), NEW_VOICES, ids=lambda v: str(v))
def test_new_backend_speaks_at_its_rate_length_and_in_the_speech_band(engine, voice):
    backend = synth.get_backend(engine)
    assert backend.available(), f"{engine} is not installed: run {backend.install_hint()}"
    backend.check_voices([voice])
    x = backend.synthesize(TEXT, voice, backend.draw_settings(np.random.default_rng(0)))
    rate = {"kokoro": 24000, "hibari": 24000}.get(engine, 22050 if voice in ACCENTED_22K else 16000)
    assert x.dtype == np.float32 and x.ndim == 1 and backend.sample_rate == rate
    assert 1.5 < len(x) / rate < 6.0, len(x) / rate  # nine words: ~2-5 s in any voice
    assert 0.05 < float(np.abs(x).max()) <= 1.0 and np.isfinite(x).all()
    assert _band_share(x, rate) > 0.9  # speech, not hum or hiss
    slow = backend.synthesize(TEXT, voice, SLOW_FAST[engine][0])
    fast = backend.synthesize(TEXT, voice, SLOW_FAST[engine][1])
    assert len(slow) > 1.25 * len(fast)
    render.check_render_length(render.trim_silence(fast, rate, 0.1), rate, TEXT, engine)


def test_kokoro_blend_is_the_same_speaker_for_its_seed_and_another_for_another():
    tables = _tables()
    assert tables.shape == (5, 510, 256)
    a, again, other = blend_style(tables, 17), blend_style(tables.copy(), 17), blend_style(tables, 18)
    assert np.array_equal(a, again) and not np.allclose(a, other, atol=1e-3)
    # timbre (dims 0-127) from one blend of the tables, prosody (128-255) from another, both pushed
    # away from the tables' mean
    recipe, mean = speaker_recipe(17), tables.mean(axis=0)
    for part, weights, factor in (
        (slice(0, 128), recipe["timbre"], recipe["extrapolate"][0]),
        (slice(128, 256), recipe["prosody"], recipe["extrapolate"][1]),
    ):
        mixed = np.tensordot(weights, tables[:, :, part], axes=1)
        assert np.allclose(a[:, part], mean[:, part] + factor * (mixed - mean[:, part]), atol=1e-5)
    assert not np.allclose(recipe["timbre"], recipe["prosody"])
    assert recipe["extrapolate"].min() >= 1.0 and recipe["extrapolate"].max() <= 1.3
    # the same audio from a fresh backend (another worker), other audio for another speaker
    one, two = KokoroBackend(), KokoroBackend()
    x = one.synthesize(TEXT, "blend-0017", {"speed": 1.0})
    assert np.array_equal(x, two.synthesize(TEXT, "blend-0017", {"speed": 1.0}))
    y = two.synthesize(TEXT, "blend-0018", {"speed": 1.0})
    assert len(x) != len(y) or not np.allclose(x, y, atol=1e-3)
    with pytest.raises(synth.SynthesisError):
        one.synthesize(TEXT, "blend-17", {"speed": 1.0})


def test_kokoro_male_blends_speak_lower_than_female_ones():
    """Four of the five tables are female: male speakers come from blends that lean on the fifth."""
    male = next(i for i in range(50) if speaker_recipe(i)["male"])
    female = next(i for i in range(50) if not speaker_recipe(i)["male"])
    backend = synth.get_backend("kokoro")
    f0 = {
        i: _median_f0(backend.synthesize(TEXT, f"blend-{i:04d}", {"speed": 1.0}), backend.sample_rate)
        for i in (male, female)
    }
    assert f0[male] < 160 < f0[female], f0


def test_espeak_ipa_becomes_kokoro_phonemes():
    vocab = _vocab()
    us, gb = espeak_phonemes("the brown goat, over there?", False), espeak_phonemes("the brown goat", True)
    assert all(c in vocab for c in us + gb), (us, gb)
    assert "W" in us and "O" in us and us.endswith("?") and "," in us  # aʊ, oʊ; clauses and intonation
    assert "Q" in gb and "^" not in us + gb  # British əʊ; no tie marks left


def test_hibari_variants_are_fixed_speakers():
    assert variant_warp("heart").identity
    assert variant_warp("heart-03") == variant_warp("heart-03") != variant_warp("heart-04")
    for bad in ("heart-00", "heart-3", "emma"):
        with pytest.raises(synth.SynthesisError):
            variant_warp(bad)
    backend = synth.get_backend("hibari")
    x = backend.synthesize(TEXT, "heart-03", {"speed": 1.0})
    assert np.array_equal(x, synth.HibariBackend().synthesize(TEXT, "heart-03", {"speed": 1.0}))


@pytest.mark.parametrize(
    "voice", ["mb-de4-en", "mb-nl2-en", "mb-sw2-en", "mb-pl1-en", "MB-PL1-EN", "mb/mb-nl2-en"]
)
def test_reserved_accented_voices_are_refused_by_name(voice):
    with pytest.raises(ReservedVoiceError, match="reserved"):
        check_not_reserved("accented", voice)
    backend = synth.get_backend("accented")
    with pytest.raises(ReservedVoiceError):
        backend.check_voices([voice])
    with pytest.raises(ReservedVoiceError):
        backend.synthesize(TEXT, voice, {"rate": 150, "pitch": 50})
    assert voice not in backend.voices() and voice.lower() not in ACCENTED_VOICES
    from corpus_config import CorpusConfig

    with pytest.raises(ReservedVoiceError):
        CorpusConfig.from_dict({"engines": ["espeak", "accented"], "accented_voices": ["mb-de1-en", voice]})
    # a sibling database of the same language is no reserved voice
    sibling = {"de4": "de1", "nl2": "de2", "sw2": "sw1", "pl1": "hu1"}
    check_not_reserved("accented", re.sub(r"de4|nl2|sw2|pl1", lambda m: sibling[m.group()], voice.lower()))


VOICES_TOML = """
[corpus]
seed = 3
num_train = 8
num_dev = 2
num_test = 2
num_test_text = 2
engines = ["espeak", "kokoro", "hibari", "accented"]
engine_weights = [0.2, 0.4, 0.2, 0.2]
kokoro_speakers = 4
hibari_voices = ["heart", "heart-01"]
accented_voices = ["mb-de2-en", "mb-fr1-en"]
accents = ["en-us"]
variants = ["m1", "f2"]
test_heldout_pairs = 0
heldout_voices = ["kokoro:blend-0003"]
[corpus.warp]
prob = 0.5
skip_engines = ["kokoro", "hibari"]
"""


def _prepare(config: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, str(RECIPE / "prepare.py"), "--config", str(config), "--out", str(out), *extra]


def _digests(out: Path) -> dict[str, str]:
    # a killed render's temporary file (".<name>.tmp.wav") is not a clip
    wavs = [p for p in (out / "wav").rglob("*.wav") if not p.name.startswith(".")]
    return {p.name: hashlib.md5(p.read_bytes()).hexdigest() for p in wavs}


def test_voices_corpus_renders_deterministically_and_resumes_after_a_kill(tmp_path):
    config = tmp_path / "voices.toml"
    config.write_text(VOICES_TOML)
    ref = tmp_path / "ref"
    done = subprocess.run(
        _prepare(config, ref, "--jobs", "2", "--no-progress"), capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]
    rows = [json.loads(x) for s in ("train", "dev", "test", "test_text") for x in (ref / f"{s}.jsonl").open()]
    assert {r["engine"] for r in rows} == {"espeak", "kokoro", "hibari", "accented"}
    assert not any("warp" in r for r in rows if r["engine"] in ("kokoro", "hibari"))
    test_voices = {r["speaker"] for r in (json.loads(x) for x in (ref / "test.jsonl").open())}
    assert "kokoro:blend-0003" in test_voices
    assert "kokoro:blend-0003" not in {r["speaker"] for r in rows if not r["id"].startswith("test-")}

    # The slow engines alone, in the background way: one job, text frozen, killed while rendering.
    out = tmp_path / "bg"
    slow = ("--jobs", "1", "--engines", "kokoro,hibari,accented", "--freeze-text", "--no-progress")
    proc = subprocess.Popen(
        _prepare(config, out, *slow), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and len(_digests(out)) < 3:
        assert proc.poll() is None, "finished before it could be killed"
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    partial = _digests(out)
    assert 3 <= len(partial) < len(_digests(ref))
    assert (out / "sentences.jsonl").is_file()
    # the manifests of what is there, to train on while the rest waits: every listed clip exists
    listed = subprocess.run(
        _prepare(config, out, "--manifests-only", "--no-progress"), capture_output=True, text=True
    )
    assert listed.returncode == 0, listed.stderr[-3000:]
    rows = [json.loads(x) for s in ("train", "dev", "test", "test_text") for x in (out / f"{s}.jsonl").open()]
    assert {Path(r["audio"]).name for r in rows} == set(partial)
    assert _digests(out) == partial and not (out / ".done").exists()  # nothing rendered, nothing deleted
    info = json.loads((out / "corpus_info.json").read_text())
    assert sum(s["not_rendered"] for s in info["splits"].values()) == len(_digests(ref)) - len(partial)
    done = subprocess.run(_prepare(config, out, *slow), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    info = json.loads((out / "corpus_info.json").read_text())
    assert sum(s.get("not_rendered", 0) for s in info["splits"].values()) > 0  # espeak-ng's, not yet
    assert set(_digests(out)) < set(_digests(ref))
    assert all(_digests(out)[name] == digest for name, digest in partial.items())
    # then the rest into the same folder: the very corpus of one uninterrupted run
    done = subprocess.run(
        _prepare(config, out, "--jobs", "2", "--no-progress"), capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert _digests(out) == _digests(ref)
    for split in ("train", "dev", "test", "test_text"):
        assert (out / f"{split}.jsonl").read_text() == (ref / f"{split}.jsonl").read_text()


def _fake_voices_corpus(folder: Path) -> None:
    """Manifests of config.voices.toml's plan (no audio: the folds only read the manifests)."""
    import prepare as P

    from asr.text import Vocabulary, normalize_text

    cfg = P.load_config(RECIPE / "config.voices.toml")
    sentences, _ = P.collect_sentences(cfg, normalize_text, Vocabulary.english_characters().can_encode)
    voice_files = P.resolve_voices(cfg.accents, cfg.variants)
    plan, _, _ = P.plan_corpus(sentences, cfg, "tag", voice_files)
    folder.mkdir()
    for split, utts in plan.items():
        rows = [{"id": u.id, "audio": f"wav/{u.id}.wav", "duration": 1.0, "text": u.text, "speaker": u.speaker,
                 "engine": u.engine} for u in utts]  # fmt: skip
        (folder / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_leave_out_folds_share_no_voice_between_train_and_test(tmp_path):
    corpus = tmp_path / "voices"
    _fake_voices_corpus(corpus)
    script = (RECIPE / "studies" / "loeo.sh").read_text()
    groups = set(re.findall(r"^\s+([a-z|]+)\)", script, re.M)[0].split("|"))
    groups |= set(re.findall(r"^\s+([a-z|]+)\)", script, re.M)[1].split("|"))
    assert groups == set(split_engines.FOLDS)  # every group loeo.sh accepts is a fold defined here
    assert split_engines.FOLDS["neural"]["engines"] == ("kokoro", "hibari", "piper")
    accented = split_engines.FOLDS["accented"]["voices"]
    assert len(accented) == 6 and {v.split(":")[1] for v in accented} < set(ACCENTED_VOICES)
    for name, fold in split_engines.FOLDS.items():
        held_engines, held_voices = set(fold.get("engines", ())), set(fold.get("voices", ()))
        split_engines.split_by_engine(corpus, sorted(held_engines), corpus / name, 0, sorted(held_voices))
        rows = {
            s: [json.loads(x) for x in (corpus / name / f"{s}.jsonl").open()]
            for s in ("train", "dev", "test")
        }
        seen = {r["speaker"] for r in rows["train"] + rows["dev"]}
        heard = {r["speaker"] for r in rows["test"]}
        assert rows["test"] and not seen & heard, name
        assert all(r["engine"] in held_engines or r["speaker"] in held_voices for r in rows["test"])
        assert not {r["engine"] for r in rows["train"] + rows["dev"]} & held_engines
        assert not seen & held_voices and held_voices <= heard
    # six accented voices still train: the fold measures new speakers, not a new engine
    train = {r["speaker"] for r in (json.loads(x) for x in (corpus / "accented" / "train.jsonl").open())}
    assert len({s for s in train if s.startswith("accented:")}) == 6
