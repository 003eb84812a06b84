"""One interface for every text-to-speech engine of the synthetic corpus.

A backend turns text into a mono float32 waveform at the engine's own sample rate; the recipe resamples
to 16 kHz, trims silence and writes the wav. Each backend names its voices, its version (part of the
corpus hash, so a changed engine re-renders) and the settings it varies per utterance (rate, pitch, ...),
each drawn from a range the corpus config may override.
"""

from __future__ import annotations

import importlib
import io
import re
import shutil
import struct
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

# Voices kept for independent evaluation: the recipe refuses to synthesize with them, whatever the
# engine is called (issue "voices beyond espeak-ng"). Festival's default voice is kal_diphone: every
# Festival call in this package names its voice.
RESERVED_ENGINES = frozenset({"flite", "freetts"})
RESERVED_VOICES = frozenset(
    {"kal_diphone", "ked_diphone", "cmu_us_slt_arctic_hts", "alan", "slt", "kevin", "kevin16"}
)
# MBROLA databases whose accented English voices (espeak-ng mb-XX-en) are reserved: refused under any
# name that uses them ("mb-de4-en", "mb/mb-nl2-en", "mb-sw2", "pl1_mbrola", ...).
RESERVED_MBROLA = frozenset({"de4", "nl2", "sw2", "pl1"})
_MBROLA_NAME = re.compile(r"(?:mb_)?([a-z]{2}[0-9])(?:_en)?(?:_mbrola)?")


class SynthesisError(RuntimeError):
    """An engine failed on one utterance (the recipe skips it and reports it)."""


class EngineMissing(ValueError):
    """An engine or voice is not installed; the message says what to install."""


class ReservedVoiceError(ValueError):
    """A voice reserved for independent evaluation was asked for."""


def check_not_reserved(engine: str, voice: str) -> None:
    """Raise ReservedVoiceError for a reserved engine or voice (any case; 8 kHz twins included)."""
    name = voice.lower().replace("-", "_").split("/")[-1].split("+")[0]
    base = re.sub(r"_?(8|16)k$", "", name)
    if engine.lower() in RESERVED_ENGINES or "flite" in name:
        raise ReservedVoiceError(
            f"{engine}:{voice} is reserved for independent evaluation (every flite voice)"
        )
    mbrola = _MBROLA_NAME.fullmatch(base)
    if (
        base in RESERVED_VOICES
        or base.startswith("cmu_us_slt")
        or (mbrola is not None and mbrola.group(1) in RESERVED_MBROLA)
    ):
        raise ReservedVoiceError(
            f"{engine}:{voice} is reserved for independent evaluation: never train, tune or evaluate on it"
        )


@dataclass(frozen=True)
class Setting:
    """One per-utterance engine setting drawn uniformly from [low, high] (ints when both are ints)."""

    name: str
    low: float
    high: float

    def draw(self, rng: np.random.Generator) -> float | int:
        if isinstance(self.low, int) and isinstance(self.high, int):
            return int(rng.integers(self.low, self.high + 1))
        return round(float(rng.uniform(self.low, self.high)), 3)


