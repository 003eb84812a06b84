"""Score a model on a manifest: corpus WER/CER plus per-utterance recognitions and aligned errors."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import torch
from tqdm import tqdm

from asr.audio import AudioError, load_audio
from asr.data.manifest import Utterance
from asr.decoding import GreedyDecoder
from asr.metrics import align, error_stats
from asr.recognizer import SpeechRecognizer

log = logging.getLogger(__name__)


@dataclass
class EvalResult:
    ids: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    hypotheses: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    audio_seconds: float = 0.0

    @property
    def wer(self) -> float:
        return error_stats(self.references, self.hypotheses, unit="word").wer if self.ids else float("nan")

    @property
    def cer(self) -> float:
        return error_stats(self.references, self.hypotheses, unit="char").wer if self.ids else float("nan")

    def summary(self) -> dict:
        words = error_stats(self.references, self.hypotheses, unit="word")
        chars = error_stats(self.references, self.hypotheses, unit="char")
        return {
            "utterances": len(self.ids),
            "skipped": len(self.skipped),
            "audio_hours": round(self.audio_seconds / 3600, 4),
            "wer": round(words.wer, 5),
            "cer": round(chars.wer, 5),
            "substitutions": words.substitutions,
            "deletions": words.deletions,
            "insertions": words.insertions,
            "reference_words": words.ref_words,
        }

    def write_reports(self, out_dir: str | Path, name: str = "test") -> None:
        """recogs-NAME.txt (id, ref, hyp), errs-NAME.txt (aligned errors), summary-NAME.json."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        with (out / f"recogs-{name}.txt").open("w", encoding="utf-8") as f:
            for uid, ref, hyp in zip(self.ids, self.references, self.hypotheses):
                f.write(f"{uid}:\tref={ref}\n{uid}:\thyp={hyp}\n")
        with (out / f"errs-{name}.txt").open("w", encoding="utf-8") as f:
            f.write(json.dumps(self.summary()) + "\n\n")
            for uid, ref, hyp in zip(self.ids, self.references, self.hypotheses):
                if ref != hyp:
                    f.write(f"{uid}\n{align(ref, hyp)}\n\n")
        (out / f"summary-{name}.json").write_text(json.dumps(self.summary(), indent=2) + "\n")


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


@torch.no_grad()
def evaluate(
    recognizer: SpeechRecognizer,
    items: list[Utterance],
    decoder=None,
    batch_seconds: float = 300.0,
    progress: bool = True,
) -> EvalResult:
    """Decode `items` in duration-sorted batches (greedy unless `decoder` is given) and score them."""
    decoder = decoder or GreedyDecoder(recognizer.vocab, recognizer.frame_shift_s)
    was_training = recognizer.training
    recognizer.eval()
    device = recognizer.device
    result = EvalResult()
    batches = _batches(items, batch_seconds)
    for batch in tqdm(batches, desc="evaluate", unit="batch", disable=not progress, leave=False):
        audios, kept = [], []
        for item in batch:
            try:
                audio = load_audio(item.audio, recognizer.sample_rate)
            except AudioError as e:
                result.skipped[item.id] = str(e)
                log.warning("skipping %s: %s", item.id, e)
                continue
            audios.append(torch.from_numpy(audio))
            kept.append(item)
        if not kept:
            continue
        lengths = torch.tensor([len(a) for a in audios])
        waveforms = torch.nn.utils.rnn.pad_sequence(audios, batch_first=True)
        log_probs, out_lengths = recognizer(waveforms.to(device), lengths.to(device))
        for item, nbest in zip(kept, decoder.decode(log_probs, out_lengths)):
            result.ids.append(item.id)
            result.references.append(item.text)
            result.hypotheses.append(nbest[0].text)
        result.audio_seconds += float(lengths.sum()) / recognizer.sample_rate
    recognizer.train(was_training)
    return result
