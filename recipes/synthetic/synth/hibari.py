"""hibari-tts: a 7.9 MB neural voice (American English, female; a small model taught by Kokoro's
``af_heart``) with Kokoro's G2P, from PyPI ``hibari-tts`` (Apache-2.0). Its other voices download at run
time and are not used.

One voice is one speaker, so the backend also offers fixed variants of it: ``heart-NN`` is ``heart``
through a WORLD warp (formant and pitch) seeded by NN, the same for every utterance, so each variant is a
speaker of its own (the corpus's ``[corpus.warp]`` draws a new warp per clip instead).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping

import numpy as np

from .base import Backend, EngineMissing, Setting, SynthesisError
from .speakers import SpeakerWarp, apply_warp

VOICE = "heart"
VARIANT_RE = re.compile(r"heart-(\d{2})")
VARIANT_SEED = 0x68696272
# From the female voice towards lower, longer vocal tracts and lower registers: about half the variants
# sound male. Wider warps left WORLD artefacts.
VARIANT_FORMANT = (0.84, 1.08)
VARIANT_PITCH = (-7.0, 2.0)


def variant_names(n: int) -> tuple[str, ...]:
    """``heart`` and its first ``n`` warped variants ``heart-01`` ..."""
    return (VOICE, *(f"{VOICE}-{i:02d}" for i in range(1, n + 1)))


def variant_warp(voice: str) -> SpeakerWarp:
    """The fixed warp of a voice name (identity for ``heart``)."""
    if voice == VOICE:
        return SpeakerWarp()
    m = VARIANT_RE.fullmatch(voice)
    if m is None or m.group(1) == "00":
        raise SynthesisError(f"hibari voices are {VOICE!r} and {VOICE}-01 ... {VOICE}-99, got {voice!r}")
    rng = np.random.default_rng([VARIANT_SEED, int(m.group(1))])
    formant, pitch = rng.uniform(*VARIANT_FORMANT), rng.uniform(*VARIANT_PITCH)
    return SpeakerWarp(round(float(formant), 3), round(float(pitch), 2), 1.0)


class HibariBackend(Backend):
    engine = "hibari"
    modules = ("hibari", "onnxruntime")
    sample_rate = 24000
    settings = (Setting("speed", 0.85, 1.2),)  # > 1 speaks faster
    licence = (
        "hibari-tts: Apache-2.0 (code and the bundled 'heart' model; G2P ported from misaki, Apache-2.0; "
        "distilled from Kokoro-82M, Apache-2.0)"
    )

    def __init__(self) -> None:
        self._tts = None

    def install_hint(self) -> str:
        return 'pip install -e ".[synth]" (hibari-tts)'

    def voices(self) -> list[str]:
        return list(variant_names(99)) if self.available() else []

    def version(self) -> str:
        from importlib.metadata import version

        if not self.available():
            raise EngineMissing(f"hibari is not installed: {self.install_hint()}")
        warp = [VARIANT_SEED, VARIANT_FORMANT, VARIANT_PITCH]
        return f"hibari-tts={version('hibari-tts')} variants={hashlib.sha1(json.dumps(warp).encode()).hexdigest()[:8]}"

    def _load(self):
        if self._tts is None:
            from hibari import Hibari

            self._tts = Hibari(voice=VOICE, threads=1)  # bundled in the wheel: no download
        return self._tts

    def synthesize(self, text: str, voice: str, settings: Mapping[str, float]) -> np.ndarray:
        warp = variant_warp(voice)
        # Its vocoder adds noise: drawn from the utterance, so the same clip renders the same audio.
        key = json.dumps([text, voice, sorted(settings.items())]).encode()
        seed = int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "little")
        x = np.asarray(self._load()(text, speed=float(settings["speed"]), seed=seed), dtype=np.float32)
        if x.size == 0 or not np.isfinite(x).all() or not np.abs(x).max() > 0:
            raise SynthesisError(f"hibari produced no audio for {text!r}")
        x = apply_warp(x, self.sample_rate, warp)
        return np.clip(x * (0.9 / float(np.abs(x).max())), -1.0, 1.0).astype(np.float32)
