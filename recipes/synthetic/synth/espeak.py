"""espeak-ng's own formant voices: an accent's voice file with a variant, e.g. ``gmw/en+m3``."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence

import numpy as np

from .base import Backend, EngineMissing, Setting, parse_wav, run

ESPEAK = "espeak-ng"


def espeak_voices(kind: str) -> list[tuple[str, str]]:
    """(language, voice file) rows of ``espeak-ng --voices=KIND``."""
    out = subprocess.run([ESPEAK, f"--voices={kind}"], capture_output=True, text=True, check=False).stdout
    rows = []
    for line in out.splitlines()[1:]:
        parts = line.split()
        if len(parts) >= 5:
            rows.append((parts[1], parts[4]))
    return rows


def resolve_voices(accents: Sequence[str], variants: Sequence[str]) -> dict[str, str]:
    """Accent -> espeak-ng voice file ("en-gb" -> "gmw/en"); EngineMissing for unknown names.

    Voices are addressed by file because espeak-ng 1.51 drops the variant of ``-v en-gb+m3`` (every
    en-gb variant rendered identically), while ``-v gmw/en+m3`` works. MBROLA voices (mb/) are the
    ``mbrola`` engine's.
    """
    files: dict[str, str] = {}
    for language, path in espeak_voices("en"):
        if not path.startswith("mb/"):
            files.setdefault(language, path)
    missing = [a for a in accents if a not in files]
    if missing:
        raise EngineMissing(
            f"espeak-ng has no (non-mbrola) voice for accents {missing}; available: {sorted(files)}"
        )
    known = {path.split("/", 1)[1] for _, path in espeak_voices("variant") if path.startswith("!v/")}
    unknown = [v for v in variants if v not in known]
    if unknown:
        raise EngineMissing(
            f"espeak-ng has no variants {unknown} (names are the files listed by espeak-ng --voices=variant, "
            f"e.g. m3, f2, klatt); available: {sorted(known)}"
        )
    return {a: files[a] for a in accents}


class EspeakBackend(Backend):
    """Voices are espeak-ng ``-v`` arguments (``gmw/en+m3``); rate in words/min, pitch 0-99."""

    engine = "espeak"
    sample_rate = 22050
    settings = (Setting("rate", 130, 200), Setting("pitch", 30, 70))
    licence = "espeak-ng: GPL-3.0-or-later (program and voice data); its output is not restricted"
    programs = (ESPEAK,)

    def install_hint(self) -> str:
        return "apt-get install -y espeak-ng"

    def voices(self) -> list[str]:
        return [path for _, path in espeak_voices("en") if not path.startswith("mb/")]

    def version(self) -> str:
        if not self.available():
            raise EngineMissing("espeak-ng is not installed: apt-get install -y espeak-ng")
        out = subprocess.run([ESPEAK, "--version"], capture_output=True, text=True, check=False).stdout
        return out.strip() or "unknown"

    def synthesize(self, text: str, voice: str, settings: Mapping[str, float]) -> np.ndarray:
        cmd = [ESPEAK, "-v", voice, "-s", str(int(settings["rate"])), "-p", str(int(settings["pitch"]))]
        x, sr = parse_wav(run([*cmd, "--stdout"], stdin=text.encode("ascii", errors="ignore")))
        self.sample_rate = sr
        return x
