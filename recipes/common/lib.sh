# What every recipes/<corpus>/run.sh shares: its command line and the functions its stages call. A run.sh
# sets `recipe=NAME` (and `options="corpus-dir mirror"` for flags of its own), sources this file, calls
# `parse_args "$@"`, then lists its stages inline:
#     if in_stage 2; then word_lm 3; fi
#
# parse_args handles --stage N, --stop-stage M, --config FILE, --jobs N and each name in $options
# (--corpus-dir DIR sets corpus_dir), and sets: stage, stop_stage, config (default
# recipes/$recipe/config.toml), jobs (default 2), py, asr, data (the folder of [train] train_manifest),
# exp ([train] out_dir), dev ([train] dev_manifest), config_hash. Values come from `asr config get`, so
# a config is read the way `asr train` reads it.

log() { echo "[$(date +%H:%M:%S)] $*"; }

# true when stage N is to run (--stage <= N <= --stop-stage)
in_stage() { [ "$stage" -le "$1" ] && [ "$stop_stage" -ge "$1" ]; }

# the value of each section.key[=default] of $config, one per line
config_get() { $asr config get --config "$config" "$@"; }

parse_args() {
  stage=0
  stop_stage=5
  config=recipes/$recipe/config.toml
  jobs=${jobs:-2}
  local option name
  for option in ${options:-}; do
    declare -g "${option//-/_}="
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
          *" $name "*) declare -g "${name//-/_}=$2"; shift 2 ;;
          *) echo "unknown option: $1" >&2; exit 2 ;;
        esac ;;
      *) echo "unknown option: $1" >&2; exit 2 ;;
    esac
  done
  py=${PYTHON:-.venv/bin/python}
  asr=${ASR:-.venv/bin/asr}
  local values
  values=$(config_get train.train_manifest train.out_dir train.dev_manifest)
  { read -r data; read -r exp; read -r dev; } <<< "$values"
  data=$(dirname "$data")
  config_hash=$(sha256sum "$config" | cut -c1-16)
  mkdir -p "$exp"
  start=$(date +%s)
}

# download_unless MARKER WHAT: recipes/$recipe/prepare.py download into $data (with --mirror), skipped
# when MARKER (a file of the extracted corpus) exists
download_unless() {
  if [ -e "$1" ]; then
    log "stage 0: $(dirname "$1") is there, skipping the download"
  else
    log "stage 0: download $2 into $data (resumable; re-run after an interruption)"
    $py "recipes/$recipe/prepare.py" --config "$config" download --dir "$data" ${mirror:+--mirror "$mirror"}
  fi
}

# prepare_manifests CORPUS_DIR: recipes/$recipe/prepare.py prepare: CORPUS_DIR → manifests in $data
prepare_manifests() {
  log "stage 1: manifests from $1 into $data"
  $py "recipes/$recipe/prepare.py" --config "$config" prepare --corpus-dir "$1" --out "$data" --jobs "$jobs"
}

# word_lm ORDER: word ORDER-gram KenLM from $data/train_text.txt → $data/lmORDER.bin (skipped when newer)
word_lm() {
  local order=$1 lm="$data/lm$1.bin"
  if [ -f "$lm" ] && [ "$lm" -nt "$data/train_text.txt" ]; then
    log "stage 2: $lm is up to date, skipping"
  else
    log "stage 2: word $order-gram from $data/train_text.txt"
    make -s lm-tools
    $asr lm build --text "$data/train_text.txt" --order "$order" -o "$lm"
  fi
}

# train_model: asr train --resume (skipped when $exp/best.pt is up to date for this config)
train_model() {
  local marker="$exp/.train.done"
  if [ -f "$marker" ] && [ "$(cat "$marker")" = "$config_hash" ] && [ -f "$exp/best.pt" ]; then
    log "stage 3: $exp/best.pt is up to date for $config, skipping training"
  else
    log "stage 3: train (resumes if interrupted)"
    $asr train --config "$config" --resume
    echo "$config_hash" > "$marker"
  fi
}

# evaluate_sets LM DEV TEST...: each $data/TEST.jsonl greedy (and beam without LM when $beam_size is
# set), then, when LM exists, lm_weight/word_score tuned on DEV and each TEST with beam + LM.
# skip_missing_tests=1: a TEST without a manifest is skipped instead of failing the run.
evaluate_sets() {
  local lm=$1 dev_manifest=$2 test tests=()
  shift 2
  for test in "$@"; do
    if [ -f "$data/$test.jsonl" ] || [ -z "${skip_missing_tests:-}" ]; then
      tests+=("$test")
    fi
  done
  for test in "${tests[@]}"; do
    log "stage 4: evaluate on $test (greedy)"
    $asr evaluate --model "$exp/best.pt" --manifest "$data/$test.jsonl" --name "$test"
    if [ -n "${beam_size:-}" ]; then
      $asr evaluate --model "$exp/best.pt" --manifest "$data/$test.jsonl" --name "$test-beam" --beam-size "$beam_size"
    fi
  done
  if [ -f "$lm" ]; then
    if [ ! -f "$exp/decoder-tuned.json" ] || [ "$exp/best.pt" -nt "$exp/decoder-tuned.json" ]; then
      log "stage 4: tune lm_weight / word_score on $dev_manifest"
      $asr lm tune --model "$exp/best.pt" --manifest "$dev_manifest" --lm "$lm" -o "$exp/decoder-tuned.json"
    fi
    for test in "${tests[@]}"; do
      $asr evaluate --model "$exp/best.pt" --manifest "$data/$test.jsonl" --name "$test-beam-lm" \
        --decoder-config "$exp/decoder-tuned.json"
    done
  fi
}

# transcribe_first MANIFEST [COUNT]: asr transcribe the first COUNT (3) files of MANIFEST as a user would:
# with the weights stage 4 tuned for the LM ($exp/decoder-tuned.json) when there are some, else the
# model's own default (a decoder.json beside it, or greedy); each reference beside its transcript. `finish`
# then ends the run with the summary of this test split.
transcribe_first() {
  local manifest=$1 count=${2:-3}
  decoder_args=()
  if [ -f "$exp/decoder-tuned.json" ]; then
    decoder_args=(--decoder-config "$exp/decoder-tuned.json")
  fi
  log "stage 5: $asr transcribe --model $exp/best.pt ${decoder_args[*]} <the first $count files of $manifest>"
  $py recipes/common/show_results.py transcripts --manifest "$manifest" --count "$count" -- \
    $asr transcribe --quiet --model "$exp/best.pt" "${decoder_args[@]}"
  summary_test=$(basename "$manifest" .jsonl)
}

# finish: after stage 5, the summary (greedy / beam / beam + LM WER and CER of its test split, the time
# taken, where the model and reports are, the command to try next); otherwise the time taken
finish() {
  local seconds=$(( $(date +%s) - start ))
  if [ -n "${summary_test:-}" ]; then
    $py recipes/common/show_results.py summary --exp "$exp" --test "$summary_test" --seconds "$seconds" \
      --model "$exp/best.pt" ${decoder_args[1]:+--decoder-config "${decoder_args[1]}"} --asr "$asr"
  else
    log "done in $seconds s"
  fi
}
