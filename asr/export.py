"""Export a recognizer to ONNX or TorchScript (optionally int8): the writing side; `asr.runtime` loads.

An export is a directory::

    out/asr_export.json   manifest: backend, quantization, feature + model config, vocabulary, checks
    out/model.onnx        or model.ts (TorchScript); waveforms (B, S) + lengths (B,) → log_probs, lengths
    out/vocab.json        the vocabulary (blank at index 0), for programs that do not read the manifest
    out/features.json     the feature configuration
    out/decoder.json      the beam search the checkpoint was tuned with, if it had one beside it (with
                          the LM and word list it names, copied in)

The whole pipeline is exported, log-mel front end included (the STFT becomes a convolution with a
windowed DFT basis, which both ONNX and TorchScript handle), so an ONNX export runs with onnxruntime and
numpy alone. The LSTM runs on the dense padded batch (packed sequences do not export reliably).

`asr.load_model(dir)` loads an export back as a `Recognizer` (through `asr.runtime`), with the
decoder.json it carries as its `decoder_config`; the runtime's names stay importable from here.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import os
import shutil
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from asr.errors import ConfigError, ExportError
from asr.features import FeatureConfig
from asr.fileio import atomic_write
from asr.loading import load_model
from asr.model import ModelConfig, subsampled_lengths
from asr.recognizer import SpeechRecognizer

# The loading side, re-exported: callers and tests import these from asr.export too.
from asr.runtime import (
    EXPORT_FORMAT_VERSION,
    MANIFEST_NAME,
    EagerInt8Model,
    ExportedModel,
    load_from_manifest,
    quantize_int8,
)

__all__ = [
    "EXPORT_FORMAT_VERSION",
    "FORMATS",
    "MANIFEST_NAME",
    "EagerInt8Model",
    "ExportError",
    "ExportedModel",
    "export_model",
    "max_abs_diff",
    "quantize_int8",
]

log = logging.getLogger(__name__)

FORMATS = ("onnx", "torchscript")
QUANTIZATIONS = (None, "int8")
_MODEL_FILES = {"onnx": "model.onnx", "torchscript": "model.ts"}
ONNX_OPSET = 17


# --- the exportable graph --------------------------------------------------------------------------


def _frame_index(x: torch.Tensor) -> torch.Tensor:
    """0..T-1 for x (B, T, F), built from x itself: a trace records no device constant (unlike arange),
    so a TorchScript export traced on the CPU also runs on CUDA."""
    return torch.cumsum(torch.ones_like(x[0, :, 0], dtype=torch.long), 0) - 1


class DftLogMel(nn.Module):
    """LogMelFrontend as export-friendly operations: STFT = strided conv1d with a windowed DFT basis.

    Same inputs, outputs and normalization as `asr.features.LogMelFrontend` (reflect-padded centered
    frames, periodic Hann window, power spectrum, the same mel filter bank); float32 differences from
    the FFT are ~1e-5 relative.
    """

    def __init__(
        self, config: FeatureConfig, mel_fb: torch.Tensor, smoothing: torch.Tensor | None = None
    ) -> None:
        super().__init__()
        self.config = config
        n_fft, win = config.n_fft, config.win_length
        window = torch.zeros(n_fft, dtype=torch.float64)
        left = (n_fft - win) // 2  # torch.stft centres a shorter window inside n_fft
        window[left : left + win] = torch.hann_window(win, periodic=True, dtype=torch.float64)
        k = torch.arange(n_fft // 2 + 1, dtype=torch.float64)[:, None]
        n = torch.arange(n_fft, dtype=torch.float64)[None, :]
        angle = 2 * math.pi * k * n / n_fft
        basis = torch.cat([torch.cos(angle) * window, -torch.sin(angle) * window])  # (2F, n_fft)
        self.register_buffer("basis", basis.float().unsqueeze(1))  # (2F, 1, n_fft)
        self.register_buffer("mel_fb", mel_fb.detach().float().clone())  # (F, n_mels)
        if smoothing is not None:  # the eager front end's cepstral smoothing, applied to the log-mel
            self.register_buffer("smoothing", smoothing.detach().float().clone())  # (n_mels, n_mels)
        else:
            self.smoothing = None
        self.n_freqs = n_fft // 2 + 1

    def forward(self, waveforms: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        half = self.config.n_fft // 2
        x = nn.functional.pad(waveforms.unsqueeze(1), (half, half), mode="reflect")
        spec = nn.functional.conv1d(x, self.basis, stride=self.config.hop_length)  # (B, 2F, T)
        real, imag = spec[:, : self.n_freqs], spec[:, self.n_freqs :]
        power = (real * real + imag * imag).transpose(1, 2)  # (B, T, F)
        feats = torch.log(torch.matmul(power, self.mel_fb) + 1e-6)  # (B, T, n_mels)
        if self.smoothing is not None:
            feats = torch.matmul(feats, self.smoothing)
        frames = _frame_index(feats)
        frame_lengths = torch.minimum(
            torch.div(lengths, self.config.hop_length, rounding_mode="floor") + 1,
            torch.full_like(lengths, feats.shape[1]),
        )
        mask = (frames[None, :] < frame_lengths[:, None]).unsqueeze(-1).to(feats.dtype)  # (B, T, 1)
        if self.config.normalize == "utterance":
            count = frame_lengths.clamp(min=1).to(feats.dtype).view(-1, 1, 1)
            mean = (feats * mask).sum(1, keepdim=True) / count
            var = (((feats - mean) * mask) ** 2).sum(1, keepdim=True) / count
            feats = (feats - mean) / torch.sqrt(var + 1e-5)
        return feats * mask, frame_lengths


class ExportGraph(nn.Module):
    """waveforms (B, S) float32 + lengths (B,) int64 → log_probs (B, T', V), out_lengths (B,) int64.

    The recognizer's computation written with shape arithmetic that tracing records (no Python control
    flow on sizes), and the LSTM on the dense batch.
    """

    def __init__(self, recognizer: SpeechRecognizer) -> None:
        super().__init__()
        recognizer = copy.deepcopy(recognizer).cpu().eval()
        eager = recognizer.frontend
        self.frontend = DftLogMel(recognizer.feature_config, eager.mel.mel_scale.fb, eager.smoothing)
        acoustic = recognizer.acoustic
        self.config: ModelConfig = acoustic.config
        self.register_buffer("feature_mean", acoustic.feature_mean.clone())
        self.register_buffer("feature_std", acoustic.feature_std.clone())
        self.conv = acoustic.subsample if self.config.subsampling == "conv" else None
        self.lstm = acoustic.lstm
        self.output = acoustic.output

    def forward(self, waveforms: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features, frame_lengths = self.frontend(waveforms, lengths)
        x = (features - self.feature_mean) / self.feature_std
        frames = _frame_index(x)
        x = x * (frames[None, :] < frame_lengths[:, None]).unsqueeze(-1).to(x.dtype)
        b = x.shape[0]
        if self.conv is not None:
            x = self.conv(x)
        else:
            k = self.config.subsampling_factor
            t, f = x.shape[1], x.shape[2]
            steps = torch.div(t + k - 1, k, rounding_mode="floor")
            # Always append k-1 zero frames, then keep exactly steps*k: no size-dependent branch.
            x = torch.cat([x, x.new_zeros(b, k - 1, f)], dim=1)[:, : steps * k]
            x = x.reshape(b, -1, f * k)
        out_lengths = subsampled_lengths(frame_lengths, self.config)
        out_lengths = torch.minimum(out_lengths.clamp(min=1), torch.full_like(out_lengths, x.shape[1]))
        # Explicit zero states made from x: nn.LSTM's own would be traced with a fixed device.
        state = x.new_zeros(2 * self.lstm.num_layers, b, self.lstm.hidden_size)
        y, _ = self.lstm(x, (state, state))
        return self.output(y).log_softmax(dim=-1), out_lengths


# --- export ----------------------------------------------------------------------------------------


def _example_inputs(sample_rate: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Two utterances of different lengths (1.0 s and 0.7 s) of low-level noise."""
    g = torch.Generator().manual_seed(0)
    waves = 0.05 * torch.randn(2, sample_rate, generator=g)
    lengths = torch.tensor([sample_rate, int(0.7 * sample_rate)])
    waves[1, lengths[1] :] = 0
    return waves, lengths


