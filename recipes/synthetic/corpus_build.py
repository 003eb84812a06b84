"""Building the synthetic corpus in a folder: what is already there is kept, stale clips go, the rest is
rendered; then the manifests, LM text and corpus_info.json are written and the ``.done`` marker says a
re-run with the same config has nothing to do."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from corpus_config import RECIPE_VERSION, SPLITS, CorpusConfig
from render import engine_versions, existing_duration, run_synthesis
from sentences import Sentence, collect_sentences, load_excluded
from synth import before_fork, get_backend, resolve_voices
from voice_plan import Utterance, plan_corpus

from asr.fileio import atomic_write

log = logging.getLogger("asr.recipes.synthetic")


def write_if_changed(path: Path, text: str) -> bool:
    """Atomically write ``text`` to ``path`` unless it already holds exactly that; True if written."""
    try:
        if path.read_text(encoding="utf-8") == text:
            return False
    except (FileNotFoundError, UnicodeDecodeError):
        pass
    with atomic_write(path) as f:
        f.write(text)
    return True


def manifest_line(utt: Utterance, duration: float) -> str:
    row: dict[str, Any] = {
        "id": utt.id,
        "audio": f"wav/{utt.split}/{utt.id}.wav",
        "duration": round(duration, 3),
        "text": utt.text,
        "speaker": utt.speaker,
        "engine": utt.engine,
    }
    if utt.engine == "espeak":
        row.update(rate=utt.rate, pitch=utt.pitch)
    else:
        row["settings"] = dict(utt.settings)
    if not utt.warp.identity:
        row["warp"] = utt.warp.to_dict()
    return json.dumps(row)


def config_hash(cfg: CorpusConfig, espeak: str) -> str:
    blob = json.dumps(
        {"config": cfg.to_dict(), "recipe_version": RECIPE_VERSION, "espeak": espeak}, sort_keys=True
    )
    return hashlib.sha256(blob.encode()).hexdigest()


# Engines whose clip ids hash their own version only, not every engine's: hours of Kokoro are not
# re-rendered because another engine of the config changed or was added. (The older engines hash all
# versions, as their corpora always did: changing that would rename every clip of those corpora.)
OWN_TAG_ENGINES = ("kokoro", "hibari", "accented")


def synth_tags(cfg: CorpusConfig, versions: str) -> tuple[str, dict[str, str]]:
    """The id tag of every engine's clips: (the shared tag, engine -> its own tag)."""
    shared = json.dumps([RECIPE_VERSION, versions, cfg.sample_rate, cfg.max_silence])
    own = {
        e: json.dumps([RECIPE_VERSION, f"{e}: {get_backend(e).version()}", cfg.sample_rate, cfg.max_silence])
        for e in cfg.engines
        if e in OWN_TAG_ENGINES
    }
    return shared, own


def is_up_to_date(out: Path, digest: str, splits: Sequence[str] = SPLITS) -> bool:
    """True when ``.done`` holds ``digest`` and every manifest and wav of ``splits`` still exists."""
    try:
        done = json.loads((out / ".done").read_text())
    except (FileNotFoundError, ValueError):
        return False
    if done.get("config_hash") != digest:
        return False
    for split in splits:
        try:
            lines = (out / f"{split}.jsonl").read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return False
        for line in lines:
            try:
                audio = json.loads(line)["audio"]
            except (ValueError, KeyError):
                return False
            if not (out / audio).is_file():
                return False
    return (out / "train_text.txt").is_file() and (out / "corpus_info.json").is_file()


FROZEN_TEXT = "sentences.jsonl"
TEXT_KEYS = (
    "sources", "fortunes_dir", "wordnet_dir", "exclude_text_file", "min_words", "max_words",
    "max_word_length", "max_rare_words", "rare_word_min_count",
)  # fmt: skip


