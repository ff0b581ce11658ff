#!/usr/bin/env bash
# The first hour, checked as a new user meets it: clone this repository afresh into a temporary
# folder, run README command 1 there (the set-up, the build into a fresh CARGO_TARGET_DIR, the
# render and the training, as one line), time it, and check that the run ends with the held-out
# judgement saying "above" for top-1 and rotation R^2.
#
#   bash bench/first_run.sh                # from a clone; the clone under test is of HEAD
#   KEEP=1 bash bench/first_run.sh         # keep the temporary folder (its path is printed)
#   LIMIT_S=720 bash bench/first_run.sh    # fail beyond this wall time (default 720 s: 12 min)
#
# Needs what README command 1 needs (Rust; scripts/setup.sh installs lavapipe and OpenMPI) and
# about 1 GB of disk for the build. It takes minutes: it is not part of `cargo test`.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
limit_s="${LIMIT_S:-720}"
work="$(mktemp -d -t first-run.XXXXXX)"
[ -n "${KEEP:-}" ] || trap 'rm -rf "$work"' EXIT
echo "first_run: cloning $repo (HEAD $(git -C "$repo" rev-parse --short HEAD)) into $work/clone" >&2
git clone -q "$repo" "$work/clone"
cd "$work/clone"
# README command 1, exactly as the README writes it (the line after the "# 1." comment block).
cmd="$(awk '/^# 1\. /{found=1} found && /^bash scripts\/setup.sh/{print; exit}' README.md)"
[ -n "$cmd" ] || { echo "first_run: README command 1 not found" >&2; exit 1; }
echo "first_run: running: $cmd" >&2
echo "first_run: load average before: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores" >&2
start=$(date +%s)
set +e
CARGO_TARGET_DIR="$work/target" bash -c "$cmd" 2>&1 | tee "$work/transcript.txt"
status=${PIPESTATUS[0]}
set -e
wall=$(($(date +%s) - start))
echo "first_run: exit status $status, wall time ${wall} s (limit ${limit_s} s); load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
fail=0
[ "$status" -eq 0 ] || { echo "first_run: FAIL: README command 1 exited $status" >&2; fail=1; }
for metric in "top-1 (whole)" "rotation R^2 (whole)"; do
  line="$(grep -F "  $metric " "$work/transcript.txt" | tail -1 || true)"
  if [[ "$line" == *": above (margin"* ]]; then
    echo "first_run: ok: $line" >&2
  else
    echo "first_run: FAIL: no held-out \"above\" for $metric: ${line:-no such line}" >&2
    fail=1
  fi
done
[ "$wall" -le "$limit_s" ] || { echo "first_run: FAIL: ${wall} s is over ${limit_s} s" >&2; fail=1; }
[ "$fail" -eq 0 ] && echo "first_run: PASS in ${wall} s" >&2
exit "$fail"
