"""Frame collapsing before the beam search: near-certain runs become one row, hopeless tokens are masked.

A run of consecutive frames in which the same token is nearly certain is searched as one row (the paths
through it barely differ), keeping the exact score of every path that leaves the run's token at most
once; tokens far below a row's best are masked, so the C++ loop works only where there is a choice.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from asr.decoding.config import DecoderConfig
from asr.text import Vocabulary

__all__ = ["MASKED", "Rows", "collapse_frames", "end_frame"]

# Log-probability given to tokens masked at a frame. Finite, so that a search never loses every path
# (e.g. when a lexicon forbids every token left at a frame); far enough below anything real that the
# beam threshold drops such candidates the moment a normal one exists.
MASKED = -1.0e4


@dataclass(frozen=True)
class Rows:
    """Where the rows of one utterance's search input come from: frames [start, end), token d dominant.

    start, end, dominant: (N,) each, N the utterance's row count.
    """

    start: np.ndarray
    end: np.ndarray
    dominant: np.ndarray


def end_frame(vocab: Vocabulary) -> np.ndarray:
    """(1, V) row that only the word separator can fill (log-prob 0): appended for the lexicon decoder,
    so that the last word of an utterance is completed (CTC models emit no trailing separator)."""
    end = np.full((1, len(vocab)), MASKED, dtype=np.float32)
    end[0, vocab.separator_id] = 0.0
    return end


def collapse_frames(
    log_probs: np.ndarray,
    lengths: np.ndarray,
    config: DecoderConfig,
    vocab: Vocabulary,
    end: np.ndarray | None = None,
) -> tuple[list[np.ndarray], list[Rows]]:
    """log_probs (B, T, V) float32, lengths (B,) → per utterance: the emissions the search sees (N, V)
    (with `end` appended when given), and where each of their rows comes from.

    A run of consecutive frames in which the same token d is nearly certain becomes one row:
    d gets the run's summed log-probability and every other token x its best single-frame detour,
    max_t (lp_x(t) - lp_d(t)) + sum_t lp_d(t); so the paths that leave d at most once in the run keep
    their exact scores. Tokens far below the row's best are then masked.
    """
    batch, frames, n_tokens = log_probs.shape
    flat = log_probs.reshape(-1, n_tokens)
    best_token = flat.argmax(axis=1)  # (B * T,)
    best = flat[np.arange(len(flat)), best_token]
    valid = np.arange(frames)[None, :] < lengths[:, None]
    starts = valid.copy()
    if config.blank_skip_threshold < 1.0 and frames > 1:
        sure = (best >= math.log(config.blank_skip_threshold)).reshape(batch, frames)
        tokens = best_token.reshape(batch, frames)
        starts[:, 1:] &= ~(sure[:, 1:] & sure[:, :-1] & (tokens[:, 1:] == tokens[:, :-1]))
    frame_index = np.flatnonzero(valid)  # flat (b * T + t) of every valid frame
    start_index = np.flatnonzero(starts)
    if 0 < len(start_index) < len(frame_index):
        segments = np.flatnonzero(starts.ravel()[frame_index])  # where each run begins in frame_index
        detour = flat[frame_index] - best[frame_index, None]
        row_best = np.add.reduceat(best[frame_index], segments)
        rows = np.maximum.reduceat(detour, segments, axis=0) + row_best[:, None]
    else:
        rows = flat[frame_index]
        row_best = best[frame_index]
    if config.token_min_logp > float("-inf") and len(rows):
        floor = np.minimum(row_best, config.token_min_logp)[:, None]
        # Masked tokens sort below every live one (flashlight tries a frame's tokens best first), the
        # separator lowest of all: trying it at a word end costs an LM lookup even when it is masked.
        # The blank is never masked: it is every path's way out when the lexicon allows none of the
        # frame's likely tokens, and a masked blank would charge such paths 1e4 instead of its cost.
        masked = rows < floor
        masked[:, vocab.blank_id] = False
        masked_value = np.full(n_tokens, MASKED, dtype=np.float32)
        masked_value[vocab.separator_id] = 2 * MASKED
        rows = np.where(masked, masked_value, rows)
    rows = rows.astype(np.float32, copy=False)
    counts = starts.sum(axis=1)
    start_frames = start_index % max(frames, 1)
    dominant = best_token[start_index]
    inputs, sources = [], []
    offset = 0
    for b, count in enumerate(counts.tolist()):
        emissions = rows[offset : offset + count]
        if end is not None:
            emissions = np.concatenate([emissions, end])
        inputs.append(np.ascontiguousarray(emissions))
        first = start_frames[offset : offset + count]
        sources.append(Rows(first, np.append(first[1:], lengths[b]), dominant[offset : offset + count]))
        offset += count
    return inputs, sources
