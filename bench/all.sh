#!/usr/bin/env bash
# Every benchmark, one command: the core comparison (bench/core.sh: one espeak-ng process over
# the text; one process per paragraph with xargs + sox; aloud with espeak-ng; aloud with the
# mock; peak RSS on a book of about eight hours) and the batch runs (bench/batch.sh: cold, warm
# and one-edit reruns of a 200-article folder; parallel efficiency with a 50 ms mock engine).
# Prints one Markdown report. With --update-readme, also replaces the measured part of the
# README's performance section (between the bench:begin and bench:end markers) with it.
#
# Usage: bench/all.sh [--update-readme] [--jobs "1 2 4 8 16"]
# Needs espeak-ng, libespeak-ng1, sox and GNU time (apt-get install espeak-ng sox time); takes about ten
# minutes on 2 cores.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
UPDATE=no
JOBS="1 $(nproc)"
while [ $# -gt 0 ]; do
  case "$1" in
    --update-readme) UPDATE=yes ;;
    --jobs) JOBS=$2; shift ;;
    *) echo "usage: bench/all.sh [--update-readme] [--jobs \"1 2 4\"]" >&2; exit 2 ;;
  esac
  shift
done
[ "$JOBS" = "1 1" ] && JOBS=1

# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
REPORT=$(mktemp)
trap 'rm -f "$REPORT"' EXIT
{
  echo "Measured on $(date -u +%Y-%m-%d) with \`bench/all.sh\`: $(machine)."
  echo
  echo "#### One long article"
  echo
  "$ROOT/bench/core.sh" 2000 3
  echo
  echo "#### A folder of articles"
  echo
  # shellcheck disable=SC2086
  "$ROOT/bench/batch.sh" 200 30 $JOBS
} | tee "$REPORT"

if [ "$UPDATE" = yes ]; then
  python3 - "$ROOT/README.md" "$REPORT" <<'PY'
import sys
readme, report = sys.argv[1], open(sys.argv[2]).read().strip()
text = open(readme).read()
begin, end = "<!-- bench:begin -->", "<!-- bench:end -->"
a, b = text.index(begin) + len(begin), text.index(end)
open(readme, "w").write(text[:a] + "\n" + report + "\n" + text[b:])
print("README.md updated", file=sys.stderr)
PY
fi
