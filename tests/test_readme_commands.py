"""The README's commands, run as written (issue 35, item 8).

Every shell command in a code block of README.md and data/models/README.md, every Python block, and every
inline `code` span that is a command line (a program followed by arguments that are more than
subcommand names) is either run here or listed in EXCLUDED with the reason it cannot run offline in a
test. `test_every_readme_command_is_run_or_excluded` fails on a command that is neither, so a new README
command gets a test or a stated reason.

The commands run in a scratch folder laid out as after `make demo`: `.venv` is this test run's virtual
environment, `exp/synthetic/best.pt` a trained checkpoint (a copy of the shipped model),
`data/synthetic/lm3.bin` a word LM (the shipped one), `data/synthetic/test.jsonl` a small manifest, and
`speech.wav`, `meeting.flac`, `more/`, `talks/*.mp3`, `dev.jsonl` real espeak-ng speech, `corpus.txt` a
small text. Only placeholders are substituted, each where its test runs it: `M` (a model), the export
synopsis's choices, `M_or_out/`, the key `...`, and port 8000 (a free port: 8000 may be taken here).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import jiwer
import numpy as np
import pytest
import soundfile as sf
from speech import SENTENCES, needs_espeak, speak

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
CARD = ROOT / "data" / "models" / "README.md"
SHIPPED = ROOT / "data" / "models" / "synthetic-en"

pytestmark = needs_espeak

# ---- what the READMEs say ---------------------------------------------------------------------------

_PROGRAM = re.compile(
    r"^(?:[A-Z_]+=\S*\s+)*"  # environment assignments before the program
    r"(?:\.venv/bin/\w+|asr|pip|python3?|make|torchrun|apt-get|pytest|git|curl|mkdir|\.ci/run|\S+\.py|\S+\.sh)(?:\s|$)"
)
_PLAIN_WORD = re.compile(r"[a-z][a-z-]*")


def _code_blocks(text: str) -> list[tuple[str, str]]:
    return re.findall(r"^```(\w*)\n(.*?)^```", text, flags=re.S | re.M)


def _shell_lines(block: str) -> list[str]:
    """The commands of a shell block: continuation lines joined, comment-only and blank lines dropped."""
    lines, current = [], ""
    for raw in block.splitlines():
        current += raw
        if current.endswith("\\"):
            current = current[:-1] + " "
            continue
        if current.strip() and not current.lstrip().startswith("#"):
            lines.append(current.strip())
        current = ""
    return lines


def _key(command: str) -> str:
    """A command without its trailing comment, whitespace collapsed: how EXCLUDED and the tests name it."""
    return " ".join(re.sub(r"\s+#\s.*$", "", command).split())


def _is_inline_command(span: str) -> bool:
    """An inline span is a command when a program starts it and something past its (sub)command names
    follows: `asr lm build --text corpus.txt ...` is, `asr config get` and `make demo` only name one."""
    words = span.split()
    return bool(_PROGRAM.match(span)) and len(words) >= 3 and not all(_PLAIN_WORD.fullmatch(w) for w in words)


def readme_commands() -> dict[str, str]:
    """{key: the command as written} for both READMEs; a Python block's key is `python: ` and its first
    line of code."""
    found: dict[str, str] = {}
    for path in (README, CARD):
        text = path.read_text()
        for lang, block in _code_blocks(text):
            if lang == "python":
                code = [
                    ln for ln in block.splitlines()
                    if ln.strip() and not ln.startswith(("import ", "from ", "#"))
                ]  # fmt: skip
                found["python: " + _key(code[0])] = block
            elif lang in ("", "bash", "sh", "console"):
                for line in _shell_lines(block):
                    found[_key(line)] = line
        prose = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
        for span in re.findall(r"`([^`]+)`", prose):
            span = " ".join(span.split())
            if _is_inline_command(span):
                found.setdefault(_key(span), span)
    return found


# Commands that cannot run offline in a test, and why. Each is a README command (asserted).
EXCLUDED = {
    "make demo": "installs Debian packages and renders, trains and evaluates for about 15 minutes "
    "(.ci/run and recipes/synthetic's tests cover its stages)",
    "make test": "runs this whole test suite",
    ".venv/bin/asr train --config recipes/synthetic/config.toml --set train.lr=3e-4 model.hidden_size=320": "trains for minutes to hours on make demo's 7-hour corpus (test_training.py and "
    "test_synthetic_recipe.py train on small corpora)",
    ".venv/bin/asr train --config recipes/synthetic/config.toml --resume": "resumes that training run (test_resume.py covers --resume)",
    "asr average A.pt B.pt --weights 0.5 0.5 -o mix.pt": "placeholder file names (test_average.py runs asr average)",
    ".venv/bin/asr train --config recipes/synthetic/config.toml --resume --stop-after 45m": "a piece of that training run (test_train_stop.py runs --stop-after and --resume)",
    "torchrun --standalone --nproc_per_node=4 -m asr train --config recipes/synthetic/config.toml": "four training processes on make demo's corpus (test_ddp.py runs DDP with gloo on a small one)",
    "torchrun --nnodes=2 --nproc_per_node=8 --rdzv-backend=c10d --rdzv-id=job1 --rdzv-endpoint=HOST0:29400 "
    "-m asr train --config recipes/librispeech/config.toml": "two machines with 8 GPUs and LibriSpeech",
    'pip install "asr-blstm[onnx,serve]"': "needs the package index (no release there yet); "
    "test_no_torch_inference.py runs an export in a venv without torch",
    'pip install -e ".[serve,export]"': "installs into a venv from the package index",
    'pip install -e ".[torch]"': "installs into a venv from the package index",
    "pip install -e .": "installs into a venv from the package index (test_native_build.py does it offline)",
    "pip install -v": "a flag of pip install, named for its output",
    "apt-get install g++": "root and Debian's archive",
    "python -m build": "build isolation downloads setuptools and flashlight-text (test_native_build.py "
    "builds the extension)",
    "pytest -s tests/test_serve_abuse.py tests/test_serve_hostile.py tests/test_audio_hostile.py": "part of this test suite",
    "recipes/synthetic/rebuild_default_model.sh": "renders 60 h of speech and trains for hours (one stage wants a GPU); its DRY_RUN=1 form runs here",
    ".venv/bin/python benchmarks/accuracy.py --sets test,test_text": "needs the rebuild script's rendered evaluation splits (about 1,200 utterances of six engines)",
    "accuracy.py --whisper --limit 150 --sets test,test_text": "needs those splits and Whisper tiny.en from the package index",
    "python recipes/synthetic/prepare.py --config recipes/synthetic/config.full.toml --out data/synthetic-full": "renders 38 h of speech (test_synthetic_recipe.py renders a small preset)",
}


# ---- the scratch folder after `make demo` -------------------------------------------------------------

# What each spoken file says (espeak-ng, en-us unless named).
SPOKEN = {
    "speech.wav": SENTENCES[0],
    "meeting.flac": SENTENCES[3],
    "more/walks.wav": SENTENCES[6],
    "talks/market.mp3": SENTENCES[4],
}


def _write_speech(path: Path, text: str, voice: str = "en-us") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    audio = speak(text, voice)
    if path.suffix == ".mp3":
        wav = path.with_suffix(".tmp.wav")
        sf.write(wav, audio, 16000, subtype="PCM_16")
        subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-i", wav, path], check=True)
        wav.unlink()
    else:
        sf.write(path, audio, 16000)


def _manifest(path: Path, rows: list[tuple[str, str, str]]) -> None:
    """A manifest at `path` of (id, audio path relative to it, text), the audio spoken here."""
    lines = []
    for utt, audio, text in rows:
        _write_speech(path.parent / audio, text, "en-gb")
        duration = sf.info(path.parent / audio).duration
        lines.append(json.dumps({"id": utt, "audio": audio, "duration": duration, "text": text}) + "\n")
    path.write_text("".join(lines))


class Workdir:
    """The scratch folder and how to run a README command in it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.venv_bin = root / ".venv" / "bin"
        self.env = {
            **os.environ,
            "PATH": f"{self.venv_bin}{os.pathsep}{os.environ.get('PATH', '')}",
            "OMP_NUM_THREADS": "1",
        }
        self.env.pop("ASR_MODEL", None)
        self.done: dict[str, subprocess.CompletedProcess] = {}

    def run(self, command: str, timeout: float = 300, **env: str) -> subprocess.CompletedProcess:
        """`command` run by bash here, once (later calls return the first run); asserts exit status 0."""
        if command not in self.done:
            proc = subprocess.run(
                ["bash", "-c", command], cwd=self.root, env={**self.env, **env},
                capture_output=True, text=True, timeout=timeout,
            )  # fmt: skip
            assert proc.returncode == 0, f"{command!r} exited {proc.returncode}:\n{proc.stderr[-3000:]}"
            self.done[command] = proc
        return self.done[command]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Workdir:
    root = tmp_path_factory.mktemp("readme")
    (root / ".venv").symlink_to(Path(sys.prefix))  # the venv running these tests: `.venv/bin/asr` is ours
    models = root / "data" / "models"
    shutil.copytree(SHIPPED, models / "synthetic-en")
    (root / "exp" / "synthetic").mkdir(parents=True)
    shutil.copy(SHIPPED / "model.pt", root / "exp" / "synthetic" / "best.pt")
    (root / "data" / "synthetic").mkdir()
    for name in ("lm3.bin", "lm3.words.txt"):
        shutil.copy(SHIPPED / name, root / "data" / "synthetic" / name)
    for name, text in SPOKEN.items():
        _write_speech(root / name, text)
    _manifest(root / "data" / "synthetic" / "test.jsonl",
              [("t0", "wav/t0.wav", SENTENCES[1]), ("t1", "wav/t1.wav", SENTENCES[5])])  # fmt: skip
    _manifest(root / "dev.jsonl", [("d0", "dev/d0.wav", SENTENCES[2]), ("d1", "dev/d1.wav", SENTENCES[7])])
    (root / "corpus.txt").write_text("\n".join(SENTENCES * 3 + ["kubernetes runs the cluster"]) + "\n")
    return Workdir(root)


