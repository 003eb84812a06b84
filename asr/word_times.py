"""Word times from CTC output, moved onto the sound: CTC emits a word's letters as spikes, a little before
the end of its sound and sometimes before its start; `asr.transcription` corrects each segment's words
with these before giving them times in the recording."""

from __future__ import annotations

import numpy as np

from asr.decoding import Word

__all__ = ["extend_word_ends", "snap_to_sound"]

# A frame after a word's last emitted token still belongs to the word while blank is below this
# probability: CTC emits a word's last letter before the sound ends (measured ~55 ms early on average).
_WORD_END_BLANK_PROB = 0.5
# Word edges are kept out of silence: sound is within this many dB of a segment's loud frames.
_SOUND_RANGE_DB = 40.0
_SILENCE_DB = -65.0  # dBFS; quieter than this is silence whatever the segment's level


def extend_word_ends(words: tuple[Word, ...], blank_prob: np.ndarray, frame_s: float) -> tuple[Word, ...]:
    """Move each word's end over the following frames where blank is unlikely (the sound of the last
    letter goes on after CTC's spike), never into the next word."""
    out = []
    for i, w in enumerate(words):
        end = int(round(w.end_s / frame_s))
        limit = len(blank_prob)
        if i + 1 < len(words):
            limit = min(limit, int(round(words[i + 1].start_s / frame_s)))
        while end < limit and blank_prob[end] < _WORD_END_BLANK_PROB:
            end += 1
        out.append(Word(w.text, w.start_s, max(w.end_s, end * frame_s), w.confidence))
    return tuple(out)


def snap_to_sound(words: tuple[Word, ...], samples: np.ndarray, rate: int) -> tuple[Word, ...]:
    """Pull word edges that lie in silence onto the sound: CTC may emit a word's first letter a few
    frames before it is spoken, which shows at the start of speech after a pause. A 10 ms frame is
    sound when it is within `_SOUND_RANGE_DB` of the segment's loud frames."""
    hop = max(1, rate // 100)
    n = len(samples) // hop
    if not words or n == 0:
        return words
    db = 10.0 * np.log10(np.square(samples[: n * hop].reshape(n, hop), dtype=np.float32).mean(axis=1) + 1e-10)
    sound = db > max(float(np.percentile(db, 95)) - _SOUND_RANGE_DB, _SILENCE_DB)
    out = []
    for i, w in enumerate(words):
        lo = min(n - 1, max(0, int(w.start_s * 100)))
        hi = min(n, max(lo + 1, int(np.ceil(w.end_s * 100))))
        inside = np.flatnonzero(sound[lo:hi])
        if inside.size == 0:
            # All of the word in silence (emitted before it is spoken): move it onto the sound that
            # follows within 0.3 s, before the next word; otherwise leave CTC's times.
            limit = min(n, hi + 30)
            if i + 1 < len(words):
                limit = min(limit, int(words[i + 1].start_s * 100))
            after = np.flatnonzero(sound[hi:limit])
            if after.size == 0:
                out.append(w)
                continue
            start = (hi + after[0]) / 100
            end = min(start + (w.end_s - w.start_s), limit / 100)
            out.append(Word(w.text, start, max(start, end), w.confidence))
            continue
        start = (lo + inside[0]) / 100 if not sound[lo] else w.start_s
        end = (lo + inside[-1] + 1) / 100 if not sound[hi - 1] else w.end_s
        out.append(Word(w.text, start, max(start, end), w.confidence))
    return tuple(out)
