"""What the recipe tests share: importing a recipe's prepare.py, reading a manifest, and run.sh end to end."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]


def load_recipe(name: str) -> ModuleType:
    """Import recipes/<name>/prepare.py under a unique module name (every recipe has a prepare.py)."""
    spec = importlib.util.spec_from_file_location(
        f"recipe_{name}_prepare", ROOT / "recipes" / name / "prepare.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def read_jsonl(path: Path) -> list[dict]:
    """The rows of a JSON-lines manifest."""
    return [json.loads(line) for line in path.read_text().splitlines()]


def write_tiny_recipe_config(path: Path, tables: str, data: Path, exp: Path, **train: object) -> Path:
    """A recipe config: `tables` (TOML: [corpus], [lm] …), then a 1x32 model trained one short epoch on
    data/{train,dev}.jsonl into `exp`; `train` adds [train] keys (max_duration …)."""
    settings = {
        "train_manifest": f"{data}/train.jsonl",
        "dev_manifest": f"{data}/dev.jsonl",
        "out_dir": str(exp),
        "epochs": 1,
        **train,
    }
    lines = ["[model]", "hidden_size = 32", "num_layers = 1", "[train]"]
    lines += [f"{k} = {json.dumps(v)}" for k, v in settings.items()]
    path.write_text(tables + "\n".join(lines) + "\n")
    return path


def run_sh(recipe: str, config: Path, *args: str) -> list[str]:
    """The command line of recipes/<recipe>/run.sh with `config`."""
    return ["bash", str(ROOT / "recipes" / recipe / "run.sh"), "--config", str(config), *args]


def run_sh_env(**extra: str) -> dict[str, str]:
    """run.sh's environment: this interpreter and its `asr` script, plus `extra`."""
    return {**os.environ, "PYTHON": sys.executable, "ASR": str(Path(sys.executable).parent / "asr"), **extra}