# ---- checks -------------------------------------------------------------------------------------------

RUN: dict[str, str] = {}  # README command key -> the test that runs it


def runs(*keys: str) -> Callable:
    """Register the README commands (keys) a test runs."""

    def mark(test: Callable) -> Callable:
        for key in keys:
            RUN[key] = test.__name__
        return test

    return mark


def command(key: str) -> str:
    """The README's command for `key`, as written."""
    commands = readme_commands()
    assert key in commands, f"the README no longer has {key!r}: update this test"
    return commands[key]


def assert_resembles(hypothesis: str, reference: str, max_wer: float = 0.34) -> None:
    wer = jiwer.wer(reference, " ".join(hypothesis.lower().split()))
    assert wer <= max_wer, f"{hypothesis!r} is not {reference!r} (WER {wer:.2f})"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_every_readme_command_is_run_or_excluded():
    found = set(readme_commands())
    assert not set(RUN) & set(EXCLUDED), "a command both run and excluded"
    unhandled = found - set(RUN) - set(EXCLUDED)
    assert not unhandled, f"README commands neither run by a test here nor in EXCLUDED: {sorted(unhandled)}"
    stale = (set(RUN) | set(EXCLUDED)) - found
    assert not stale, f"no longer in the README (update this test): {sorted(stale)}"


