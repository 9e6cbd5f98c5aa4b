#!/bin/sh
# Installs the Debian packages the test suite needs when they are missing: tshark (the capture
# tests read our pcapng files with it) and chromium (the web page is tested in it). Idempotent: does nothing when every tool is there. Runs
# apt-get only as root, or with sudo when CI=true; otherwise it names what to install and fails.
set -eu

missing=""
command -v tshark >/dev/null 2>&1 || missing="$missing tshark"
command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
[ -z "$missing" ] && exit 0

if [ "$(id -u)" = 0 ]; then
  sudo=""
elif [ "${CI:-}" = true ] && command -v sudo >/dev/null 2>&1; then
  sudo="sudo -n"
else
  echo "ensure-apt: missing:$missing; install with: apt-get install --no-install-recommends$missing" >&2
  exit 1
fi

# tshark's postinst asks whether non-root users may capture: take the default (no) unasked.
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends $missing