class Backend:
    """Base class: subclasses set ``engine``, ``sample_rate``, ``settings`` and implement the methods."""

    engine: str = ""
    sample_rate: int = 16000
    settings: tuple[Setting, ...] = ()
    licence: str = ""
    programs: tuple[str, ...] = ()  # the executables the engine runs: it is available when all are found
    modules: tuple[str, ...] = ()  # or the Python modules it imports: available when all import

    def available(self) -> bool:
        """True when the engine's programs and Python modules are all installed."""
        if not self.programs and not self.modules:
            raise NotImplementedError
        return all(which(program) is not None for program in self.programs) and all(
            _imports(module) for module in self.modules
        )

    def install_hint(self) -> str:
        return "recipes/synthetic/install_engines.sh"

    def voices(self) -> list[str]:
        """Every voice name this engine can use here (reserved voices left out)."""
        raise NotImplementedError

    def version(self) -> str:
        raise NotImplementedError

    def synthesize(self, text: str, voice: str, settings: Mapping[str, float]) -> np.ndarray:
        """(samples,) float32 mono waveform at ``self.sample_rate`` for ``text`` in ``voice``."""
        raise NotImplementedError

    def before_fork(self) -> None:
        """One-time preparation in the parent process, before workers start (most engines: nothing)."""

    def close(self) -> None:
        """Release long-lived helper processes (Festival keeps one per worker)."""

    # --- shared checks ---

    def check_voices(self, wanted: Sequence[str]) -> None:
        """EngineMissing / ReservedVoiceError / ValueError unless every voice in ``wanted`` is usable."""
        for voice in wanted:
            check_not_reserved(self.engine, voice)
        if not self.available():
            raise EngineMissing(f"{self.engine} is not installed: run {self.install_hint()}")
        have = set(self.voices())
        missing = [v for v in wanted if v not in have]
        if missing:
            raise EngineMissing(
                f"{self.engine} has no voices {missing} here (available: {sorted(have)}); "
                f"run {self.install_hint()}"
            )

    def draw_settings(
        self, rng: np.random.Generator, ranges: Mapping[str, Sequence[float]] | None = None
    ) -> dict[str, float]:
        """One value per setting, from the config's ``ranges`` where given, else the defaults."""
        ranges = ranges or {}
        out: dict[str, float] = {}
        for s in self.settings:
            lo, hi = ranges.get(s.name, (s.low, s.high))
            out[s.name] = Setting(s.name, lo, hi).draw(rng)
        return out


def _imports(module: str) -> bool:
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True


def which(program: str) -> str | None:
    return shutil.which(program)


def run(cmd: Sequence[str], stdin: bytes | None = None, timeout: float = 120) -> bytes:
    """Run an engine's program; SynthesisError with its stderr when it fails."""
    try:
        proc = subprocess.run(list(cmd), input=stdin, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise SynthesisError(f"{cmd[0]} took longer than {timeout:.0f} s") from None
    if proc.returncode != 0:
        err = proc.stderr.decode(errors="replace").strip()[-500:]
        raise SynthesisError(f"{' '.join(cmd[:3])} ... failed ({proc.returncode}): {err}")
    return proc.stdout


def parse_wav(data: bytes) -> tuple[np.ndarray, int]:
    """(samples,) float32 and the rate of a 16-bit mono PCM WAV stream.

    Tolerates the placeholder RIFF/data sizes that streaming writers (espeak-ng --stdout, RHVoice) put
    in their headers: the data chunk runs to the end of the stream.
    """
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise SynthesisError("the engine did not write a WAV stream")
    pos, rate = 12, None
    while pos + 8 <= len(data):
        cid, size = data[pos : pos + 4], struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        if cid == b"fmt ":
            fmt, channels, rate, _, _, bits = struct.unpack("<HHIIHH", data[pos + 8 : pos + 24])
            if fmt not in (1, 0xFFFE) or channels != 1 or bits != 16:
                raise SynthesisError(f"unexpected WAV format {fmt}/{channels}ch/{bits}bit")
        elif cid == b"data":
            if rate is None:
                raise SynthesisError("WAV data before fmt")
            end = len(data) if size in (0, 0xFFFFFFFF) or pos + 8 + size > len(data) else pos + 8 + size
            body = data[pos + 8 : end]
            body = body[: len(body) // 2 * 2]
            return np.frombuffer(body, dtype="<i2").astype(np.float32) / 32768.0, rate
        pos += 8 + size + (size & 1)
    raise SynthesisError("WAV stream has no data chunk")


def read_wav_file(path: str) -> tuple[np.ndarray, int]:
    with open(path, "rb") as f:
        return parse_wav(f.read())


def wav_bytes(x: np.ndarray, sample_rate: int) -> bytes:
    """16-bit mono WAV bytes of a float waveform (for piping through sox)."""
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, np.clip(x, -1.0, 32767 / 32768), sample_rate, subtype="PCM_16", format="WAV")
    return buf.getvalue()


def package_versions(*packages: str) -> str:
    """'name=version ...' of installed Debian packages (part of the corpus hash); '' where dpkg is absent."""
    if which("dpkg-query") is None:
        return ""
    proc = subprocess.run(
        ["dpkg-query", "-W", "-f", "${Package}=${Version} ", *packages],
        capture_output=True,
        text=True,
        check=False,
    )
    return proc.stdout.strip()