def test_inline_commands_are_told_from_names():
    assert _is_inline_command("asr lm build --text corpus.txt --order 3 -o lm.bin")
    assert _is_inline_command("ASR_API_KEY=... asr serve")
    assert _is_inline_command("apt-get install g++")
    assert not _is_inline_command("asr config get")
    assert not _is_inline_command("make demo")
    assert not _is_inline_command("asr/decoding/native")


@pytest.mark.slow
@runs(".venv/bin/asr transcribe speech.wav")
def test_transcribe_with_the_shipped_model(workdir):
    out = workdir.run(command(".venv/bin/asr transcribe speech.wav"))
    assert_resembles(out.stdout, SPOKEN["speech.wav"])


@pytest.mark.slow
@runs('.venv/bin/asr transcribe speech.wav more/ "talks/*.mp3" --model exp/synthetic/best.pt --format srt '
      "--output-dir subs/")  # fmt: skip
def test_transcribe_files_folders_and_globs_to_subtitles(workdir):
    workdir.run(command('.venv/bin/asr transcribe speech.wav more/ "talks/*.mp3" --model '
                        "exp/synthetic/best.pt --format srt --output-dir subs/"))  # fmt: skip
    subs = workdir.root / "subs"
    written = {p.relative_to(subs).as_posix(): p.read_text() for p in subs.rglob("*.srt")}
    assert sorted(written) == ["market.srt", "speech.srt", "walks.srt"], written
    for name, srt in written.items():
        assert "-->" in srt
        spoken = next(text for audio, text in SPOKEN.items() if Path(audio).stem == Path(name).stem)
        text = " ".join(ln for ln in srt.splitlines() if ln and "-->" not in ln and not ln.isdigit())
        assert_resembles(text, spoken, max_wer=0.5)  # greedy: exp/synthetic has no decoder.json here


