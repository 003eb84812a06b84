#!/usr/bin/env bash
# Install the text-to-speech engines of the multi-engine synthetic corpus (recipes/synthetic/README.md).
#
#   recipes/synthetic/install_engines.sh            # Debian packages (needs root or sudo) + nothing else
#
# MBROLA, SVOX Pico, RHVoice and the Festival MBROLA voices live in Debian's contrib and non-free
# components. They are enabled visibly, in a sources file of our own
# (/etc/apt/sources.list.d/asr-contrib-non-free.sources) that copies the URIs and suites of the system's
# Debian entries with "Components: contrib non-free"; the system's own sources file is never edited.
# Re-running installs only what is missing. Piper (neural) comes from PyPI: the `synth` extra.
set -euo pipefail

packages=(
  espeak-ng sox
  mbrola mbrola-us1 mbrola-us2 mbrola-us3 mbrola-en1
  festival festlex-cmu festvox-us1 festvox-us2 festvox-us3 festvox-en1 festvox-rablpc16k
  libttspico-utils
  rhvoice rhvoice-english
)
sudo=""
[ "$(id -u)" = 0 ] || sudo=sudo

missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
[ ${#missing[@]} -eq 0 ] && exit 0
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