def export_model(
    model: SpeechRecognizer | str | os.PathLike,
    out_dir: str | os.PathLike,
    format: str = "onnx",
    quantize: str | None = None,
    opset: int = ONNX_OPSET,
) -> Path:
    """Write `model` (a recognizer or a checkpoint path) to `out_dir` as ONNX or TorchScript.

    `quantize="int8"`: dynamic int8 weights for the LSTM and linear layers (onnxruntime's quantizer
    for ONNX, torch.ao.quantization for TorchScript); the front end stays float32.
    Returns the manifest path. Existing export files in `out_dir` are replaced.
    """
    if format not in FORMATS:
        raise ExportError(f"unknown export format {format!r}; choose one of {', '.join(FORMATS)}")
    if quantize not in QUANTIZATIONS:
        raise ExportError(f"unknown quantization {quantize!r}; choose int8 or leave it out")
    source = None
    if not isinstance(model, SpeechRecognizer):
        source = str(model)
        try:
            loaded = load_model(model)
        except ConfigError as e:  # its decoder.json, which the export would carry
            raise ExportError(f"{e}; the export was not written (fix or remove its decoder.json)") from None
        if not isinstance(loaded, SpeechRecognizer):
            raise ExportError(f"{source}: is already an export; export the checkpoint it came from")
        model = loaded
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ExportError(f"{out}: exists and is not a directory; choose another output path")
    out.mkdir(parents=True, exist_ok=True)
    graph = ExportGraph(model).eval()
    waves, lengths = _example_inputs(model.sample_rate)
    model_file = out / _MODEL_FILES[format]
    started = time.perf_counter()
    if format == "onnx":
        _export_onnx(graph, waves, lengths, model_file, quantize, opset)
    else:
        _export_torchscript(graph, waves, lengths, model_file, quantize)
    seconds = time.perf_counter() - started

    manifest = {
        "format": "asr-export",
        "format_version": EXPORT_FORMAT_VERSION,
        "backend": format,
        "quantize": quantize,
        "model_file": model_file.name,
        "opset": opset if format == "onnx" else None,
        "inputs": {"waveforms": "float32 (batch, samples)", "lengths": "int64 (batch,) samples"},
        "outputs": {"log_probs": "float32 (batch, frames, vocab)", "lengths": "int64 (batch,) frames"},
        "sample_rate": model.sample_rate,
        "frame_shift_s": model.frame_shift_s,
        "features": model.feature_config.to_dict(),
        "model": model.model_config.to_dict(),
        "vocab": model.vocab.to_dict(),
        "metadata": {**model.metadata, "source": source},
        "torch_version": torch.__version__,
    }
    model.vocab.to_file(out / "vocab.json")
    with atomic_write(out / "features.json") as f:
        f.write(json.dumps(model.feature_config.to_dict(), indent=2) + "\n")
    # Self-check on the example inputs, one utterance at a time (the way the loaders run them), with
    # the manifest as a loader will read it; the manifest is written last, so a failed export has none.
    exported = load_from_manifest(out, json.loads(json.dumps(manifest)))
    diff = max_abs_diff(copy.deepcopy(model).cpu().eval(), exported, waves, lengths)
    manifest["self_check"] = {"max_abs_diff_vs_eager": diff, "inputs": "noise, lengths 1.0 s and 0.7 s"}
    if source is not None:
        _bundle_decoder(source, out)
    with atomic_write(out / MANIFEST_NAME) as f:
        f.write(json.dumps(manifest, indent=2) + "\n")
    log.info(
        "exported %s%s to %s in %.1f s (%.1f MB); max |log-prob diff| vs eager on a self-check: %.2e",
        format,
        f" {quantize}" if quantize else "",
        model_file,
        seconds,
        model_file.stat().st_size / 1e6,
        diff,
    )
    return out / MANIFEST_NAME