@pytest.mark.slow
@runs(".venv/bin/asr transcribe meeting.flac --model exp/synthetic/best.pt --lm data/synthetic/lm3.bin "
      "--beam-size 32")  # fmt: skip
def test_transcribe_with_a_named_lm(workdir):
    out = workdir.run(command(".venv/bin/asr transcribe meeting.flac --model exp/synthetic/best.pt --lm "
                              "data/synthetic/lm3.bin --beam-size 32"))  # fmt: skip
    assert_resembles(out.stdout, SPOKEN["meeting.flac"])


@pytest.mark.slow
@runs(".venv/bin/asr evaluate --model exp/synthetic/best.pt --manifest data/synthetic/test.jsonl")
def test_evaluate_writes_its_reports(workdir):
    out = workdir.run(command(".venv/bin/asr evaluate --model exp/synthetic/best.pt --manifest "
                              "data/synthetic/test.jsonl"))  # fmt: skip
    assert "WER" in out.stdout + out.stderr
    exp = workdir.root / "exp" / "synthetic"
    summary = json.loads((exp / "summary-test.json").read_text())
    assert summary["wer"] <= 0.5, summary
    assert (exp / "recogs-test.txt").read_text().count("\n") >= 2
    assert (exp / "errs-test.txt").is_file()


EXPORT_ONNX = "asr export --model data/models/synthetic-en/model.pt -o synthetic-en-onnx"


@pytest.mark.slow
@runs(EXPORT_ONNX, "asr transcribe --model synthetic-en-onnx speech.wav")
def test_onnx_export_transcribes_as_the_checkpoint(workdir):
    workdir.run(command(EXPORT_ONNX))
    export = workdir.root / "synthetic-en-onnx"
    assert any(export.glob("*.onnx")), sorted(p.name for p in export.iterdir())
    decoder = json.loads((export / "decoder.json").read_text())
    assert (export / decoder["lm"]).is_file() and (export / decoder["lexicon"]).is_file()
    out = workdir.run(command("asr transcribe --model synthetic-en-onnx speech.wav"))
    assert_resembles(out.stdout, SPOKEN["speech.wav"])


SYNOPSIS_EXPORT = "asr export --model M --format onnx|torchscript [--quantize int8] -o out/"
SERVE = "asr serve --model M_or_out/ --port 8000"


def _export_torchscript_int8(workdir: Workdir) -> Path:
    """The export synopsis with its TorchScript + int8 choice (ONNX runs above), M the shipped model."""
    synopsis = command(SYNOPSIS_EXPORT)
    concrete = synopsis.replace("--model M ", "--model data/models/synthetic-en/model.pt ")
    concrete = concrete.replace("onnx|torchscript", "torchscript").replace(
        "[--quantize int8]", "--quantize int8"
    )
    workdir.run(concrete)
    return workdir.root / "out"