def usable_sentences(
    cfg: CorpusConfig, out: Path, freeze: bool = False
) -> tuple[list[Sentence], dict[str, Any]]:
    """The usable sentences and the per-source report: from the text sources, or from ``out``'s frozen
    copy of them.

    Every clip's split, voice and id follow from the sentence list, so a change in text normalization
    renames clips and moves them between splits (a re-run deletes them as stale). ``freeze`` saves the
    list in ``out/sentences.jsonl``; once that file exists, every later run plans from it (a render of
    many hours resumes whatever changed in the code meanwhile). Delete it to read the sources again.
    """
    frozen = out / FROZEN_TEXT
    text_cfg = {k: getattr(cfg, k) for k in TEXT_KEYS}
    text_cfg = json.loads(json.dumps(text_cfg))  # tuples as lists, as read back
    if frozen.is_file():
        header, *rows = (json.loads(line) for line in frozen.read_text(encoding="utf-8").splitlines())
        if header["text_config"] != text_cfg:
            raise ValueError(
                f"{frozen} holds the sentences of other text settings ({header['text_config']}): "
                "delete it to collect them again"
            )
        log.info("sentences from %s (frozen; delete it to read the sources again)", frozen)
        return [Sentence(*row) for row in rows], header["sources"]
    from asr.text import Vocabulary, normalize_text  # here: an up-to-date corpus needs no text at all

    excluded = load_excluded(cfg.exclude_text_file, normalize_text)
    can_encode = Vocabulary.english_characters().can_encode
    sentences, report = collect_sentences(cfg, normalize_text, can_encode, excluded)
    if freeze:
        out.mkdir(parents=True, exist_ok=True)
        lines = [json.dumps({"text_config": text_cfg, "sources": report})]
        lines += [json.dumps([s.text, s.spoken, s.source]) for s in sentences]
        write_if_changed(frozen, "".join(line + "\n" for line in lines))
    return sentences, report