def _bundle_decoder(checkpoint: str, out: Path) -> None:
    """Copy the checkpoint's ``decoder.json`` (its tuned beam search) into the export, with the LM and
    word list it names, so that the export decodes as the checkpoint does wherever it is taken. Only
    files inside the checkpoint's folder are copied: a decoder.json naming any other file is refused
    (`asr.loading.decoder_settings`), so an export never carries a file from elsewhere."""
    from asr.loading import DECODER_FILE, PATH_KEYS, decoder_file, decoder_settings

    config = decoder_file(checkpoint)
    if config is None:
        return
    try:
        settings = decoder_settings(config)
    except ConfigError as e:
        raise ExportError(f"{e}; the export was not written (fix or remove {config})") from None
    for key in PATH_KEYS:
        value = settings.get(key)
        if isinstance(value, str) and value:
            src = Path(value)
            shutil.copy2(src, out / src.name)
            settings[key] = src.name
    with atomic_write(out / DECODER_FILE) as f:
        f.write(json.dumps(settings, indent=1) + "\n")
    log.info("copied %s (and the files it names) into %s", config, out)


@torch.no_grad()
def max_abs_diff(reference: Any, other: Any, waveforms: torch.Tensor, lengths: torch.Tensor) -> float:
    """Largest |log-prob difference| over the valid frames, each utterance run on its own by both
    models (so that padding effects of either side do not count). Raises if frame counts differ."""
    worst = 0.0
    for i, n in enumerate(lengths.tolist()):
        wave, length = waveforms[i : i + 1, :n], lengths[i : i + 1]
        a, a_len = reference(wave.to(reference.device), length.to(reference.device))
        b, b_len = other(wave.to(other.device), length.to(other.device))
        if int(a_len[0]) != int(b_len[0]):
            raise ExportError(f"utterance {i}: {int(b_len[0])} output frames, expected {int(a_len[0])}")
        t = int(a_len[0])
        worst = max(worst, float((a[0, :t].float().cpu() - b[0, :t].float().cpu()).abs().max()))
    return worst


