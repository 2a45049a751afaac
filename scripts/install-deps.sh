#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages given as arguments that `dpkg -s` says are absent.
# On other systems it only checks for a C compiler and says what to do (see README).
set -eu
if ! command -v dpkg >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
  command -v gcc >/dev/null 2>&1 || command -v clang >/dev/null 2>&1 || {
    echo "oncofed: no C compiler found. Fyne needs one: see README, 'macOS and Windows'." >&2; exit 1; }
  exit 0
fi
missing=()
for p in "$@"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "oncofed: installing missing system packages: ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get install -y --no-install-recommends "${missing[@]}" || {
  $sudo apt-get update -q && $sudo apt-get install -y --no-install-recommends "${missing[@]}"; }
