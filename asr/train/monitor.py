"""What a training run shows about itself: metrics.csv, TensorBoard events and PNG curves (rank 0 only)."""

from __future__ import annotations

import csv
import logging
import time
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


class Monitor:
    """Records scalars to `out_dir/metrics.csv` (every value, appended across resumes), to TensorBoard
    event files under `out_dir/tensorboard/` when enabled and installed, and redraws
    `out_dir/curves.png` (train loss; dev WER/CER) on `plot()`. A disabled monitor does nothing."""

    def __init__(
        self, out_dir: str | Path, enabled: bool = True, tensorboard: bool = True, append: bool = True
    ) -> None:
        self.out_dir = Path(out_dir)
        self.enabled = enabled
        self.writer: Any = None
        self.csv_path = self.out_dir / "metrics.csv"
        self.plot_path = self.out_dir / "curves.png"
        if not enabled:
            return
        new = not append or not self.csv_path.exists()  # a new run starts a new file; a resumed one appends
        self._csv_file = self.csv_path.open("w" if new else "a", newline="", encoding="utf-8")
        self._csv = csv.writer(self._csv_file)
        if new:
            self._csv.writerow(["wall_time", "step", "name", "value"])
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:  # tensorboard is optional
                log.warning(
                    "tensorboard is not installed; writing metrics.csv only (pip install 'asr-blstm[train]')"
                )
            else:
                self.writer = SummaryWriter(str(self.out_dir / "tensorboard"))

    def log(self, step: int, values: dict[str, float]) -> None:
        if not self.enabled:
            return
        now = time.time()
        for name, value in values.items():
            self._csv.writerow([f"{now:.3f}", step, name, f"{float(value):.6g}"])
            if self.writer is not None:
                self.writer.add_scalar(name, float(value), step, walltime=now)
        self._csv_file.flush()

    def read(self) -> dict[str, list[tuple[int, float]]]:
        """Every logged series, by name: [(step, value)] in logging order (the last value of a step wins)."""
        series: dict[str, dict[int, float]] = {}
        if not self.csv_path.exists():
            return {}
        with self.csv_path.open(encoding="utf-8") as f:
            for row in csv.DictReader(f):
                series.setdefault(row["name"], {})[int(row["step"])] = float(row["value"])
        return {name: sorted(points.items()) for name, points in series.items()}

    def plot(self) -> Path | None:
        """Redraw curves.png from metrics.csv: train loss on the left, dev WER/CER (%) on the right."""
        if not self.enabled:
            return None
        if self.writer is not None:
            self.writer.flush()
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            log.warning("matplotlib is not installed; no curves.png (pip install 'asr-blstm[train]')")
            return None
        series = self.read()
        fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
        for name, label in (("train/loss", "train loss"), ("train/epoch_loss", "epoch mean")):
            if series.get(name):
                steps, values = zip(*series[name])
                left.plot(steps, values, label=label, marker="o" if name.endswith("epoch_loss") else None)
        left.set_xlabel("step")
        left.set_ylabel("CTC loss")
        if left.lines:
            left.set_yscale("log")
            left.legend()
        left.grid(alpha=0.3)
        for name in ("dev/wer", "dev/cer"):
            if series.get(name):
                steps, values = zip(*series[name])
                right.plot(steps, [100 * v for v in values], marker="o", label=name)
        right.set_xlabel("step")
        right.set_ylabel("error rate (%)")
        if right.lines:
            right.legend()
        right.grid(alpha=0.3)
        fig.tight_layout()
        tmp = self.plot_path.with_suffix(".tmp.png")
        fig.savefig(tmp, dpi=90)
        plt.close(fig)
        tmp.replace(self.plot_path)
        return self.plot_path

    def close(self) -> None:
        if not self.enabled:
            return
        if self.writer is not None:
            self.writer.close()
        self._csv_file.close()