def _export_onnx(
    graph: nn.Module, waves: torch.Tensor, lengths: torch.Tensor, path: Path, quantize: str | None, opset: int
) -> None:
    try:
        import onnx  # noqa: F401  (torch.onnx.export needs it)
    except ImportError as e:
        raise ExportError("ONNX export needs the onnx package: pip install 'asr-blstm[export]'") from e
    with tempfile.TemporaryDirectory(prefix="asr-export-") as tmp:
        fp32 = Path(tmp) / "model.onnx" if quantize else path
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # TracerWarnings about the dense LSTM's batch_first layout
            torch.onnx.export(
                graph,
                (waves, lengths),
                str(fp32),
                input_names=["waveforms", "lengths"],
                output_names=["log_probs", "out_lengths"],
                dynamic_axes={
                    "waveforms": {0: "batch", 1: "samples"},
                    "lengths": {0: "batch"},
                    "log_probs": {0: "batch", 1: "frames"},
                    "out_lengths": {0: "batch"},
                },
                opset_version=opset,
                dynamo=False,  # 0.7 s and dynamic axes; the dynamo exporter took 81 s and fixed the time axis
            )
        if quantize == "int8":
            _quantize_onnx(fp32, path)


def _quantize_onnx(src: Path, dst: Path) -> None:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # The front end (DFT convolution, mel matmul) stays float32: int8 features cost accuracy and little time.
    frontend = [n.name for n in onnx.load(str(src)).graph.node if n.name.startswith("/frontend/")]
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # the quantizer logs advice and per-tensor notes on the root logger
    try:
        quantize_dynamic(
            str(src),
            str(dst),
            weight_type=QuantType.QInt8,
            op_types_to_quantize=["LSTM", "MatMul", "Gemm"],
            nodes_to_exclude=frontend,
        )
    finally:
        root.setLevel(level)


def _export_torchscript(
    graph: nn.Module, waves: torch.Tensor, lengths: torch.Tensor, path: Path, quantize: str | None
) -> None:
    if quantize == "int8":
        graph = quantize_int8(graph)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TracerWarnings; the parity tests check the traced shapes
        traced = torch.jit.trace(graph, (waves, lengths), check_trace=False)
        # A trace with other sizes than the example must give the same result: catch baked-in shapes.
        w2, l2 = waves[:1, : int(0.55 * waves.shape[1])], torch.tensor([int(0.55 * waves.shape[1])])
        a, _ = traced(w2, l2)
        b, _ = graph(w2, l2)
        if a.shape != b.shape:
            raise ExportError(f"TorchScript trace fixed a shape: {tuple(a.shape)} vs {tuple(b.shape)}")
        torch.jit.save(traced, str(path))
