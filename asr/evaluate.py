"""Score a model on a manifest: corpus WER/CER plus per-utterance recognitions and aligned errors."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
import torch
from tqdm import tqdm

from asr.audio import AudioError, load_audio
from asr.data.manifest import Utterance
from asr.decoding import GreedyDecoder
from asr.metrics import align, error_stats
from asr.recognizer import SpeechRecognizer
from asr.text import Vocabulary, normalize_text

log = logging.getLogger(__name__)


@dataclass
class EvalResult:
    """One decoder's recognitions of a test set, with everything needed for the reports."""

    ids: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    hypotheses: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    audio_seconds: float = 0.0
    speakers: list[str | None] = field(default_factory=list)
    durations: list[float] = field(default_factory=list)
    name: str = ""

    @property
    def wer(self) -> float:
        return error_stats(self.references, self.hypotheses, unit="word").wer if self.ids else float("nan")

    @property
    def cer(self) -> float:
        return error_stats(self.references, self.hypotheses, unit="char").wer if self.ids else float("nan")

    def utterance_wers(self) -> list[float]:
        """Each utterance's own word error rate (errors / reference words; insertions into an empty
        reference count as 1.0 each)."""
        out = []
        for ref, hyp in zip(self.references, self.hypotheses):
            stats = error_stats([ref], [hyp], unit="word")
            out.append(stats.errors / stats.ref_words if stats.ref_words else float(stats.errors))
        return out

    def per_speaker(self) -> dict[str, dict]:
        """WER/CER per speaker, for manifests that name speakers (empty otherwise)."""
        groups: dict[str, list[int]] = {}
        for i, spk in enumerate(self.speakers):
            if spk is not None:
                groups.setdefault(str(spk), []).append(i)
        out = {}
        for spk in sorted(groups):
            refs = [self.references[i] for i in groups[spk]]
            hyps = [self.hypotheses[i] for i in groups[spk]]
            out[spk] = {
                "utterances": len(refs),
                "wer": round(error_stats(refs, hyps, unit="word").wer, 5),
                "cer": round(error_stats(refs, hyps, unit="char").wer, 5),
            }
        return out

    def examples(self, per_kind: int = 3, wers: list[float] | None = None) -> dict[str, list[dict]]:
        """The best, median and worst utterances by their own WER (longer first among equals)."""
        if not self.ids:
            return {"best": [], "median": [], "worst": []}
        wers = self.utterance_wers() if wers is None else wers
        order = sorted(range(len(self.ids)), key=lambda i: (wers[i], -len(self.references[i])))
        mid = len(order) // 2
        lo = max(0, mid - per_kind // 2)
        picks = {
            "best": order[:per_kind],
            "median": order[lo : lo + per_kind],
            "worst": order[::-1][:per_kind],
        }
        return {
            kind: [
                {
                    "id": self.ids[i],
                    "wer": round(wers[i], 4),
                    "ref": self.references[i],
                    "hyp": self.hypotheses[i],
                }
                for i in idx
            ]
            for kind, idx in picks.items()
        }

    def summary(self, wers: list[float] | None = None) -> dict:
        words = error_stats(self.references, self.hypotheses, unit="word")
        chars = error_stats(self.references, self.hypotheses, unit="char")
        out = {
            "utterances": len(self.ids),
            "skipped": len(self.skipped),
            "audio_hours": round(self.audio_seconds / 3600, 4),
            "wer": round(words.wer, 5),
            "cer": round(chars.wer, 5),
            "substitutions": words.substitutions,
            "deletions": words.deletions,
            "insertions": words.insertions,
            "reference_words": words.ref_words,
            "char_substitutions": chars.substitutions,
            "char_deletions": chars.deletions,
            "char_insertions": chars.insertions,
            "reference_chars": chars.ref_words,
        }
        if self.name:
            out["decoder"] = self.name
        speakers = self.per_speaker()
        if speakers:
            out["per_speaker"] = speakers
        out["examples"] = self.examples(wers=wers)
        if self.skipped:
            out["skipped_items"] = dict(self.skipped)
        return out

    def write_reports(self, out_dir: str | Path, name: str = "test") -> dict:
        """recogs-NAME.txt (id, ref, hyp), errs-NAME.txt (aligned errors), summary-NAME.json.

        Returns the summary."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        wers = self.utterance_wers()
        summary = self.summary(wers)
        with (out / f"recogs-{name}.txt").open("w", encoding="utf-8") as f:
            for uid, ref, hyp in zip(self.ids, self.references, self.hypotheses):
                f.write(f"{uid}:\tref={ref}\n{uid}:\thyp={hyp}\n")
        with (out / f"errs-{name}.txt").open("w", encoding="utf-8") as f:
            head = {k: v for k, v in summary.items() if k not in ("examples", "skipped_items", "per_speaker")}
            f.write(json.dumps(head) + "\n\n")
            for spk, figures in summary.get("per_speaker", {}).items():
                f.write(f"speaker {spk}: {json.dumps(figures)}\n")
            for uid, reason in self.skipped.items():
                f.write(f"skipped {uid}: {reason}\n")
            f.write("\n")
            for uid, ref, hyp, w in zip(self.ids, self.references, self.hypotheses, wers):
                if ref != hyp:
                    f.write(f"{uid} (WER {100 * w:.1f}%)\n{align(ref, hyp)}\n\n")
        (out / f"summary-{name}.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
        return summary


def _batches(items: list[Utterance], max_seconds: float) -> list[list[Utterance]]:
    items = sorted(items, key=lambda u: u.duration)
    batches, batch = [], []
    for item in items:
        if batch and item.duration * (len(batch) + 1) > max_seconds:
            batches.append(batch)
            batch = []
        batch.append(item)
    if batch:
        batches.append(batch)
    return batches


def _load_item(item: Utterance, sample_rate: int) -> np.ndarray:
    """The utterance's samples: the whole file, or `duration` seconds from `offset` when it has one."""
    if not item.offset:
        return load_audio(item.audio, sample_rate)
    try:
        with sf.SoundFile(str(item.audio)) as f:
            f.seek(int(round(item.offset * f.samplerate)))
            data = f.read(int(round(item.duration * f.samplerate)), dtype="float32", always_2d=True)
            rate = f.samplerate
    except (sf.SoundFileError, RuntimeError) as e:
        raise AudioError(
            f"{item.audio}: cannot read {item.duration} s from offset {item.offset} s ({e})"
        ) from None
    if len(data) == 0:
        raise AudioError(f"{item.audio}: no audio at offset {item.offset} s (the file is shorter)")
    return load_audio(data.mean(axis=1), sample_rate, source_rate=rate)


def _reference(text: str, vocab: Vocabulary) -> str:
    """References in the model's alphabet: normalized like training text when they are not already."""
    text = " ".join(text.split())
    return text if vocab.can_encode(text) else normalize_text(text)


@torch.no_grad()
def evaluate(
    recognizer: SpeechRecognizer,
    items: list[Utterance],
    decoder: Any = None,
    batch_seconds: float = 300.0,
    progress: bool = True,
) -> EvalResult:
    """Decode `items` in duration-sorted batches (greedy unless `decoder` is given) and score them."""
    return evaluate_decoders(recognizer, items, {"default": decoder}, batch_seconds, progress)["default"]


@torch.no_grad()
def evaluate_decoders(
    recognizer: SpeechRecognizer,
    items: list[Utterance],
    decoders: Mapping[str, Any],
    batch_seconds: float = 300.0,
    progress: bool = True,
) -> dict[str, EvalResult]:
    """Score several decoders (None: greedy) on `items`, running the acoustic model once per batch.
    Unreadable audio is skipped, logged and listed in each result's `skipped`."""
    if not decoders:
        raise ValueError("evaluate_decoders: give at least one decoder")
    decoders = {
        name: dec or GreedyDecoder(recognizer.vocab, recognizer.frame_shift_s)
        for name, dec in decoders.items()
    }
    was_training = recognizer.training
    recognizer.eval()
    device = recognizer.device
    results = {name: EvalResult(name=name) for name in decoders}
    bar = tqdm(total=len(items), desc="evaluate", unit="utt", disable=not progress, leave=False)
    try:
        for batch in _batches(items, batch_seconds):
            audios, kept = [], []
            for item in batch:
                try:
                    audio = _load_item(item, recognizer.sample_rate)
                except AudioError as e:
                    for result in results.values():
                        result.skipped[item.id] = str(e)
                    log.warning("skipping %s: %s", item.id, e)
                    continue
                audios.append(torch.from_numpy(audio))
                kept.append(item)
            bar.update(len(batch))
            if not kept:
                continue
            lengths = torch.tensor([len(a) for a in audios])
            waveforms = torch.nn.utils.rnn.pad_sequence(audios, batch_first=True)
            log_probs, out_lengths = recognizer(waveforms.to(device), lengths.to(device))
            for name, decoder in decoders.items():
                result = results[name]
                for item, audio, nbest in zip(kept, audios, decoder.decode(log_probs, out_lengths)):
                    result.ids.append(item.id)
                    result.references.append(_reference(item.text, recognizer.vocab))
                    result.hypotheses.append(nbest[0].text)
                    result.speakers.append(item.speaker)
                    result.durations.append(len(audio) / recognizer.sample_rate)
                result.audio_seconds += float(lengths.sum()) / recognizer.sample_rate
    finally:
        bar.close()
        recognizer.train(was_training)
    return results
