# What every recipe's run.sh starts with. Sourced from the repository root, as
#   recipe=NAME options="corpus-dir mirror" corpus_subdir=FOLDER jobs=2; source recipes/common/setup.sh "$@"
# It parses --stage --stop-stage --config --jobs and the recipe's own `options` (each --name VALUE sets
# the variable name, dashes as underscores: --corpus-dir sets corpus_dir), and sets: stage, stop_stage,
# config (default recipes/$recipe/config.toml), jobs (default 2), py, asr, data (the folder of
# [train] train_manifest), exp ([train] out_dir), dev ([train] dev_manifest), order (the [lm] order,
# default 3), corpus_dir (default $data/$corpus_subdir when corpus_subdir is set), given_corpus (the
# --corpus-dir given, if any), config_hash, start and log(); stages.sh uses the same names.
stage=0
stop_stage=5
config=recipes/$recipe/config.toml
jobs=${jobs:-2}
for option in ${options:-}; do
  declare "${option//-/_}="
done
while [ $# -gt 0 ]; do
  case "$1" in
    --stage) stage=$2; shift 2 ;;
    --stop-stage) stop_stage=$2; shift 2 ;;
    --config) config=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --*)
      name=${1#--}
      case " ${options:-} " in
        *" $name "*) declare "${name//-/_}=$2"; shift 2 ;;
        *) echo "unknown option: $1" >&2; exit 2 ;;
      esac ;;
    *) echo "unknown option: $1" >&2; exit 2 ;;
  esac
done

py=${PYTHON:-.venv/bin/python}
asr=${ASR:-.venv/bin/asr}
# The corpus folder, the experiment folder, the dev manifest and the LM order all come from the config.
read -r data exp dev order < <($py -c "
import sys, pathlib
from asr.config import load_toml
from asr.train.config import load_run_config
train = load_run_config(sys.argv[1]).train
order = load_toml(sys.argv[1]).get('lm', {}).get('order', 3)
print(pathlib.Path(train.train_manifest).parent, train.out_dir, train.dev_manifest, order)" "$config")
given_corpus=${corpus_dir:-}
if [ -n "${corpus_subdir:-}" ]; then
  corpus_dir=${corpus_dir:-$data/$corpus_subdir}
fi
config_hash=$(sha256sum "$config" | cut -c1-16)
mkdir -p "$exp"
log() { echo "[$(date +%H:%M:%S)] $*"; }
start=$(date +%s)
