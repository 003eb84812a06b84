# Options and settings shared by the downloadable-corpus recipes whose run.sh is otherwise alike (an4,
# ljspeech, tedlium3). Sourced by their run.sh, from the repository root, as
#   recipe=NAME corpus_subdir=FOLDER; source recipes/common/corpus_recipe_setup.sh "$@"
# It parses --stage --stop-stage --config --corpus-dir --mirror --jobs and sets: stage, stop_stage,
# config, corpus_dir (default $data/$corpus_subdir), mirror, jobs, py, asr, data, exp, order (the
# [lm] order, default 3), config_hash, start and log(); stages_lm_train_eval.sh uses the same names.
stage=0
stop_stage=5
config=recipes/$recipe/config.toml
corpus_dir=
mirror=
jobs=2
while [ $# -gt 0 ]; do
  case "$1" in
    --stage) stage=$2; shift 2 ;;
    --stop-stage) stop_stage=$2; shift 2 ;;
    --config) config=$2; shift 2 ;;
    --corpus-dir) corpus_dir=$2; shift 2 ;;
    --mirror) mirror=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    *) echo "unknown option: $1" >&2; exit 2 ;;
  esac
done

py=${PYTHON:-.venv/bin/python}
asr=${ASR:-.venv/bin/asr}
read -r data exp order < <($py -c "
import sys, pathlib
from asr.config import load_toml
from asr.train.config import load_run_config
train = load_run_config(sys.argv[1]).train
print(pathlib.Path(train.train_manifest).parent, train.out_dir, load_toml(sys.argv[1]).get('lm', {}).get('order', 3))" "$config")
corpus_dir=${corpus_dir:-$data/$corpus_subdir}
config_hash=$(sha256sum "$config" | cut -c1-16)
mkdir -p "$exp"
log() { echo "[$(date +%H:%M:%S)] $*"; }
start=$(date +%s)
