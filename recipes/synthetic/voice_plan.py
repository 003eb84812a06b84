"""The plan of the synthetic corpus: which sentence each split reads, with which voice, rate and pitch,
all drawn up front from the seed (so a run is the same whatever the number of jobs)."""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from corpus_config import CorpusConfig
from sentences import Sentence
from synth import SpeakerWarp, get_backend


def heldout_pairs(
    accents: Sequence[str], variants: Sequence[str], amount: float, seed: int
) -> list[tuple[str, str]]:
    """Deterministic (accent, variant) pairs reserved for test.

    ``amount`` < 1 is a fraction of all pairs, otherwise a count. Every accent and every variant keeps at
    least one pair in training; the pairs are spread as evenly as possible over accents, then variants,
    so that test covers as many of both as it can.
    """
    pairs = [(a, v) for a in accents for v in variants]
    k = round(amount * len(pairs)) if amount < 1 else int(amount)
    if amount > 0 and k == 0:
        k = 1
    rng = np.random.default_rng([seed, 7])
    rank = {pairs[i]: r for r, i in enumerate(rng.permutation(len(pairs)))}
    train_acc = Counter(a for a, _ in pairs)
    train_var = Counter(v for _, v in pairs)
    held_acc: Counter = Counter()
    held_var: Counter = Counter()
    held: list[tuple[str, str]] = []
    while len(held) < k:
        candidates = [
            (a, v) for a, v in pairs if (a, v) not in held and train_acc[a] > 1 and train_var[v] > 1
        ]
        if not candidates:
            break
        # Spread over accents first, then variants; the seeded rank breaks ties.
        a, v = min(candidates, key=lambda p: (held_acc[p[0]], held_var[p[1]], rank[p]))
        held.append((a, v))
        train_acc[a] -= 1
        train_var[v] -= 1
        held_acc[a] += 1
        held_var[v] += 1
    if len(held) < k:
        raise ValueError(
            f"test_heldout_pairs asks for {k} of {len(pairs)} (accent, variant) pairs, but only {len(held)} "
            "can be held out while every accent and variant keeps a training pair: lower it"
        )
    return sorted(held)


def heldout_voices(cfg: CorpusConfig) -> list[tuple[str, str]]:
    """Every (accent, variant) pair test may use and train/dev may not.

    The union of ``test_heldout_pairs`` (unseen *combinations* of seen accents and variants) and every
    pair that involves a held-out accent or variant (voices whose accent or variant training never saw).
    """
    held_acc, held_var = set(cfg.heldout_accents), set(cfg.heldout_variants)
    unseen = [(a, v) for a in cfg.accents for v in cfg.variants if a in held_acc or v in held_var]
    seen_accents = [a for a in cfg.accents if a not in held_acc]
    seen_variants = [v for v in cfg.variants if v not in held_var]
    combos = heldout_pairs(seen_accents, seen_variants, cfg.test_heldout_pairs, cfg.seed)
    return sorted(set(unseen) | set(combos))


@dataclass(frozen=True)
class Utterance:
    id: str
    split: str
    text: str
    spoken: str
    accent: str
    variant: str
    rate: int
    pitch: int
    voice: str  # the engine's voice: espeak-ng -v argument ("gmw/en+m3"), "mb-us1", "en-GB", ...
    engine: str = "espeak"
    settings: tuple[tuple[str, float], ...] = ()  # the engine's own settings (espeak: rate, pitch)
    warp: SpeakerWarp = SpeakerWarp()

    @property
    def speaker(self) -> str:
        """espeak-ng: "accent+variant" (as before engines were added); other engines: "engine:voice"."""
        if self.engine == "espeak":
            return f"{self.accent}+{self.variant}"
        return f"{self.engine}:{self.voice}"

    def engine_settings(self) -> dict[str, float]:
        if self.engine == "espeak":
            return {"rate": self.rate, "pitch": self.pitch}
        return dict(self.settings)


def _sentence_order_key(seed: int, text: str) -> bytes:
    return hashlib.blake2b(f"{seed}\0{text}".encode(), digest_size=12).digest()


