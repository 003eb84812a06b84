# The stages of the downloadable corpus recipes whose run.sh is otherwise alike (an4, ljspeech,
# tedlium3): 0 download, 1 prepare, then stages_lm_train_eval.sh's 2-5. Sourced by their run.sh as
#   recipe=NAME corpus_subdir=FOLDER download_marker=FILE corpus_name=NAME
#   source recipes/common/corpus_run.sh "$@"
# download_marker: a file of the extracted corpus (under $corpus_dir): when it exists, stage 0 skips.
options="corpus-dir mirror"
source recipes/common/setup.sh "$@"
source recipes/common/stages.sh
if in_stage 0; then stage_download "$corpus_dir/$download_marker" "$corpus_name"; fi
if in_stage 1; then stage_prepare; fi
source recipes/common/stages_lm_train_eval.sh
