"""Voice backends of the synthetic corpus: one module per text-to-speech engine behind one interface.

    from synth import get_backend
    backend = get_backend("pico")
    wave = backend.synthesize("hello there", "en-GB", {"speed": 100, "pitch": 100})  # float32 at
    backend.sample_rate

Engines: ``espeak`` (espeak-ng formant voices), ``mbrola`` (MBROLA diphones through espeak-ng),
``festival`` (Festival's MBROLA voices and rab_diphone), ``pico`` (SVOX Pico), ``rhvoice`` (RHVoice HMM
voices), ``piper`` (a neural VITS voice), ``kokoro`` (Kokoro-82M with blended speakers ``blend-NNNN``),
``hibari`` (a small neural voice and its warped variants), ``accented`` (English through other languages'
MBROLA diphones: ``mb-de1-en``, ...). Voices reserved for independent evaluation are refused by name
(:func:`check_not_reserved`).
"""

from __future__ import annotations

from .base import (
    RESERVED_VOICES,
    Backend,
    EngineMissing,
    ReservedVoiceError,
    Setting,
    SynthesisError,
    check_not_reserved,
)
from .espeak import EspeakBackend, resolve_voices
from .festival import FestivalBackend
from .hibari import HibariBackend, variant_names
from .kokoro import KokoroBackend
from .mbrola import ACCENTED_VOICES, AccentedBackend, MbrolaBackend
from .pico import PicoBackend
from .piper import PiperBackend
from .rhvoice import RHVoiceBackend
from .speakers import SpeakerWarp, WarpConfig, apply_warp

ENGINES: dict[str, type[Backend]] = {
    "espeak": EspeakBackend,
    "mbrola": MbrolaBackend,
    "festival": FestivalBackend,
    "pico": PicoBackend,
    "rhvoice": RHVoiceBackend,
    "piper": PiperBackend,
    "kokoro": KokoroBackend,
    "hibari": HibariBackend,
    "accented": AccentedBackend,
}
# The voices each engine uses when a config names the engine but not its voices (espeak's come from
# the config's accents x variants). Every one is licensed for training a model we ship.
DEFAULT_VOICES: dict[str, tuple[str, ...]] = {
    "mbrola": ("mb-us1", "mb-us2", "mb-us3", "mb-en1"),
    "festival": ("us1_mbrola", "us2_mbrola", "us3_mbrola", "en1_mbrola", "rab_diphone"),
    "pico": ("en-US", "en-GB"),
    "rhvoice": ("bdl", "clb"),
    "piper": ("joe",),
    "kokoro": (),  # blend-0000 ... : [corpus] kokoro_speakers says how many
    "hibari": variant_names(11),
    "accented": ACCENTED_VOICES,
}

_backends: dict[str, Backend] = {}


def before_fork(engines: list[str] | tuple[str, ...]) -> None:
    """What must happen once in the parent before worker processes start (Kokoro joins its model)."""
    for engine in engines:
        get_backend(engine).before_fork()


def get_backend(engine: str) -> Backend:
    """The process's one backend object for ``engine`` (Festival and Piper keep state between calls)."""
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; engines: {sorted(ENGINES)}")
    if engine not in _backends:
        _backends[engine] = ENGINES[engine]()
    return _backends[engine]


def close_all() -> None:
    for backend in _backends.values():
        backend.close()
    _backends.clear()


__all__ = [
    "DEFAULT_VOICES", "ENGINES", "RESERVED_VOICES", "Backend", "EngineMissing", "ReservedVoiceError",
    "Setting", "SpeakerWarp", "SynthesisError", "WarpConfig", "apply_warp", "check_not_reserved",
    "before_fork", "close_all", "get_backend", "resolve_voices",
]  # fmt: skip