def plan_corpus(
    sentences: Sequence[Sentence],
    cfg: CorpusConfig,
    synth_tag: str,
    voice_files: dict[str, str] | None = None,
    engine_tags: dict[str, str] | None = None,
) -> tuple[dict[str, list[Utterance]], list[Sentence], list[tuple[str, str]]]:
    """Decide every utterance up front: split -> utterances, the training sentence pool, held-out pairs.

    Sentences are ordered by a seeded hash of their text (adding a source keeps most assignments), then
    test takes the first ``num_test``, dev the next ``num_dev`` and train the rest. Each sentence draws its
    voice(s), rates and pitches from its own seeded generator, so changing one split's size leaves the
    other utterances alone. ``voice_files`` maps an accent to the espeak-ng voice file to use
    (see :func:`resolve_voices`); by default the accent name itself. ``engine_tags`` replaces
    ``synth_tag`` in the ids of some engines' utterances (see :func:`corpus_build.synth_tags`).
    """
    voice_files = voice_files or {}
    engine_tags = engine_tags or {}
    ordered = sorted(sentences, key=lambda s: _sentence_order_key(cfg.seed, s.text))
    n_train_sentences = math.ceil(cfg.num_train / cfg.train_repeats)
    need = cfg.num_test + cfg.num_dev + cfg.num_test_text + n_train_sentences
    if need > len(ordered):
        raise ValueError(
            f"the corpus needs {need} distinct sentences (num_test + num_dev + num_test_text + "
            f"num_train / train_repeats) "
            f"but only {len(ordered)} are usable: lower the counts or raise train_repeats"
        )
    test_s = ordered[: cfg.num_test]
    dev_s = ordered[cfg.num_test : cfg.num_test + cfg.num_dev]
    text_end = cfg.num_test + cfg.num_dev + cfg.num_test_text
    test_text_s = ordered[cfg.num_test + cfg.num_dev : text_end]
    pool = ordered[text_end:]
    held = heldout_voices(cfg)
    held_set = set(held)
    train_pairs = [(a, v) for a in cfg.accents for v in cfg.variants if (a, v) not in held_set]
    # Voices of the other engines: (engine, voice) for training, and for test.
    others = [e for e in cfg.engines if e != "espeak"]
    held_voices = {tuple(ev.split(":", 1)) for ev in cfg.heldout_voices}
    train_voices = {
        e: [v for v in cfg.voices_of(e) if (e, v) not in held_voices]
        for e in others
        if e not in cfg.heldout_engines
    }
    train_voices = {e: v for e, v in train_voices.items() if v}
    test_voices = {e: list(cfg.voices_of(e)) for e in cfg.heldout_engines}
    for e, v in sorted(held_voices):
        test_voices.setdefault(e, []).append(v)
    weights = dict(zip(cfg.engines, cfg.engine_weights or [1.0] * len(cfg.engines), strict=True))
    train_engines = (["espeak"] if "espeak" in cfg.engines and train_pairs else []) + list(train_voices)
    test_engines = (["espeak"] if "espeak" in cfg.engines and held else []) + list(test_voices)
    if cfg.num_test and not test_engines:
        raise ValueError(
            "num_test > 0 needs held-out voices: test_heldout_pairs, heldout_* or heldout_engines"
        )

    plan: dict[str, list[Utterance]] = {}
    for split_index, (split, split_sentences_, pairs, repeats, total) in enumerate(
        (
            ("train", pool[:n_train_sentences], train_pairs, cfg.train_repeats, cfg.num_train),
            ("dev", dev_s, train_pairs, 1, cfg.num_dev),
            ("test", test_s, held, 1, cfg.num_test),
            ("test_text", test_text_s, train_pairs, 1, cfg.num_test_text),
        )
    ):
        engines = test_engines if split == "test" else train_engines
        voices_by_engine = test_voices if split == "test" else train_voices
        share = np.array([1.0 if split == "test" else weights[e] for e in engines])
        share = share / share.sum() if share.sum() > 0 else share
        utts: list[Utterance] = []
        for j, s in enumerate(split_sentences_):
            # espeak-ng's draws come first and alone from this generator, so an espeak-only config
            # plans exactly the corpus it planned before other engines existed.
            rng = np.random.default_rng([cfg.seed, split_index, j])
            n = min(repeats, total - len(utts))
            voices = rng.choice(len(pairs), size=n, replace=n > len(pairs)) if pairs else [0] * n
            rates = rng.integers(cfg.rate[0], cfg.rate[1] + 1, size=n)
            pitches = rng.integers(cfg.pitch[0], cfg.pitch[1] + 1, size=n)
            rng_other = np.random.default_rng([cfg.seed, split_index, j, 1])
            for r in range(n):
                engine = (
                    engines[int(rng_other.choice(len(engines), p=share))] if len(engines) > 1 else engines[0]
                )
                # Warping makes more *training* speakers; evaluation splits keep the engines' own voices.
                warp = cfg.warp.draw(rng_other) if cfg.warp.prob > 0 and split == "train" else SpeakerWarp()
                if engine in cfg.warp.skip_engines:  # drawn all the same: other clips' draws stay put
                    warp = SpeakerWarp()
                suffix = f"r{r}" if repeats > 1 else ""
                if engine == "espeak":
                    accent, variant = pairs[int(voices[r])]
                    rate, pitch = int(rates[r]), int(pitches[r])
                    voice = f"{voice_files.get(accent, accent)}+{variant}"
                    parts: list[Any] = [s.text, s.spoken, voice, rate, pitch, synth_tag]
                    if not warp.identity:
                        parts.append(warp.to_dict())
                    digest = hashlib.blake2b(json.dumps(parts).encode(), digest_size=4).hexdigest()
                    uid = f"{split}-{j:05d}{suffix}-{digest}"
                    utts.append(
                        Utterance(
                            uid, split, s.text, s.spoken, accent, variant, rate, pitch, voice, warp=warp
                        )
                    )
                    continue
                names = voices_by_engine[engine]
                voice = names[int(rng_other.integers(len(names)))]
                settings = get_backend(engine).draw_settings(rng_other)
                tag = engine_tags.get(engine, synth_tag)
                parts = [s.text, s.spoken, engine, voice, settings, warp.to_dict(), tag]
                digest = hashlib.blake2b(json.dumps(parts).encode(), digest_size=4).hexdigest()
                uid = f"{split}-{j:05d}{suffix}-{digest}"
                utts.append(
                    Utterance(
                        uid,
                        split,
                        s.text,
                        s.spoken,
                        "",
                        "",
                        0,
                        0,
                        voice,
                        engine,
                        tuple(settings.items()),
                        warp,
                    )
                )
        plan[split] = utts
    return plan, pool, held
