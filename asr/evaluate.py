"""Score a model on a manifest: corpus WER/CER plus per-utterance recognitions and aligned errors."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tqdm import tqdm

from asr.data.manifest import Utterance
from asr.fileio import atomic_write
from asr.inference import eval_mode, manifest_emissions, resolve_decoder
from asr.metrics import align, error_stats
from asr.text import Vocabulary, normalize_text

if TYPE_CHECKING:
    from asr.recognizer import Recognizer

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
        return error_stats(self.references, self.hypotheses, unit="word").rate if self.ids else float("nan")

    @property
    def cer(self) -> float:
        return error_stats(self.references, self.hypotheses, unit="char").rate if self.ids else float("nan")

    def utterance_wers(self) -> list[float]:
        """Each utterance's own word error rate (errors / reference words; insertions into an empty
        reference count as 1.0 each)."""
        out = []
        for ref, hyp in zip(self.references, self.hypotheses):
            stats = error_stats([ref], [hyp], unit="word")
            out.append(stats.errors / stats.ref_units if stats.ref_units else float(stats.errors))
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
                "wer": round(error_stats(refs, hyps, unit="word").rate, 5),
                "cer": round(error_stats(refs, hyps, unit="char").rate, 5),
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
            "wer": round(words.rate, 5),
            "cer": round(chars.rate, 5),
            "substitutions": words.substitutions,
            "deletions": words.deletions,
            "insertions": words.insertions,
            "reference_words": words.ref_units,
            "char_substitutions": chars.substitutions,
            "char_deletions": chars.deletions,
            "char_insertions": chars.insertions,
            "reference_chars": chars.ref_units,
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
        with atomic_write(out / f"recogs-{name}.txt") as f:
            for uid, ref, hyp in zip(self.ids, self.references, self.hypotheses):
                f.write(f"{uid}:\tref={ref}\n{uid}:\thyp={hyp}\n")
        with atomic_write(out / f"errs-{name}.txt") as f:
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
        with atomic_write(out / f"summary-{name}.json") as f:
            f.write(json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
        return summary


def _reference(text: str, vocab: Vocabulary) -> str:
    """References in the model's alphabet: normalized like training text when they are not already."""
    text = " ".join(text.split())
    return text if vocab.can_encode(text) else normalize_text(text)


def evaluate(
    recognizer: Recognizer,
    items: list[Utterance],
    decoder: Any = None,
    batch_seconds: float = 300.0,
    progress: bool = True,
) -> EvalResult:
    """Decode `items` in duration-sorted batches and score them. `decoder`: None decodes as the model does
    by default (`model.decoder_config`), "greedy", a `DecoderConfig` or a decoder (as for transcribe)."""
    return evaluate_decoders(recognizer, items, {"default": decoder}, batch_seconds, progress)["default"]


def evaluate_decoders(
    recognizer: Recognizer,
    items: list[Utterance],
    decoders: Mapping[str, Any],
    batch_seconds: float = 300.0,
    progress: bool = True,
) -> dict[str, EvalResult]:
    """Score several decoders on `items` (each named as for :func:`evaluate`: None is the model's own
    decoding, "greedy" greedy), running the acoustic model once per batch.
    Unreadable audio is skipped, logged and listed in each result's `skipped`."""
    if not decoders:
        raise ValueError("evaluate_decoders: give at least one decoder")
    decoders = {name: resolve_decoder(recognizer, dec) for name, dec in decoders.items()}
    rate = recognizer.sample_rate
    results = {name: EvalResult(name=name) for name in decoders}
    bar = tqdm(total=len(items), desc="evaluate", unit="utt", disable=not progress, leave=False)
    try:
        with eval_mode(recognizer):
            for batch in manifest_emissions(recognizer, items, batch_seconds):
                for result in results.values():
                    result.skipped.update(batch.skipped)
                bar.update(len(batch) + len(batch.skipped))
                if not len(batch):
                    continue
                for name, decoder in decoders.items():
                    result = results[name]
                    nbests = decoder.decode(batch.log_probs, batch.lengths)
                    for item, samples, nbest in zip(batch.items, batch.samples, nbests):
                        result.ids.append(item.id)
                        result.references.append(_reference(item.text, recognizer.vocab))
                        result.hypotheses.append(nbest[0].text)
                        result.speakers.append(item.speaker)
                        result.durations.append(samples / rate)
                    result.audio_seconds += sum(batch.samples) / rate
    finally:
        bar.close()
    return results
