#!/usr/bin/env bash
# Screenshots of the real console (issue 4): builds gavel, runs `gavel console` in a detached
# tmux session at 120×35 on a temporary database, posts the demo signals to it, approves one
# remediation, then captures the screen (with colours) and renders it to PNG:
#   screenshots/pending.png        pending view, the ban of 203.0.113.42 (2 signals) in the detail pane
#   screenshots/rules.png          rules view (3), the rule with a dispatched remediation selected
#   screenshots/help.png           help overlay (?) over the pending view
#   screenshots/pending-80x24.png  pending view after resizing the terminal to 80×24
#   screenshots/pending-160x40.png pending view at 160×40, where the detail pane sits right of the list
#   screenshots/in-force.png       in force view (6): the approved ban counting down to its revert (4h)
#   screenshots/two-person.png     the security-group deletion after alice's approval: 1 of 2, and a note
# Usage: scripts/screenshots.sh [OUT_DIR]   (default: screenshots/; `make screenshots`)
# Needs tmux, Python 3 with Pillow and DejaVu Sans Mono; installs the Debian packages
# (tmux, python3-pil, fonts-dejavu-core) when missing and allowed (root or sudo -n).
# Stops only what it started: its own tmux server (private socket) and the console in it.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/screenshots}
gavel=$root/.build/debug/gavel
cols=120 rows=35