class _Served:
    """A README `asr serve` command started in the background (its own process group), stopped at exit."""

    def __init__(self, workdir: Workdir, line: str, port: int, key: str | None = None) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.log = workdir.root / f"serve-{port}.log"
        self.proc = subprocess.Popen(
            ["bash", "-c", line], cwd=workdir.root, env=workdir.env,
            stdout=self.log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 120
        while True:
            assert self.proc.poll() is None, f"{line!r} exited: {self.log.read_text()[-3000:]}"
            try:
                headers = {"Authorization": f"Bearer {key}"} if key else {}
                request = urllib.request.Request(self.url + "/healthz", headers=headers)
                with urllib.request.urlopen(request, timeout=2) as r:
                    self.health = json.load(r)
                if self.health["workers"]["ready"]:
                    return
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            assert time.monotonic() < deadline, f"{line!r} not up in 120 s: {self.log.read_text()[-3000:]}"
            time.sleep(0.3)

    def __enter__(self) -> _Served:
        return self

    def __exit__(self, *exc) -> None:
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def _curl(workdir: Workdir, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["curl", "-sS", "-w", "\n%{http_code}", *args], cwd=workdir.root,
                          capture_output=True, text=True, timeout=120, check=True)  # fmt: skip


@pytest.mark.slow
@runs(SYNOPSIS_EXPORT, SERVE)
def test_export_then_serve_it_and_query_with_curl(workdir):
    out = _export_torchscript_int8(workdir)
    assert (out / "model.ts").is_file() and (out / "decoder.json").is_file(), sorted(
        p.name for p in out.iterdir()
    )
    port = _free_port()  # the placeholder port: 8000 may be taken on this machine
    line = command(SERVE).replace("M_or_out/", "out/").replace("--port 8000", f"--port {port}")
    with _Served(workdir, line, port) as server:
        reply = _curl(workdir, "-F", "file=@speech.wav", server.url + "/v1/transcribe")
        body, status = reply.stdout.rsplit("\n", 1)
        assert status == "200", reply.stdout
        result = json.loads(body)
        assert result["decoder"] == "beam"  # the export's decoder.json: beam search + LM, as asr transcribe
        assert_resembles(result["text"], SPOKEN["speech.wav"])
        assert all(0 <= w["confidence"] <= 1 for w in result["words"])


@pytest.mark.slow
@runs("ASR_API_KEY=... asr serve")
def test_serve_with_an_api_key(workdir):
    port = _free_port()  # `...` is the key; a free port instead of the default 8000, which may be taken
    line = command("ASR_API_KEY=... asr serve").replace("ASR_API_KEY=...", "ASR_API_KEY=s3cret")
    with _Served(workdir, f"{line} --port {port}", port, key="s3cret") as server:
        assert server.health["decoder"] == "beam"  # the shipped model, its beam search + LM
        refused = _curl(workdir, "-F", "file=@meeting.flac", server.url + "/v1/transcribe")
        assert refused.stdout.endswith("\n401"), refused.stdout
        reply = _curl(workdir, "-H", "Authorization: Bearer s3cret", "-F", "file=@meeting.flac",
                      server.url + "/v1/transcribe?format=text")  # fmt: skip
        text, status = reply.stdout.rsplit("\n", 1)
        assert status == "200", reply.stdout
        assert_resembles(text, SPOKEN["meeting.flac"])


LM_BUILD = "asr lm build --text corpus.txt --order 3 -o lm.bin"
LM_TUNE = "asr lm tune --model M --manifest dev.jsonl --lm lm.bin"


@runs(LM_BUILD)
def test_lm_build(workdir):
    workdir.run(command(LM_BUILD))
    assert (workdir.root / "lm.bin").stat().st_size > 0
    words = (workdir.root / "lm.words.txt").read_text().split()
    assert {"door", "market", "kubernetes"} <= set(words)


@pytest.mark.slow
@runs(LM_TUNE)
def test_lm_tune_saves_the_best_weights(workdir):
    workdir.run(command(LM_BUILD))
    workdir.run(command(LM_TUNE).replace("--model M ", "--model exp/synthetic/best.pt "))
    tuned = json.loads((workdir.root / "exp" / "synthetic" / "decoder-tuned.json").read_text())
    assert {"lm_weight", "word_score"} <= set(tuned), tuned


EXPORT_HALF = "asr export --model M --format checkpoint --half"


@runs(EXPORT_HALF)
def test_export_a_half_checkpoint(workdir, tmp_path):
    import torch
    from tiny_model import tiny_checkpoint

    model = tiny_checkpoint(tmp_path / "float32.pt")
    workdir.run(command(EXPORT_HALF).replace("--model M ", f"--model {model} "))
    (half,) = [p for p in tmp_path.rglob("*.pt") if p != model]
    state = torch.load(half, weights_only=True)
    weights = {k: v.dtype for k, v in state["state_dict"].items() if k.endswith(".weight") or "weight_" in k}
    assert weights and set(weights.values()) == {torch.float16}, weights  # biases and stats stay float32
    assert half.stat().st_size < model.stat().st_size


@pytest.mark.slow
@runs("python: model = asr.load_model()")
def test_python_transcribe_snippet(workdir):
    script = workdir.root / "snippet_transcribe.py"
    script.write_text(command("python: model = asr.load_model()"))
    out = workdir.run(".venv/bin/python snippet_transcribe.py")
    text, *words = out.stdout.splitlines()
    assert_resembles(text, SPOKEN["speech.wav"])
    assert len(words) == len(text.split())
    for line in words:
        word, start, end, confidence = line.split()
        assert 0 <= float(start) < float(end) and 0 <= float(confidence) <= 1


def _emissions(text: str, vocab_symbols: list[str], frames_per_symbol: int = 3) -> np.ndarray:
    """CTC log-probabilities that spell `text` (each symbol for a few frames, blanks between): (1, T, V)."""
    rng = np.random.default_rng(0)
    rows = []
    for ch in text:
        for index in [vocab_symbols.index(ch)] * frames_per_symbol + [0]:
            logits = rng.normal(0, 0.5, len(vocab_symbols))
            logits[index] += 8
            rows.append(logits)
    logits = np.array([np.full(len(vocab_symbols), -4.0), *rows], dtype=np.float32)
    logits[0, 0] = 8
    return (logits - np.log(np.exp(logits).sum(-1, keepdims=True)))[None].astype(np.float32)


@runs('python: vocab = Vocabulary(["<blank>", " ", *"abcdefghijklmnopqrstuvwxyz", "\'"])')
def test_python_decoder_snippet(workdir):
    workdir.run(command(LM_BUILD))  # the snippet's lm.bin and lm.words.txt: "from `asr lm build`"
    symbols = ["<blank>", " ", *"abcdefghijklmnopqrstuvwxyz", "'"]
    sentence = SENTENCES[3]
    np.save(workdir.root / "emissions.npy", _emissions(sentence, symbols))
    script = workdir.root / "snippet_decoder.py"
    script.write_text(
        command('python: vocab = Vocabulary(["<blank>", " ", *"abcdefghijklmnopqrstuvwxyz", "\'"])')
    )
    out = workdir.run(".venv/bin/python snippet_decoder.py")
    first = out.stdout.splitlines()[0]
    assert first.startswith(sentence + " ["), first
    assert first.count("(") == len(sentence.split())


DRY_RUN = "DRY_RUN=1 recipes/synthetic/rebuild_default_model.sh"


@runs(DRY_RUN)
def test_rebuild_script_dry_run(workdir):
    recipes = workdir.root / "recipes"
    if not recipes.exists():
        recipes.symlink_to(ROOT / "recipes")  # the script cds to the checkout it is in
    out = workdir.run(command(DRY_RUN))
    stages = [int(s) for s in re.findall(r"\] stage (\d+):", out.stdout + out.stderr)]
    assert stages == list(range(14)) or stages == [s for s in range(14) if s != 8], stages
    assert "+ .venv/bin/asr train" in out.stdout + out.stderr


GIT_SHOW = (
    "mkdir -p exp/synthetic-full-ft && git show 63c6679:data/models/synthetic-en/model.pt"
    " > exp/synthetic-full-ft/model.pt"
)


@runs(GIT_SHOW)
def test_espeak_only_model_from_git_history(workdir):
    git_dir = subprocess.run(["git", "rev-parse", "--absolute-git-dir"], cwd=ROOT, capture_output=True,
                             text=True, check=True).stdout.strip()  # fmt: skip
    workdir.run(command(GIT_SHOW), GIT_DIR=git_dir)
    import torch

    state = torch.load(workdir.root / "exp" / "synthetic-full-ft" / "model.pt", weights_only=True)
    assert "model" in state
