"""Run exported models (ONNX, TorchScript, int8): the loading side of `asr.export`.

An export directory (written by `asr.export.export_model`, see there for the layout) holds a manifest,
`asr_export.json`, and one model file. `load_exported(dir)` (also reached through
`asr.load_model(dir)`) returns an `ExportedModel`, which satisfies `asr.recognizer.Recognizer`: the
interface `asr.transcribe`, `asr.evaluate` and `asr serve` use.

This module never imports checkpoint or export code: running a model needs neither torch.onnx nor
the training checkpoint format. The exported LSTM runs on the dense padded batch (packed sequences do
not export reliably); utterances of different lengths therefore run one at a time, so that results
never depend on how utterances were batched (the eager model packs for the same reason).
"""

from __future__ import annotations

import copy
import json
import logging
import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from asr.errors import ExportError
from asr.features import FeatureConfig
from asr.model import ModelConfig
from asr.text import Vocabulary

if TYPE_CHECKING:
    from asr.decoding import Decoder, DecoderConfig
    from asr.recognizer import SpeechRecognizer

__all__ = [
    "EXPORT_FORMAT_VERSION",
    "MANIFEST_NAME",
    "EagerInt8Model",
    "ExportError",
    "ExportedModel",
    "OnnxModel",
    "TorchScriptModel",
    "load_exported",
    "load_from_manifest",
    "quantize_int8",
    "read_export_manifest",
]

log = logging.getLogger(__name__)

MANIFEST_NAME = "asr_export.json"
EXPORT_FORMAT_VERSION = 1
# Frames past an utterance's end, when a batch of different lengths is run one utterance at a time:
# certain blank (decoders ignore them anyway, lengths say where each utterance ends).
_PAD_LOGP = -30.0


