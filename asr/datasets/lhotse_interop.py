"""Convert between our JSON-lines manifests and lhotse manifests (``pip install 'asr-blstm[lhotse]'``).

* :func:`to_lhotse`: a manifest → ``<name>_recordings.jsonl.gz``, ``<name>_supervisions.jsonl.gz`` and
  ``<name>_cuts.jsonl.gz`` (one cut per utterance). Audio paths become absolute; an utterance with an
  ``offset`` becomes a supervision inside its recording (recordings shared by several utterances are
  listed once).
* :func:`from_lhotse`: a ``CutSet`` file (or a recordings manifest + a supervisions manifest, cut to the
  supervisions) → a manifest. A cut that covers a whole audio file points at that file; any other cut
  (a segment, several channels, a non-file source) is written to ``audio_dir`` as a 16-bit mono wav, so
  every consumer of the manifest reads exactly the cut's audio. Texts of a cut's supervisions are joined
  in time order and normalized with :func:`asr.text.normalize_text` (``normalize=False`` keeps them).

lhotse is imported lazily, only here; :class:`LhotseMissing` says how to install it.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from asr.data.manifest import read_manifest, write_manifest
from asr.text import normalize_text

__all__ = ["LhotseMissing", "from_lhotse", "to_lhotse"]

log = logging.getLogger(__name__)


class LhotseMissing(ImportError):
    """lhotse is not installed."""


def _lhotse() -> Any:
    try:
        import lhotse
    except ImportError:
        raise LhotseMissing("lhotse is not installed: `pip install 'asr-blstm[lhotse]'`") from None
    return lhotse


def to_lhotse(
    manifest: str | os.PathLike, out_dir: str | os.PathLike, name: str | None = None
) -> dict[str, Path]:
    """Write lhotse recordings/supervisions/cuts for ``manifest``; returns their paths by kind."""
    import soundfile as sf

    lhotse = _lhotse()
    from lhotse import AudioSource, Recording, RecordingSet, SupervisionSegment, SupervisionSet

    items = read_manifest(manifest)
    name = name or Path(manifest).stem
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    shared: dict[Path, int] = {}
    for item in items:
        shared[item.audio.resolve()] = shared.get(item.audio.resolve(), 0) + 1
    recordings: dict[Path, Any] = {}
    used_ids: set[str] = {item.id for item in items}
    supervisions = []
    for item in items:
        path = item.audio.resolve()
        if path not in recordings:
            info = sf.info(str(path))
            whole = shared[path] == 1 and item.offset == 0
            rec_id = item.id
            if not whole:  # one recording for the whole file, named after it (kept unique)
                rec_id, n = path.stem, 1
                while rec_id in used_ids:
                    rec_id, n = f"{path.stem}-{n}", n + 1
                used_ids.add(rec_id)
            recordings[path] = Recording(
                id=rec_id,
                sources=[AudioSource(type="file", channels=list(range(info.channels)), source=str(path))],
                sampling_rate=int(info.samplerate),
                num_samples=int(info.frames),
                duration=info.frames / info.samplerate,
            )
        rec = recordings[path]
        duration = (
            min(item.duration, rec.duration - item.offset) if item.duration else rec.duration - item.offset
        )
        supervisions.append(
            SupervisionSegment(
                id=item.id,
                recording_id=rec.id,
                start=item.offset,
                duration=round(duration, 6),
                channel=0,
                text=item.text,
                speaker=item.speaker,
                language="English",
            )
        )
    rec_set = RecordingSet.from_recordings(recordings.values())
    sup_set = SupervisionSet.from_segments(supervisions)
    cuts = lhotse.CutSet.from_manifests(recordings=rec_set, supervisions=sup_set).trim_to_supervisions(
        keep_overlapping=False
    )
    paths = {
        "recordings": out / f"{name}_recordings.jsonl.gz",
        "supervisions": out / f"{name}_supervisions.jsonl.gz",
        "cuts": out / f"{name}_cuts.jsonl.gz",
    }
    rec_set.to_file(paths["recordings"])
    sup_set.to_file(paths["supervisions"])
    cuts.to_file(paths["cuts"])
    log.info("%s: %d utterances → %s", manifest, len(items), ", ".join(str(p) for p in paths.values()))
    return paths


def _load_cuts(cuts_or_recordings: str | os.PathLike, supervisions: str | os.PathLike | None) -> Any:
    lhotse = _lhotse()
    first = lhotse.load_manifest(cuts_or_recordings)
    if isinstance(first, lhotse.CutSet):
        if supervisions is not None:
            raise ValueError(f"{cuts_or_recordings} is a CutSet already: leave out --supervisions")
        return first
    if isinstance(first, lhotse.RecordingSet):
        if supervisions is None:
            raise ValueError(
                f"{cuts_or_recordings} is a RecordingSet: pass its supervisions too (--supervisions)"
            )
        sups = lhotse.load_manifest(supervisions)
        return lhotse.CutSet.from_manifests(recordings=first, supervisions=sups).trim_to_supervisions(
            keep_overlapping=False
        )
    raise ValueError(
        f"{cuts_or_recordings}: a {type(first).__name__}; expected a CutSet or a RecordingSet (+ supervisions)"
    )


def _file_source(cut: Any) -> Path | None:
    """The audio file a cut is exactly the whole of (one file source, untransformed, mono), else None."""
    rec = getattr(cut, "recording", None)
    if rec is None or len(rec.sources) != 1 or rec.transforms or rec.num_channels != 1:
        return None
    source = rec.sources[0]
    if source.type != "file" or abs(cut.start) > 1e-6 or abs(cut.duration - rec.duration) > 1e-3:
        return None
    return Path(source.source)


def from_lhotse(
    cuts: str | os.PathLike,
    output: str | os.PathLike,
    *,
    supervisions: str | os.PathLike | None = None,
    audio_dir: str | os.PathLike | None = None,
    normalize: bool = True,
) -> tuple[int, dict[str, str]]:
    """Write ``output`` (a manifest) from lhotse cuts; returns (rows written, {cut id: why skipped})."""
    import numpy as np

    from asr.audio import save_wav

    cut_set = _load_cuts(cuts, supervisions)
    output = Path(output)
    out_dir = output.parent.resolve()
    audio_dir = Path(audio_dir) if audio_dir else output.with_name(output.stem + "_audio")
    rows, skipped = [], {}
    for cut in cut_set:
        sups = sorted(cut.supervisions, key=lambda s: s.start)
        raw_text = " ".join(s.text for s in sups if s.text)
        text = normalize_text(raw_text) if normalize else " ".join(raw_text.split())
        if not text:
            skipped[cut.id] = "empty text (no supervision text)"
            continue
        path = _file_source(cut)
        if path is None:
            try:
                audio = np.asarray(cut.load_audio(), dtype=np.float32)
            except Exception as e:  # lhotse raises many types for unreadable sources
                skipped[cut.id] = f"unreadable audio: {type(e).__name__}: {e}"
                continue
            audio = audio.mean(axis=0) if audio.ndim == 2 else audio
            audio_dir.mkdir(parents=True, exist_ok=True)
            path = audio_dir / f"{cut.id.replace('/', '_')}.wav"
            save_wav(path, audio, int(cut.sampling_rate))
        row: dict[str, Any] = {
            "id": cut.id,
            "audio": os.path.relpath(path.resolve(), out_dir),
            "duration": round(float(cut.duration), 3),
            "text": text,
        }
        speakers = {s.speaker for s in sups if s.speaker}
        if len(speakers) == 1:
            row["speaker"] = speakers.pop()
        rows.append(row)
    write_manifest(output, rows)
    if skipped:
        log.warning(
            "%d cuts skipped: %s", len(skipped), "; ".join(f"{k}: {v}" for k, v in list(skipped.items())[:5])
        )
    log.info("%s: %d utterances from %s", output, len(rows), cuts)
    return len(rows), skipped
