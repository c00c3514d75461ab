#!/bin/sh
# Recomputes every hash of a gavel audit export with jq and sha256sum, independently of gavel:
#   gavel audit --export --db gavel.db | scripts/verify-audit-export.sh
# Prints "intact; head HASH" (exit 0) or names the first entry that does not match (exit 1).
prev=0000000000000000000000000000000000000000000000000000000000000000
while IFS= read -r line; do
    id=$(printf '%s' "$line" | jq -r .id)
    [ "$(printf '%s' "$line" | jq -r .previous_hash)" = "$prev" ] || { echo "entry $id: does not follow the entry before it"; exit 1; }
    prev=$(printf '%s\n%s' "$prev" "$(printf '%s' "$line" | jq -r .content)" | sha256sum | cut -c1-64)
    [ "$(printf '%s' "$line" | jq -r .hash)" = "$prev" ] || { echo "entry $id: content does not match its hash"; exit 1; }
done
echo "intact; head $prev"