def quantize_int8(module: nn.Module) -> nn.Module:
    """Dynamic int8 quantization of the LSTM and Linear layers (torch.ao.quantization; CPU only).

    Returns a quantized copy; the original is left as it is."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # quantize_dynamic is deprecated in favour of torchao (torch 2.14)
        return torch.ao.quantization.quantize_dynamic(
            copy.deepcopy(module).cpu().eval(), {nn.LSTM, nn.Linear}, dtype=torch.qint8
        )


def load_exported(
    path: str | os.PathLike, device: str | torch.device = "cpu", threads: int = 0
) -> ExportedModel:
    """Load an export directory written by `asr.export.export_model` (or `asr export`).

    `threads`: intra-op threads for onnxruntime (0: torch's current setting, `torch.get_num_threads()`).
    TorchScript uses torch's thread setting."""
    path = Path(path)
    return load_from_manifest(path, read_export_manifest(path), device, threads)


def read_export_manifest(path: str | os.PathLike) -> dict[str, Any]:
    """The checked manifest of export directory `path`; ExportError says what is wrong and what to do."""
    path = Path(path)
    manifest_path = path / MANIFEST_NAME
    if not manifest_path.is_file():
        raise ExportError(f"{path}: no {MANIFEST_NAME}; export a model with `asr export --model M -o {path}`")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ExportError(f"{manifest_path}: unreadable export manifest ({e}); re-export the model") from e
    if not isinstance(manifest, dict) or manifest.get("format") != "asr-export":
        raise ExportError(f"{manifest_path}: not an asr export manifest")
    if manifest.get("format_version") != EXPORT_FORMAT_VERSION:
        raise ExportError(
            f"{manifest_path}: export format_version {manifest.get('format_version')} is not supported "
            f"(supports {EXPORT_FORMAT_VERSION}); re-export the model with this asr"
        )
    return manifest


def load_from_manifest(
    path: Path, manifest: dict[str, Any], device: str | torch.device = "cpu", threads: int = 0
) -> ExportedModel:
    """The model of export directory `path` described by `manifest` (already read and checked)."""
    backend = manifest.get("backend")
    model_file = path / str(manifest.get("model_file", ""))
    if not model_file.is_file():
        raise ExportError(f"{model_file}: the exported model file is missing; re-export the model")
    if backend == "onnx":
        return OnnxModel(model_file, manifest, device, threads)
    if backend == "torchscript":
        return TorchScriptModel(model_file, manifest, device)
    raise ExportError(f"{path / MANIFEST_NAME}: unknown backend {backend!r}")


class ExportedModel:
    """Base of the exported models; satisfies `asr.recognizer.Recognizer` (what `asr.transcribe`,
    `asr.evaluate` and `asr serve` use)."""

    training = False  # evaluate() toggles eval/train mode; an export is always in inference mode

    def __init__(self, manifest: dict[str, Any], device: str | torch.device) -> None:
        self.manifest = manifest
        self.feature_config = FeatureConfig.from_dict(manifest["features"])
        self.model_config = ModelConfig.from_dict(manifest["model"])
        self.vocab = Vocabulary.from_dict(manifest["vocab"])
        self.frame_shift_s = float(manifest["frame_shift_s"])
        self.backend: str = manifest["backend"]
        self.quantize: str | None = manifest.get("quantize")
        self.metadata: dict = manifest.get("metadata") or {}
        self._device = torch.device(device)

    @property
    def sample_rate(self) -> int:
        return self.feature_config.sample_rate

    @property
    def device(self) -> torch.device:
        return self._device

    def decoder(self, config: DecoderConfig | None = None) -> Decoder:
        """A decoder for this model's output: greedy when `config` is None, else beam search with it
        (word times in this model's frame shift)."""
        from asr.decoding import build_decoder

        return build_decoder(self.vocab, self.frame_shift_s, config)

    def eval(self) -> ExportedModel:
        return self

    def train(self, mode: bool = True) -> ExportedModel:
        if mode:
            raise RuntimeError("an exported model cannot be trained; train the checkpoint it came from")
        return self

    def __repr__(self) -> str:
        q = f", {self.quantize}" if self.quantize else ""
        return f"{type(self).__name__}({self.backend}{q}, device={self.device})"

    def _run(self, waveforms: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    @torch.no_grad()
    def __call__(self, waveforms: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """waveforms (B, S) float at `sample_rate`, lengths (B,) samples → log_probs (B, T', V), lengths."""
        if waveforms.dim() != 2:
            raise ValueError(f"waveforms must be (B, samples), got shape {tuple(waveforms.shape)}")
        if lengths.dim() != 1 or lengths.shape[0] != waveforms.shape[0]:
            raise ValueError(
                f"lengths must be ({waveforms.shape[0]},) to match waveforms, got {tuple(lengths.shape)}"
            )
        waveforms = waveforms.float()
        lengths = lengths.long()
        if bool((lengths == lengths[0]).all()):
            return self._run(waveforms[:, : int(lengths[0])], lengths)
        # Different lengths: one utterance at a time, so padding never reaches the dense LSTM.
        outs = [self._run(waveforms[i : i + 1, : int(n)], lengths[i : i + 1]) for i, n in enumerate(lengths)]
        frames = max(o[0].shape[1] for o in outs)
        log_probs = outs[0][0].new_full((len(outs), frames, len(self.vocab)), _PAD_LOGP)
        log_probs[:, :, self.vocab.blank_id] = 0.0
        for i, (lp, _) in enumerate(outs):
            log_probs[i, : lp.shape[1]] = lp[0]
        return log_probs, torch.cat([o[1] for o in outs])


class OnnxModel(ExportedModel):
    """An ONNX export run by onnxruntime (CUDA execution provider on a CUDA device when available)."""

    def __init__(
        self, model_file: Path, manifest: dict[str, Any], device: str | torch.device, threads: int = 0
    ):
        super().__init__(manifest, device)
        try:
            import onnxruntime as ort
        except ImportError as e:
            raise ExportError("running an ONNX export needs onnxruntime: pip install 'asr[export]'") from e
        options = ort.SessionOptions()
        # 0: follow torch's thread setting (what `--threads` sets), so every backend obeys one knob.
        options.intra_op_num_threads = threads or torch.get_num_threads()
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        providers = ["CPUExecutionProvider"]
        if self.device.type == "cuda":
            if "CUDAExecutionProvider" in ort.get_available_providers():
                providers.insert(0, "CUDAExecutionProvider")
            else:
                log.warning("onnxruntime has no CUDA provider here; running %s on the CPU", model_file)
                self._device = torch.device("cpu")
        try:
            self.session = ort.InferenceSession(str(model_file), options, providers=providers)
        except Exception as e:  # noqa: BLE001 - onnxruntime raises its own exception types
            raise ExportError(f"{model_file}: onnxruntime cannot load it ({e}); re-export the model") from e

    def _run(self, waveforms: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        log_probs, out_lengths = self.session.run(
            None,
            {
                "waveforms": waveforms.detach().cpu().numpy(),
                "lengths": lengths.detach().cpu().numpy(),
            },
        )
        return torch.from_numpy(log_probs).to(self.device), torch.from_numpy(out_lengths).to(self.device)


class TorchScriptModel(ExportedModel):
    """A TorchScript export (`torch.jit.load`); int8 exports run on the CPU only."""

    def __init__(self, model_file: Path, manifest: dict[str, Any], device: str | torch.device):
        super().__init__(manifest, device)
        if self.quantize and self.device.type != "cpu":
            log.warning("int8 TorchScript models run on the CPU only; ignoring device %s", self.device)
            self._device = torch.device("cpu")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)  # torch.jit is deprecated, still works
                self.module = torch.jit.load(str(model_file), map_location=self.device).eval()
        except Exception as e:  # noqa: BLE001
            raise ExportError(
                f"{model_file}: torch.jit.load cannot read it ({e}); re-export the model"
            ) from e

    def _run(self, waveforms: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.module(waveforms.to(self.device), lengths.to(self.device))


class EagerInt8Model(ExportedModel):
    """The eager recognizer with torch dynamic int8 LSTM/Linear layers, in memory (benchmarks, tests)."""

    def __init__(self, recognizer: SpeechRecognizer) -> None:
        manifest = {
            "features": recognizer.feature_config.to_dict(),
            "model": recognizer.model_config.to_dict(),
            "vocab": recognizer.vocab.to_dict(),
            "frame_shift_s": recognizer.frame_shift_s,
            "backend": "eager",
            "quantize": "int8",
            "metadata": dict(recognizer.metadata),
        }
        super().__init__(manifest, "cpu")
        self.module = quantize_int8(recognizer)

    @torch.no_grad()
    def __call__(self, waveforms: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.module(waveforms.cpu(), lengths.cpu())
