"""Open vocabulary the project's one way: DecoderConfig.spelling_lm (decoder.json, --set decoder.*, and
build_decoder), confined to a model folder like lm and lexicon, and carried by an export."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from test_open_vocab import VOCAB, _peaky

from asr.decoding import BeamSearchDecoder, DecoderConfig, build_decoder
from asr.decoding.config import PATH_FIELDS
from asr.decoding.open_vocab import OpenVocabularyDecoder
from asr.errors import ConfigError

pytest.importorskip("kenlm")

LETTERS = "abcdefghijklmnopqrstuvwxyz'"


def write_spelling_lm(path):
    """A letter ARPA, every letter equally likely (KenLM wants one bigram at least): a spelling LM small
    enough to write by hand."""
    p = math.log10(1 / (len(LETTERS) + 1))
    rows = [f"{p:.6f}\t{c}\t0" for c in LETTERS] + [f"{p:.6f}\t</s>", "-99\t<s>\t0", f"{p:.6f}\t<unk>"]
    head = f"\\data\\\nngram 1={len(rows)}\nngram 2=1\n\n\\1-grams:\n"
    path.write_text(head + "\n".join(rows) + f"\n\n\\2-grams:\n{p:.6f}\t<s> a\n\n\\end\\\n")
    return path


@pytest.fixture
def files(tmp_path):
    lexicon = tmp_path / "words.txt"
    lexicon.write_text("i\nmet\nsingle\nzin\ndell\n")
    return lexicon, write_spelling_lm(tmp_path / "spell.arpa")


def test_the_fields_round_trip_and_are_checked(tmp_path, files):
    lexicon, spelling = files
    config = DecoderConfig(lexicon=str(lexicon), spelling_lm=spelling, open_vocab_unk_score=3)
    assert config.spelling_lm == str(spelling)  # a PathLike is kept as a string, like lm and lexicon
    assert DecoderConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    (tmp_path / "decoder.json").write_text(json.dumps({"lexicon": "words.txt", "spelling_lm": "spell.arpa"}))
    read = DecoderConfig.from_file(tmp_path / "decoder.json")  # relative to the file, like lm and lexicon
    assert read.spelling_lm == str(spelling) and read.open_vocab_unk_score is None
    assert DecoderConfig().spelling_lm is None  # off by default
    for bad in (math.nan, math.inf, "12", True):
        with pytest.raises(ValueError, match="open_vocab_unk_score"):
            DecoderConfig(open_vocab_unk_score=bad)
    with pytest.raises(ValueError, match="spelling_lm must be a path"):
        DecoderConfig(spelling_lm=3)


def test_the_loading_rule_covers_every_path_field():
    from asr.loading import PATH_KEYS

    assert PATH_KEYS == PATH_FIELDS and "spelling_lm" in PATH_KEYS


def test_build_decoder_wraps_the_beam_search_when_a_spelling_lm_is_set(files):
    lexicon, spelling = files
    plain = build_decoder(VOCAB, 0.03, DecoderConfig(lexicon=str(lexicon), confidence="none"))
    assert isinstance(plain, BeamSearchDecoder)
    config = DecoderConfig(
        lexicon=str(lexicon),
        beam_size=16,
        confidence="none",
        spelling_lm=str(spelling),
        open_vocab_unk_score=40,
    )
    opened = build_decoder(VOCAB, 0.03, config)
    assert isinstance(opened, OpenVocabularyDecoder) and opened.unk_score == 40
    assert opened.config.spelling_lm == str(spelling) and opened.spelling_lm is not None
    assert set(opened.lexicon) == {"i", "met", "single", "zin", "dell"}
    emissions = _peaky("i met zindle")[None]
    assert "zindle" not in plain.decode(emissions)[0][0].text.split()
    assert opened.decode(emissions)[0][0].text == "i met zindle"
    assert build_decoder(VOCAB, 0.03, config.replace(open_vocab_unk_score=None)).unk_score == 12.0
    # a high enough price per spelled word keeps the lexicon's words
    priced = build_decoder(VOCAB, 0.03, config.replace(open_vocab_unk_score=-200))
    assert priced.decode(emissions)[0][0].text == plain.decode(emissions)[0][0].text
    with opened:
        pass  # closes the wrapped search


def test_a_spelling_lm_needs_a_lexicon_and_a_file(files, tmp_path):
    _, spelling = files
    with pytest.raises(ValueError, match="needs a lexicon"):
        build_decoder(VOCAB, 0.03, DecoderConfig(spelling_lm=str(spelling)))
    lexicon = files[0]
    with pytest.raises(FileNotFoundError, match="asr lm build --letters"):
        build_decoder(VOCAB, 0.03, DecoderConfig(lexicon=str(lexicon), spelling_lm=str(tmp_path / "no.arpa")))


def test_set_decoder_spelling_lm_reaches_the_decoder(files, tmp_path, monkeypatch, capsys):
    """`--set decoder.spelling_lm=...` on transcribe, evaluate and serve: the decoder built from it spells."""
    pytest.importorskip("torch")
    import soundfile as sf
    from test_config_story import parse
    from tiny_model import tiny_checkpoint

    from asr.cli import main
    from asr.cli.options import decoder_config, load_recognizer

    lexicon, spelling = files
    model = tiny_checkpoint(tmp_path / "model.pt")
    sets = [
        "--set", f"decoder.lexicon={lexicon}", "--set", f"decoder.spelling_lm={spelling}",
        "--set", "decoder.open_vocab_unk_score=5.5", "--set", "decoder.confidence=none",
    ]  # fmt: skip
    for command in (["transcribe", "a.wav"], ["evaluate", "--manifest", "m.jsonl"], ["serve"]):
        config = decoder_config(parse(*command, *sets), None)
        assert config.spelling_lm == str(spelling) and config.open_vocab_unk_score == 5.5
    _, decoder = load_recognizer(parse("transcribe", "a.wav", "--model", str(model), *sets))
    assert isinstance(decoder, OpenVocabularyDecoder) and decoder.unk_score == 5.5

    decoded = []
    original = OpenVocabularyDecoder.decode
    monkeypatch.setattr(
        OpenVocabularyDecoder, "decode", lambda self, *a: decoded.append(self) or original(self, *a)
    )
    wav = tmp_path / "a.wav"
    sf.write(wav, np.random.default_rng(0).normal(0, 0.1, 16000).astype(np.float32), 16000)
    code = main(["transcribe", str(wav), "--model", str(model), "--vad", "none", *sets])
    assert code == 0, capsys.readouterr().err
    assert decoded and decoded[0].unk_score == 5.5  # the CLI decoded through the open-vocabulary decoder
    missing = tmp_path / "missing.arpa"
    code = main(["transcribe", str(wav), "--model", str(model), "--set", f"decoder.lexicon={lexicon}",
                 "--set", f"decoder.spelling_lm={missing}"])  # fmt: skip
    assert code == 2 and "missing.arpa" in capsys.readouterr().err


def _folder(tmp_path, settings):
    pytest.importorskip("torch")
    from tiny_model import tiny_checkpoint

    (tmp_path / "secret.txt").write_text("password=hunter2\n")
    folder = tmp_path / "model"
    folder.mkdir()
    tiny_checkpoint(folder / "model.pt")
    (folder / "words.txt").write_text("hello\nworld\n")
    write_spelling_lm(folder / "spell.arpa")
    (folder / "decoder.json").write_text(json.dumps(settings))
    return folder


@pytest.mark.parametrize("escape", ["../secret.txt", "ABSOLUTE"])
def test_a_model_folder_may_not_name_a_spelling_lm_outside_it(tmp_path, escape):
    from asr import load_model
    from asr.loading import decoder_settings

    if escape == "ABSOLUTE":
        escape = str(tmp_path / "secret.txt")
    folder = _folder(tmp_path, {"beam_size": 4, "lexicon": "words.txt", "spelling_lm": escape})
    for read in (decoder_settings, load_model):
        with pytest.raises(
            ConfigError, match="'spelling_lm' names .*outside the model folder.*--set decoder"
        ):
            read(folder / "decoder.json" if read is decoder_settings else folder)


def test_a_spelling_lm_inside_the_folder_resolves_there_and_is_exported(tmp_path):
    from asr import load_model

    folder = _folder(tmp_path, {"beam_size": 4, "lexicon": "words.txt", "spelling_lm": "spell.arpa"})
    own = load_model(folder).decoder_config
    assert own.spelling_lm == str((folder / "spell.arpa").resolve())
    assert isinstance(load_model(folder).decoder(own), OpenVocabularyDecoder)

    from asr.export import export_model

    out = export_model(folder / "model.pt", tmp_path / "export", format="torchscript").parent
    assert (out / "spell.arpa").read_bytes() == (folder / "spell.arpa").read_bytes()
    assert json.loads((out / "decoder.json").read_text())["spelling_lm"] == "spell.arpa"
    assert load_model(out).decoder_config.spelling_lm == str((out / "spell.arpa").resolve())