log() { printf 'screenshots: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

# --- dependencies -------------------------------------------------------------------------
install_debian() {  # install_debian PKG...
  local cmd="apt-get update && apt-get install -y --no-install-recommends $*"
  if [ "$(id -u)" -eq 0 ]; then
    log "installing: $*"
    DEBIAN_FRONTEND=noninteractive sh -c "$cmd" >/dev/null
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    log "installing with sudo: $*"
    sudo env DEBIAN_FRONTEND=noninteractive sh -c "$cmd" >/dev/null
  else
    return 1
  fi
}

check_deps() {  # sets need (missing Debian packages) and python (one with Pillow)
  need=() python=
  command -v tmux >/dev/null 2>&1 || need+=(tmux)
  [ -f /usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf ] || fc-list 2>/dev/null | grep -q 'DejaVuSansMono\.ttf' \
    || need+=(fonts-dejavu-core)
  for py in python3 /usr/bin/python3; do
    if command -v "$py" >/dev/null 2>&1 && "$py" -c 'import PIL' 2>/dev/null; then python=$(command -v "$py"); break; fi
  done
  [ -n "$python" ] || need+=(python3-pil)
}
check_deps
if [ ${#need[@]} -gt 0 ]; then install_debian "${need[@]}" || true; check_deps; fi
if [ -z "$python" ] && command -v python3 >/dev/null 2>&1; then
  log "installing Pillow with pip (--user)"
  python3 -m pip install --user -q Pillow >&2 || true
  check_deps
fi
[ ${#need[@]} -eq 0 ] || die "missing: ${need[*]} (install with: sudo apt-get install ${need[*]})"

log "building gavel (debug)"
(cd "$root" && scripts/ensure-deps.sh build && swift build) >&2

# --- the console in a private tmux server --------------------------------------------------
tmp=$(mktemp -d "${TMPDIR:-/tmp}/gavel-demo.XXXXXX")
sock=gavel-shots-$$
session=shots
socket=
tmx() { tmux -u -L "$sock" "$@"; }  # -u: UTF-8 whatever the caller's locale
cleanup() {
  if tmx has-session -t "$session" 2>/dev/null; then
    tmx send-keys -t "$session" Escape Escape q 2>/dev/null || true
    for _ in $(seq 50); do tmx has-session -t "$session" 2>/dev/null || break; sleep 0.1; done
    tmx kill-session -t "$session" 2>/dev/null || true
  fi
  tmx kill-server 2>/dev/null || true
  [ -z "$socket" ] || rm -f "$socket"
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

printf 'set -g status off\n' > "$tmp/tmux.conf"
# Bans last 4 hours and are reverted through the outbox, so the In force view has a countdown.
printf '{"actions": {"ban-ip": {"duration": "4h", "revert": {"outbox": {}}}}}\n' > "$tmp/gavel.json"
# cd to the temporary folder so no ./gavel.json is picked up; built-in defaults: outbox actions there.
tmx -f "$tmp/tmux.conf" new-session -d -s "$session" -x "$cols" -y "$rows" \
  "cd '$tmp' && exec env -u GAVEL_TOKEN -u GAVEL_CONFIG -u GAVEL_DB LANG=C.UTF-8 TERM=xterm-256color \
   GAVEL_ANALYST=bob '$gavel' console --listen 127.0.0.1:0 --db '$tmp/gavel.db' --config '$tmp/gavel.json' 2>'$tmp/console.err'"

socket=$(tmx display -p -t "$session" '#{socket_path}' 2>/dev/null || true)

screen() { tmx capture-pane -p -t "$session"; }
# wait_for REGEX [WHAT]: polls the screen (50 ms) until an extended regex matches, up to 15 s.
wait_for() {
  local deadline=$((SECONDS + 15))
  until screen 2>/dev/null | grep -Eq -- "$1"; do
    if [ $SECONDS -ge $deadline ] || ! tmx has-session -t "$session" 2>/dev/null; then
      log "timed out waiting for ${2:-$1}; last screen:"; screen >&2 || cat "$tmp/console.err" >&2; exit 1
    fi
    sleep 0.05
  done
}
keys() { tmx send-keys -t "$session" "$@"; }
# select_row REGEX: moves the list selection until the detail pane's first line matches: the line
# under `── detail` (stacked, below 150 columns), else right of the divider on the fourth row.
detail_line() { screen | awk 'below { print; exit } /^── detail/ { below = 1 } END { if (!below) exit 1 }' || screen | sed -n 4p; }
select_row() {
  local line next
  keys g
  sleep 0.2
  for _ in $(seq 40); do
    line=$(detail_line)
    if grep -Eq -- "(^|│) $1" <<<"$line"; then return 0; fi
    keys j
    for _ in $(seq 40); do next=$(detail_line); [ "$next" = "$line" ] || break; sleep 0.05; done
    [ "$next" != "$line" ] || break  # the end of the list
  done
  log "no row whose detail starts with: $1"; screen >&2; exit 1
}
capture() {  # capture NAME: once the screen is steady, with its SGR attributes and trailing cells
  local a b deadline=$((SECONDS + 5))
  a=$(tmx capture-pane -p -e -N -t "$session")
  while :; do
    sleep 0.1
    b=$(tmx capture-pane -p -e -N -t "$session")
    [ "$a" != "$b" ] && [ $SECONDS -lt $deadline ] || break
    a=$b
  done
  printf '%s\n' "$b" > "$tmp/$1.ans"
}

wait_for 'http://127\.0\.0\.1:[0-9]+' "the console's header"
port=$(screen | grep -Eo 'http://127\.0\.0\.1:[0-9]+' | head -1 | sed 's/.*://')
log "console listening on 127.0.0.1:$port; posting the demo signals"
(cd "$tmp" && env -u GAVEL_TOKEN -u GAVEL_CONFIG "$gavel" demo --to "http://127.0.0.1:$port") >&2
wait_for 'pending 10 .*suppressed 1' "the demo's 10 remediations"
wait_for 'ban-ip +203\.0\.113\.200' "the last demo signal's row"

# Approve the ban of the card-testing IP (no confirmation needed), so counts show a dispatch.
select_row '#[0-9]+ ban-ip 203\.0\.113\.200 '
keys a
wait_for 'in force 1' "the dispatch of the approved ban"

select_row '#[0-9]+ ban-ip 203\.0\.113\.42 '
wait_for 'signals \(2\)' "the two signals of 203.0.113.42 in the detail pane"
capture pending

keys 3
wait_for 'MODE +RULE' "the rules view"
select_row 'Fraudulent Credit Card Authorizations'
wait_for '(^|│) pending [0-9]+ · dispatched 1' "the selected rule's dispatched count"
capture rules

keys 1
wait_for 'SEV +ID' "the pending view"
keys '?'
wait_for 'Esc/\? close help' "the help overlay"
capture help

keys Escape
wait_for 'SEV +ID' "the pending view"
keys 6
wait_for 'left' "the in force view"
capture in-force

# alice approves the security-group deletion from her shell and leaves a note; bob's console shows it.
keys 1
wait_for 'SEV +ID' "the pending view"
(cd "$tmp" && env -u GAVEL_TOKEN -u GAVEL_CONFIG "$gavel" approve 1 --yes --by alice --db "$tmp/gavel.db" \
  && "$gavel" note 1 "owned by the platform team; checked with them in SEC-1234" --by alice --db "$tmp/gavel.db") >&2
select_row '#1 delete-security-group '
wait_for '1 of 2 approvals \(alice' "alice's approval in the detail pane"
wait_for 'alice: owned by the platform team' "alice's note"
capture two-person

tmx resize-window -t "$session" -x 80 -y 24
[ "$(tmx display -p -t "$session" '#{pane_width}x#{pane_height}')" = 80x24 ] || die "the pane did not resize to 80×24"
# The header's clock ends the first row again once the console has redrawn at the new width.
wait_for '^gavel .*[0-9]{2}:[0-9]{2}:[0-9]{2}Z *$' "a redraw at 80×24"
wait_for '── detail' "the stacked layout at 80×24"
capture pending-80x24

tmx resize-window -t "$session" -x 160 -y 40
[ "$(tmx display -p -t "$session" '#{pane_width}x#{pane_height}')" = 160x40 ] || die "the pane did not resize to 160×40"
wait_for '│ detail' "the side-by-side layout at 160×40"
capture pending-160x40

mkdir -p "$out"
"$python" "$root/scripts/ansi_to_png.py" --cols "$cols" --rows "$rows" \
  "$tmp/pending.ans" "$out/pending.png" "$tmp/rules.ans" "$out/rules.png" "$tmp/help.ans" "$out/help.png" \
  "$tmp/in-force.ans" "$out/in-force.png" "$tmp/two-person.ans" "$out/two-person.png"
"$python" "$root/scripts/ansi_to_png.py" --cols 80 --rows 24 "$tmp/pending-80x24.ans" "$out/pending-80x24.png"
"$python" "$root/scripts/ansi_to_png.py" --cols 160 --rows 40 "$tmp/pending-160x40.ans" "$out/pending-160x40.png"
