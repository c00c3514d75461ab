#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages gavel needs when they are missing.
#   scripts/ensure-deps.sh build   libsqlite3-dev, libncurses-dev, libpq-dev + pkg-config (to build and run)
#   scripts/ensure-deps.sh test    the above plus what the tests drive: tmux, curl, sqlite3, jq, and
#                                  postgresql (the server binaries the tests start a throwaway cluster from)
# As root (or with passwordless sudo) it runs apt-get; otherwise it prints the exact command.
set -euo pipefail
want=(libsqlite3-dev libncurses-dev libpq-dev pkg-config)
if [ "${1:-build}" = "test" ]; then
  want+=(tmux curl sqlite3 jq postgresql)
fi
missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ! command -v swift >/dev/null 2>&1; then
  echo "gavel needs the Swift 6 toolchain on PATH (https://www.swift.org/install/linux/)." >&2
  exit 1
fi
[ ${#missing[@]} -eq 0 ] && exit 0
cmd="apt-get update && apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -eq 0 ]; then
  echo "installing: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  echo "installing with sudo: ${missing[*]}" >&2
  sudo env DEBIAN_FRONTEND=noninteractive sh -c "$cmd"
else
  echo "gavel needs these packages: ${missing[*]}" >&2
  echo "install them with:  sudo sh -c '$cmd'" >&2
  exit 1
fi
