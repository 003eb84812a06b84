"""Speed of each text-to-speech engine here (seconds of audio per CPU-second, one process, engine
subprocesses included) and, with --whisper, Whisper tiny.en's word error rate on the clips.

    python recipes/synthetic/studies/engine_speed.py --engines kokoro,hibari,accented --sentences 12 \
        [--voices 4] [--whisper] [--out /tmp/engine-speed]

Sentences come from the synthetic corpus's own text sources (the first N of a seeded order); each
engine renders them with its first ``--voices`` configured voices in turn, settings drawn from its
defaults. Model loading and each voice's first call are left out of the timing (a warm-up sentence).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

_HERE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(_HERE))

from corpus_config import CorpusConfig  # noqa: E402
from sentences import collect_sentences  # noqa: E402
from synth import before_fork, get_backend  # noqa: E402


def cpu_seconds() -> float:
    """CPU time of this process and of its finished children (espeak-ng, mbrola, pico2wave ...)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def measure(engine: str, texts: list[str], voices: list[str], out: Path | None) -> dict:
    backend = get_backend(engine)
    before_fork([engine])
    rng = np.random.default_rng(0)
    audio_s = cpu_s = 0.0
    clips = []
    for voice in voices:
        backend.synthesize("warm up", voice, backend.draw_settings(rng))
    for i, text in enumerate(texts):
        voice = voices[i % len(voices)]
        settings = backend.draw_settings(rng)
        c0 = cpu_seconds()
        x = backend.synthesize(text, voice, settings)
        cpu_s += cpu_seconds() - c0
        audio_s += len(x) / backend.sample_rate
        if out is not None:
            path = out / f"{engine}-{i:03d}.wav"
            sf.write(path, x, backend.sample_rate, subtype="PCM_16")
            clips.append((str(path), text))
    return {
        "engine": engine,
        "clips": len(texts),
        "voices": voices,
        "audio_s": round(audio_s, 1),
        "cpu_s": round(cpu_s, 1),
        "audio_s_per_cpu_s": round(audio_s / cpu_s, 2),
        "paths": clips,
    }


def whisper_wer(clips: list[tuple[str, str]]) -> float:
    import jiwer
    from quality_gate import transcribe

    from asr.text import normalize_text

    refs = [normalize_text(t) for _, t in clips]
    hyps = [normalize_text(transcribe(p)) for p, _ in clips]
    return round(100 * jiwer.wer(refs, hyps), 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engines", default="kokoro,hibari,accented")
    parser.add_argument("--sentences", type=int, default=12)
    parser.add_argument("--voices", type=int, default=4, help="voices per engine, used in turn")
    parser.add_argument("--whisper", action="store_true", help="Whisper tiny.en WER on the clips")
    parser.add_argument("--out", type=Path, help="keep the clips here")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from asr.text import Vocabulary, normalize_text

    cfg = CorpusConfig()
    sentences, _ = collect_sentences(cfg, normalize_text, Vocabulary.english_characters().can_encode, None)
    order = np.random.default_rng(7).permutation(len(sentences))[: args.sentences]
    texts = [sentences[int(i)].spoken for i in order]
    out = args.out
    if out is None and args.whisper:
        import tempfile

        out = Path(tempfile.mkdtemp(prefix="engine-speed-"))
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    for engine in [e for e in args.engines.split(",") if e]:
        voices = list(cfg.voices_of(engine))[: args.voices] if engine != "espeak" else ["gmw/en-US+m3"]
        row = measure(engine, texts, voices, out)
        clips = row.pop("paths")
        if args.whisper:
            row["whisper_tiny_en_wer"] = whisper_wer(clips)
        print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
