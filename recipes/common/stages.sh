# The stages every recipe's run.sh shares, as functions. Sourced after setup.sh (whose names they use:
# stage, stop_stage, config, config_hash, data, exp, py, asr, log).
#   in_stage N                        true when stage N is to run (--stage <= N <= --stop-stage)
#   stage_download MARKER WHAT        0: recipes/$recipe/prepare.py download into $data (with --mirror),
#                                        skipped when MARKER (a file of the extracted corpus) exists
#   stage_prepare                     1: recipes/$recipe/prepare.py prepare: $corpus_dir → $data
#   stage_word_lm ORDER               2: word ORDER-gram from $data/train_text.txt → $data/lm$ORDER.bin
#   stage_train                       3: asr train --resume (skipped when best.pt is up to date)
#   stage_evaluate LM DEV TEST...     4: each $data/TEST.jsonl greedy (and beam without LM when
#                                        beam_size is set), then, when LM exists, lm_weight/word_score
#                                        tuned on DEV and each TEST with beam + LM
#   stage_transcribe MANIFEST         5: asr transcribe the first file of MANIFEST
#   finish                            the closing "done in N s"
# skip_missing_tests=1: a TEST without a manifest is skipped instead of failing the run.

in_stage() { [ "$stage" -le "$1" ] && [ "$stop_stage" -ge "$1" ]; }

stage_download() {
  if [ -e "$1" ]; then
    log "stage 0: $corpus_dir is there, skipping the download"
  else
    log "stage 0: download $2 into $data (resumable; re-run after an interruption)"
    $py "recipes/$recipe/prepare.py" --config "$config" download --dir "$data" ${mirror:+--mirror "$mirror"}
  fi
}

stage_prepare() {
  log "stage 1: manifests from $corpus_dir into $data"
  $py "recipes/$recipe/prepare.py" --config "$config" prepare --corpus-dir "$corpus_dir" --out "$data" \
    --jobs "$jobs"
}

stage_word_lm() {
  local order=$1 lm="$data/lm$1.bin"
  if [ -f "$lm" ] && [ "$lm" -nt "$data/train_text.txt" ]; then
    log "stage 2: $lm is up to date, skipping"
  else
    log "stage 2: word $order-gram from $data/train_text.txt"
    make -s lm-tools
    $asr lm build --text "$data/train_text.txt" --order "$order" -o "$lm"
  fi
}

stage_train() {
  local marker="$exp/.train.done"
  if [ -f "$marker" ] && [ "$(cat "$marker")" = "$config_hash" ] && [ -f "$exp/best.pt" ]; then
    log "stage 3: $exp/best.pt is up to date for $config, skipping training"
  else
    log "stage 3: train (resumes if interrupted)"
    $asr train --config "$config" --resume
    echo "$config_hash" > "$marker"
  fi
}

stage_evaluate() {
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

stage_transcribe() {
  local sample audio
  sample=$($py -c "import json,sys; r=json.loads(open(sys.argv[1]).readline()); print(r['audio'] + '\t' + r['text'])" "$1")
  audio="$(dirname "$1")/${sample%%$'\t'*}"
  log "stage 5: transcribe $audio"
  echo "reference:  ${sample#*$'\t'}"
  echo "transcript: $($asr transcribe "$audio" --model "$exp/best.pt")"
}

finish() { log "done in $(( $(date +%s) - start )) s"; }
