"""Turn a corpus's own listing into manifests (docs/architecture.md, Data formats), skipping and reporting bad items.

A recipe parses its metadata files into :class:`Item` s (id, source audio, raw transcript, speaker and,
where the audio must be converted or cut, a target file); :func:`prepare_split` then, in parallel with
a progress bar,

* normalizes each transcript with :func:`asr.text.normalize_text`,
* materializes converted/cut audio (headerless raw PCM → wav, a segment of a long recording → flac)
  unless the target exists already,
* reads each duration from the file header (no decoding for wav/flac/sph; mp3 is scanned by libsndfile
  or taken from the corpus's own duration list when the recipe passes it),
* with ``Item.verify``, decodes the whole file (so a corrupt clip whose duration came from the corpus's
  own list is found now, not in the middle of training),
* skips missing audio, empty or untranscribable text and unreadable files, counting each reason,

and writes ``<split>.jsonl`` (sorted by id, audio paths relative to the manifest's folder) plus
``<split>.report.json`` (counts, hours, skipped ids with reasons). Everything is deterministic, so a
re-run rewrites identical files; :func:`split_done` / :func:`mark_done` let a recipe skip the work
entirely when its inputs are unchanged. A split whose listed items have no usable audio at all raises
:class:`PrepareError` (a wrong folder, an unknown audio layout) instead of writing an empty manifest.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from asr.audio import AudioError, audio_duration
from asr.errors import PrepareError
from asr.fileio import atomic_path, atomic_write
from asr.text import normalize_text

__all__ = ["Item", "PrepareError", "PrepareResult", "RawFormat", "mark_done", "prepare_split", "split_done"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RawFormat:
    """Headerless PCM (e.g. AN4's big-endian 16-bit ``.raw`` files)."""

    sample_rate: int = 16000
    channels: int = 1
    subtype: str = "PCM_16"
    endian: str = "BIG"


@dataclass(frozen=True)
class Item:
    """One utterance as the corpus lists it, before normalization and checks."""

    id: str
    audio: Path  # the corpus's file
    text: str  # raw transcript (normalized here)
    speaker: str | None = None
    target: Path | None = None  # write converted/cut audio here (wav or flac, by suffix)
    start: float | None = None  # seconds: cut [start, end) of ``audio`` into ``target``
    end: float | None = None
    raw: RawFormat | None = None  # ``audio`` is headerless PCM in this format
    duration: float | None = None  # known from the corpus's metadata: no header read needed
    verify: bool = False  # decode the whole file now: corrupt audio is reported here, not in training
    extra: dict[str, Any] = field(default_factory=dict)  # more manifest fields (e.g. gender, accent)


@dataclass
class PrepareResult:
    split: str
    manifest: Path
    rows: list[dict]
    skipped: dict[str, str]  # id -> reason

    @property
    def hours(self) -> float:
        return sum(r["duration"] for r in self.rows) / 3600

    def summary(self) -> str:
        reasons = Counter(r.split(":")[0] for r in self.skipped.values())
        skipped = ", ".join(f"{n} {why}" for why, n in reasons.most_common()) or "none"
        return f"{self.split}: {len(self.rows)} utterances, {self.hours:.2f} h; skipped: {skipped}"


def _materialize(item: Item) -> Path:
    """Write ``item.target`` from ``item.audio`` (raw → wav, or a cut segment); return the file to use."""
    import numpy as np
    import soundfile as sf

    target = item.target
    assert target is not None
    if target.exists() and target.stat().st_size > 44:
        return target
    if not item.audio.exists():
        raise AudioError(f"{item.audio}: no such file")
    if item.raw is not None:
        fmt = item.raw
        data, rate = sf.read(
            str(item.audio), samplerate=fmt.sample_rate, channels=fmt.channels, subtype=fmt.subtype,
            endian=fmt.endian, format="RAW", dtype="int16", always_2d=True,
        )  # fmt: skip
    else:
        try:
            with sf.SoundFile(str(item.audio)) as f:
                rate = f.samplerate
                start = int(round((item.start or 0.0) * rate))
                stop = f.frames if item.end is None else min(f.frames, int(round(item.end * rate)))
                if stop <= start:
                    raise AudioError(
                        f"{item.audio}: segment {item.start}-{item.end} s is empty or beyond the end"
                    )
                f.seek(start)
                data = f.read(stop - start, dtype="int16", always_2d=True)
        except (sf.SoundFileError, RuntimeError) as e:
            raise AudioError(f"{item.audio}: unreadable ({e})") from None
    if data.size == 0:
        raise AudioError(f"{item.audio}: no samples")
    mono = data.mean(axis=1).astype(np.int16) if data.shape[1] > 1 else data[:, 0]
    fmt_name = "FLAC" if target.suffix.lower() == ".flac" else "WAV"
    # Thousands of files: no fsync each (a killed run leaves no torn file, and re-running redoes it).
    with atomic_path(target, durable=False) as tmp:
        sf.write(str(tmp), mono, rate, format=fmt_name, subtype="PCM_16")
    return target


def decode_check(path: Path, block_frames: int = 1 << 16) -> float:
    """Decode all of ``path`` in blocks (memory stays small); return its seconds, or raise AudioError.

    Non-finite samples and files that stop decoding part way are errors. Files libsndfile cannot open at
    all go through :func:`asr.audio.load_audio`, the loader training uses (ffmpeg for m4a and friends).
    """
    import numpy as np
    import soundfile as sf

    try:
        f = sf.SoundFile(str(path))
    except (sf.SoundFileError, RuntimeError):
        from asr.audio import load_audio

        try:
            audio = load_audio(path)
        except AudioError:
            raise
        except Exception as e:  # noqa: BLE001 - any decoder failure is a bad file
            raise AudioError(f"{path}: does not decode ({type(e).__name__}: {e})") from None
        return len(audio) / 16000
    frames = 0
    try:
        with f:
            rate = f.samplerate
            while True:
                block = f.read(block_frames, dtype="float32", always_2d=True)
                if not len(block):
                    break
                if not np.isfinite(block).all():
                    raise AudioError(f"{path}: NaN or infinite samples at {frames / rate:.2f} s")
                frames += len(block)
    except (sf.SoundFileError, RuntimeError) as e:
        raise AudioError(f"{path}: decoding failed after {frames} frames ({e})") from None
    if frames == 0:
        raise AudioError(f"{path}: no samples decode")
    return frames / rate


def _probe(job: tuple[Item, str]) -> tuple[dict | None, str | None]:
    """(manifest row, None) for a usable item, (None, reason) for a bad one: whatever goes wrong with one
    item (docs/architecture.md, Reliability rules) is its reason, never the end of the run."""
    try:
        return _probe_item(*job)
    except Exception as e:  # noqa: BLE001 - the traceback is logged at DEBUG, the item is skipped
        log.debug("%s: unexpected error while checking it", job[0].id, exc_info=True)
        return None, f"unreadable audio: {job[0].audio}: unexpected {type(e).__name__}: {e}"


def _probe_item(item: Item, manifest_dir: str) -> tuple[dict | None, str | None]:
    text = normalize_text(item.text)
    if not text:
        return None, f"empty text: transcript {item.text!r} is empty after normalization"
    have_target = item.target is not None and item.target.exists()
    if not have_target and not item.audio.exists():
        return None, f"missing audio: {item.audio}"
    path = item.audio
    try:
        path = _materialize(item) if item.target is not None else item.audio
        duration = item.duration if item.duration is not None else audio_duration(path)
    except AudioError as e:
        return None, f"unreadable audio: {e}"
    except Exception as e:  # one bad file never kills the run (docs/architecture.md, Reliability rules)
        return (
            None,
            f"unreadable audio: {path}: {type(e).__name__}: {e}",
        )
    if not duration or duration <= 0:
        return None, f"unreadable audio: {path} has no samples"
    if item.verify:
        try:
            decoded = decode_check(path)
        except AudioError as e:
            return None, f"unreadable audio: {e}"
        if decoded < 0.5 * duration:
            return None, (
                f"unreadable audio: {path}: only {decoded:.2f} s decode of the {duration:.2f} s listed "
                "(truncated or corrupt)"
            )
    row: dict[str, Any] = {
        "id": item.id,
        "audio": os.path.relpath(path, manifest_dir),
        "duration": round(float(duration), 3),
        "text": text,
    }
    if item.speaker is not None:
        row["speaker"] = item.speaker
    row.update(item.extra)
    return row, None


def prepare_split(
    items: Iterable[Item],
    out_dir: str | os.PathLike,
    split: str,
    *,
    jobs: int = 1,
    progress: bool = True,
    min_duration: float = 0.0,
    max_duration: float | None = None,
) -> PrepareResult:
    """Check, normalize and write ``out_dir/<split>.jsonl`` and ``<split>.report.json``.

    Items outside ``[min_duration, max_duration]`` seconds are skipped as "too short"/"too long";
    duplicate ids keep the first. ``jobs > 1`` probes files in that many processes.
    """
    from tqdm import tqdm

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest_dir = str(out_dir.resolve())
    items = list(items)
    skipped: dict[str, str] = {}
    seen: set[str] = set()
    unique = []
    for item in items:
        if item.id in seen:
            skipped[item.id] = "duplicate id: listed more than once (kept the first)"
            continue
        seen.add(item.id)
        unique.append(item)
    jobs_list = [(item, manifest_dir) for item in unique]
    bar = dict(total=len(jobs_list), desc=f"prepare {split}", unit="utt", disable=not progress, leave=False)
    if jobs > 1 and len(jobs_list) > 1:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            results = list(tqdm(pool.map(_probe, jobs_list, chunksize=32), **bar))
    else:
        results = [_probe(job) for job in tqdm(jobs_list, **bar)]
    rows = []
    for item, (row, reason) in zip(unique, results):
        if row is None:
            skipped[item.id] = reason or "unknown"
        elif row["duration"] < min_duration:
            skipped[item.id] = f"too short: {row['duration']} s < {min_duration} s"
        elif max_duration is not None and row["duration"] > max_duration:
            skipped[item.id] = f"too long: {row['duration']} s > {max_duration} s"
        else:
            rows.append(row)
    rows.sort(key=lambda r: r["id"])
    from asr.data.manifest import write_manifest

    manifest = out_dir / f"{split}.jsonl"
    result = PrepareResult(split, manifest, rows, skipped)
    no_audio = bool(unique) and not rows and not any(_audio_found(r) for r in skipped.values())
    if not no_audio:
        write_manifest(manifest, rows)
    report = {
        "split": split,
        "utterances": len(rows),
        "hours": round(result.hours, 4),
        "skipped": len(skipped),
        "skipped_by_reason": dict(Counter(r.split(":")[0] for r in skipped.values())),
        "skipped_items": dict(sorted(skipped.items())),
    }
    with atomic_write(out_dir / f"{split}.report.json") as f:
        f.write(json.dumps(report, indent=1) + "\n")
    for item_id, reason in sorted(skipped.items())[:20]:
        log.warning("%s: skipped %s: %s", split, item_id, reason)
    if len(skipped) > 20:
        log.warning("%s: ... and %d more skipped (see %s.report.json)", split, len(skipped) - 20, split)
    if no_audio:
        manifest.unlink(missing_ok=True)  # a stale manifest from an earlier run would look like success
        first = next(iter(sorted(skipped.items())))
        raise PrepareError(
            f"{split}: none of the {len(unique)} listed utterances is usable, no audio was found or read "
            f"(first: {first[0]}: {first[1]}); is the corpus folder right and complete? "
            f"No manifest written; reasons in {out_dir / f'{split}.report.json'}"
        )
    log.info("%s", result.summary())
    if not rows:
        log.warning(
            "%s: no usable utterance: %s is empty (check the corpus folder and the config)", split, manifest
        )
    return result


def _audio_found(reason: str) -> bool:
    """Whether a skip reason means the audio was there and read (only its length was wrong)."""
    return reason.startswith(("too short", "too long"))


def write_text_corpus(rows: Sequence[dict], path: str | os.PathLike) -> None:
    """One normalized transcript per line (LM training text)."""
    with atomic_write(path) as f:
        f.write("".join(r["text"] + "\n" for r in rows))


def fingerprint(*parts: object) -> str:
    """A short hash of the inputs that shape a prepared split (config, recipe version, file listing)."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def split_done(out_dir: str | os.PathLike, name: str, key: str) -> bool:
    """Whether ``out_dir/.<name>.done`` holds ``key`` and the manifest is still there."""
    marker = Path(out_dir) / f".{name}.done"
    return (
        marker.exists() and marker.read_text().strip() == key and (Path(out_dir) / f"{name}.jsonl").exists()
    )


def mark_done(out_dir: str | os.PathLike, name: str, key: str) -> None:
    (Path(out_dir) / f".{name}.done").write_text(key + "\n")


def run_splits(
    splits: dict[str, Callable[[], list[Item]]],
    out_dir: str | os.PathLike,
    key: str,
    *,
    jobs: int = 1,
    progress: bool = True,
    **limits: Any,
) -> dict[str, PrepareResult | None]:
    """Prepare each split whose ``.done`` marker does not match ``key`` (None for those skipped)."""
    results: dict[str, PrepareResult | None] = {}
    for split, listing in splits.items():
        if split_done(out_dir, split, key):
            log.info("%s: up to date, skipping", split)
            results[split] = None
            continue
        results[split] = prepare_split(listing(), out_dir, split, jobs=jobs, progress=progress, **limits)
        mark_done(out_dir, split, key)
    return results