def prepare(
    cfg: CorpusConfig,
    out: str | os.PathLike,
    jobs: int | None = None,
    progress: bool = True,
    splits: Sequence[str] = SPLITS,
    engines: Sequence[str] | None = None,
    freeze_text: bool = False,
    manifests_only: bool = False,
) -> dict[str, Any]:
    """Build (or finish, or check) the corpus in ``out``; returns the corpus_info dict.

    ``splits`` limits the work to some splits (e.g. only the evaluation splits, to score a shipped model
    without synthesizing its training set); ``engines`` to some engines' utterances (the slow neural
    ones first, the rest later into the same folder). The plan, and so every utterance, is the same
    either way; the manifests list every planned clip found in the folder. ``freeze_text``: see
    :func:`usable_sentences`. ``manifests_only``: render nothing and delete nothing, only write the
    manifests of the clips already there (to train on a render that is still going, or was stopped);
    the folder is not marked done, so a later run renders the rest.
    """
    out = Path(out)
    splits = tuple(s for s in SPLITS if s in set(splits))
    engines = () if manifests_only else tuple(cfg.engines if engines is None else engines)
    stray = sorted(set(engines) - set(cfg.engines))
    if stray or not (engines or manifests_only):
        raise ValueError(f"engines {stray or list(engines)} are not among the config's {list(cfg.engines)}")
    jobs = jobs or os.cpu_count() or 1
    for engine in cfg.engines:  # a clear error before any work when an engine or voice is missing
        get_backend(engine).check_voices([] if engine == "espeak" else cfg.voices_of(engine))
    espeak = engine_versions(("espeak",) + tuple(e for e in cfg.engines if e != "espeak"))
    digest = config_hash(cfg, espeak)
    if splits != SPLITS:
        digest += ":" + ",".join(splits)
    if engines != tuple(cfg.engines):
        digest += ":engines=" + ",".join(engines)
    if not manifests_only and is_up_to_date(out, digest, splits):
        log.info("%s is complete and its config unchanged: nothing to do", out)
        return json.loads((out / "corpus_info.json").read_text())

    t0 = time.perf_counter()
    voice_files = resolve_voices(cfg.accents, cfg.variants)
    sentences, source_report = usable_sentences(cfg, out, freeze_text)
    log.info("%d usable sentences in %.1f s", len(sentences), time.perf_counter() - t0)

    synth_tag, engine_tags = synth_tags(cfg, espeak)
    plan, pool, held = plan_corpus(sentences, cfg, synth_tag, voice_files, engine_tags)

    out.mkdir(parents=True, exist_ok=True)
    todo: list[tuple[Utterance, Path]] = []
    durations: dict[str, float] = {}
    removed = 0
    for split in splits:
        folder = out / "wav" / split
        folder.mkdir(parents=True, exist_ok=True)
        wanted = {f"{u.id}.wav" for u in plan[split]}
        for path in folder.iterdir():  # stale utterances from another config, killed runs' temp files
            if path.name not in wanted and not path.is_dir() and not manifests_only:
                path.unlink()
                removed += 1
        for u in plan[split]:
            path = folder / f"{u.id}.wav"
            dur = existing_duration(path, cfg.sample_rate) if path.exists() else None
            if dur is None:
                if u.engine in engines:
                    todo.append((u, path))
            else:
                durations[u.id] = dur
    if removed:
        log.info("removed %d files not in the current plan", removed)
    log.info(
        "%d utterances planned, %d already present, %d to synthesize with %d jobs",
        sum(map(len, plan.values())),
        len(durations),
        len(todo),
        jobs,
    )

    t1 = time.perf_counter()
    before_fork(sorted({u.engine for u, _ in todo}))
    new, errors = run_synthesis(todo, cfg, jobs, progress)
    elapsed = time.perf_counter() - t1
    durations.update(new)
    gated: dict[str, dict[str, Any]] = {}
    if cfg.gate_engines:
        from quality_gate import gate_corpus

        candidates = [(u, out / "wav" / u.split / f"{u.id}.wav") for split in splits for u in plan[split]]
        candidates = [(u, p) for u, p in candidates if u.engine in cfg.gate_engines and u.id in durations]
        gated = gate_corpus(candidates, out / "gate.jsonl", cfg.gate_max_cer, jobs=jobs, progress=progress)
        for uid in gated:
            durations.pop(uid, None)
    if todo:
        log.info(
            "synthesized %d utterances in %.1f s (%.1f utt/s, %d jobs)",
            len(new),
            elapsed,
            len(new) / max(elapsed, 1e-9),
            jobs,
        )

    info: dict[str, Any] = {"splits": {}, "sources": source_report}
    for split in splits:
        lines = [manifest_line(u, durations[u.id]) for u in plan[split] if u.id in durations]
        write_if_changed(out / f"{split}.jsonl", "".join(line + "\n" for line in lines))
        done = [u for u in plan[split] if u.id in durations]
        missing = [u for u in plan[split] if u.id not in durations and u.id not in gated]
        info["splits"][split] = {
            "utterances": len(done),
            "failed": sorted(u.id for u in missing if u.engine in engines),
            "gated": sorted(u.id for u in plan[split] if u.id in gated),
            "hours": round(sum(durations[u.id] for u in done) / 3600, 3),
            "sentences": len({u.text for u in done}),
            "speakers": dict(sorted(Counter(u.speaker for u in done).items())),
            "engines": {
                e: {
                    "utterances": sum(1 for u in done if u.engine == e),
                    "hours": round(sum(durations[u.id] for u in done if u.engine == e) / 3600, 3),
                }
                for e in sorted({u.engine for u in done})
            },
        }
        if engines != tuple(cfg.engines):  # the other engines' clips a later run renders
            info["splits"][split]["not_rendered"] = sum(1 for u in missing if u.engine not in engines)
    spoken = {u.text for u in plan["train"]}
    lm_sentences = pool if cfg.lm_text == "pool" else [s for s in pool if s.text in spoken]
    write_if_changed(out / "train_text.txt", "".join(s.text + "\n" for s in lm_sentences))
    info.update(
        {
            "train_text_sentences": len(lm_sentences),
            "usable_sentences": len(sentences),
            "heldout_pairs": [f"{a}+{v}" for a, v in held],
            "espeak_ng": espeak.split(" | ")[0],
            "engine_versions": espeak,
            "licences": {e: get_backend(e).licence for e in cfg.engines},
            "gated": gated,
            "sample_rate": cfg.sample_rate,
            "config": cfg.to_dict(),
        }
    )
    write_if_changed(out / "corpus_info.json", json.dumps(info, indent=1) + "\n")
    if errors:
        log.warning(
            "%d utterances failed and are left out of the manifests (a re-run retries them)", len(errors)
        )
    if errors or manifests_only:  # not complete: a later run renders the rest
        (out / ".done").unlink(missing_ok=True)
    else:
        write_if_changed(out / ".done", json.dumps({"config_hash": digest}) + "\n")
    return info


def summary(info: dict[str, Any]) -> str:
    rows = [
        f"{split:9s} {s['utterances']:6d} utt {s['hours']:7.2f} h {len(s['speakers']):4d} voices"
        + (f"  ({len(s['failed'])} failed)" if s["failed"] else "")
        + (f"  ({s['not_rendered']} of other engines not rendered)" if s.get("not_rendered") else "")
        for split, s in info["splits"].items()
    ]
    rows += [
        f"source {name}: {r['usable_sentences']} usable sentences" for name, r in info["sources"].items()
    ]
    return "\n".join(rows)
