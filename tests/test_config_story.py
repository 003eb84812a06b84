"""One config story (docs/architecture.md, "Configuration"): TOML onto frozen dataclasses, `--set
section.key=value` on every command that reads a config, flags named after the fields they set, a
model's decoder settings in its decoder.json, and environment variables only where the table says."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from asr.cli import build_parser, main
from asr.cli.options import decoder_config, set_overrides
from asr.decoding import DecoderConfig
from asr.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent


def parse(*argv: str):
    return build_parser().parse_args(list(argv))


def test_set_is_repeatable_on_every_command_that_reads_a_config():
    train = parse(
        "train", "--config", "c.toml", "--set", "train.lr=1", "--set", "model.num_layers=2", "x.y=3"
    )
    assert train.set == ["train.lr=1", "model.num_layers=2", "x.y=3"]  # several after one --set, too
    got = parse("config", "get", "--config", "c.toml", "--set", "train.lr=1", "--set", "a.b=2", "train.lr")
    assert got.set == ["train.lr=1", "a.b=2"] and got.keys == ["train.lr"]
    for command in (["transcribe", "a.wav"], ["evaluate", "--manifest", "m.jsonl"], ["serve"]):
        args = parse(*command, "--set", "decoder.beam_size=7", "--set", "decoder.lm_weight=0.25")
        assert set_overrides(args) == {"decoder": {"beam_size": "7", "lm_weight": "0.25"}}
    with pytest.raises(SystemExit):  # a file name taken for an override says what --set expects
        parse("transcribe", "--set", "a.wav")


def test_set_decoder_fields_and_flags_are_the_same_thing():
    def config(*flags: str, own: DecoderConfig | None = None) -> DecoderConfig | None:
        return decoder_config(parse("transcribe", "a.wav", *flags), own)

    assert config("--beam-size", "7", "--lm-weight", "0.25") == config(
        "--set", "decoder.beam_size=7", "--set", "decoder.lm_weight=0.25"
    )
    assert config("--set", "decoder.beam_size_token=none").beam_size_token is None
    own = DecoderConfig(beam_size=5, word_score=-1.0)
    assert config(own=own) == own  # nothing named: the model's own settings
    assert config("--confidence", "none", own=own) == own.replace(confidence="none")
    # a flag or --set changes the model's own settings, it does not start from the defaults
    assert config("--beam-size", "9", own=own) == own.replace(beam_size=9)
    assert config("--set", "decoder.lm_weight=0.3", own=own) == own.replace(lm_weight=0.3)
    assert config(own=None) is None and config("--greedy", own=own) is None
    with pytest.raises(ConfigError, match="no such key"):
        config("--set", "decoder.beam=3")
    with pytest.raises(ConfigError, match="decoder.beam_size"):
        config("--set", "decoder.beam_size=many")
    with pytest.raises(ConfigError, match="reads \\[decoder\\], not \\[serve\\]"):
        config("--set", "serve.workers=2")
    with pytest.raises(ConfigError, match="contradicts"):
        config("--greedy", "--set", "decoder.beam_size=3")


def test_decoding_flags_are_named_after_the_decoder_config_fields():
    fields = {f.name for f in dataclasses.fields(DecoderConfig)}
    args = vars(parse("transcribe", "a.wav"))
    for flag in ("beam_size", "lm", "lexicon", "lm_weight", "word_score", "confidence"):
        assert flag in fields and flag in args, flag
    assert "hotwords" in fields and "hotword" in args  # repeatable: one PHRASE[:BONUS] per flag


def test_environment_variables_are_only_those_the_architecture_page_lists():
    """asr reads ASR_* variables only where docs/architecture.md's configuration section says why."""
    used = set()
    for path in (ROOT / "asr").rglob("*.py"):
        used |= set(re.findall(r"[\"'](ASR_[A-Z_]+)[\"']", path.read_text(encoding="utf-8")))
    assert used == {"ASR_MODEL", "ASR_API_KEY", "ASR_NATIVE_DECODER", "ASR_KENLM_BIN"}
    page = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    section = page[page.index("## 9. Configuration") :]
    for name in used:
        assert f"`{name}" in section, name


def test_the_wrong_section_is_an_error_at_the_command_line(tmp_path, capsys):
    assert main(["transcribe", str(tmp_path / "a.wav"), "--set", "train.lr=1"]) == 2
    assert "reads [decoder], not [train]" in capsys.readouterr().err


@dataclasses.dataclass(frozen=True)
class _Corpus:
    min_duration: float = 0.5
    max_duration: float = 20.0


def test_a_recipes_prepare_takes_set_for_its_corpus_table(tmp_path, capsys):
    from asr.cli.recipe import add_prepare_command, recipe_parser

    seen: list = []
    parser, sub = recipe_parser("a recipe")
    add_prepare_command(
        sub, lambda corpus, out, cfg, **_: seen.append(cfg) or {}, _Corpus, "prepare", str(tmp_path), "out"
    )
    config = tmp_path / "config.toml"
    config.write_text("[corpus]\nmin_duration = 1.0\n")
    args = parser.parse_args(["--config", str(config), "prepare", "--set", "corpus.max_duration=9"])
    assert args.func(args) == 0 and seen == [_Corpus(min_duration=1.0, max_duration=9.0)]
    args = parser.parse_args(["prepare", "--set", "corpus.max_seconds=9"])
    with pytest.raises(ConfigError, match="no such key"):
        args.func(args)
