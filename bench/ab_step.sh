#!/usr/bin/env bash
# A/B of two builds of `bench_step` in one sitting: for each shape and thread count, ROUNDS rounds
# that alternate A and B (A B, then B A, ...) so that drift in the machine's load hits both
# alike; prints each run and, per shape, the median images/s of A and of B and their ratio.
#
#   bash bench/ab_step.sh OLD/bench_step NEW/bench_step
#
# Build the A side from an older commit with e.g. `git worktree add /tmp/old <commit>` and
# `cargo build --release -p trainer --bin bench_step` there. Env: SHAPES (default "resnet18 main",
# the shapes of bench/train_step.sh), THREADS (default "2 1"), ROUNDS (default 4), STEPS (7).
set -euo pipefail
A=${1:?usage: ab_step.sh A/bench_step B/bench_step}
B=${2:?usage: ab_step.sh A/bench_step B/bench_step}
SHAPES=${SHAPES:-resnet18 main}
THREADS=${THREADS:-2 1}
ROUNDS=${ROUNDS:-4}
STEPS=${STEPS:-7}

flags() {
    case $1 in
        resnet18) echo "--arch resnet18 --resolution 64 --batch-size 32 --mlp 2048-2048-2048" ;;
        main) echo "--arch resnet-small --resolution 64 --batch-size 64" ;;
        *) echo "unknown shape $1" >&2; exit 2 ;;
    esac
}

# images/s of one run of binary $1 on shape $2 with $3 threads.
rate() {
    read -ra f <<<"$(flags "$2")"
    RAYON_NUM_THREADS=$3 "$1" --warmup 2 --steps "$STEPS" -- "${f[@]}" 2>/dev/null |
        sed -n 's/.* \([0-9.]*\) images\/s.*/\1/p'
}

median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

for shape in $SHAPES; do
    for threads in $THREADS; do
        a_rates=() b_rates=()
        for round in $(seq "$ROUNDS"); do
            if [ $((round % 2)) = 1 ]; then order="A B"; else order="B A"; fi
            for side in $order; do
                bin=$A; [ "$side" = B ] && bin=$B
                r=$(rate "$bin" "$shape" "$threads")
                echo "$shape $threads threads, round $round, $side: $r images/s (load $(cut -d' ' -f1 /proc/loadavg))"
                if [ "$side" = A ]; then a_rates+=("$r"); else b_rates+=("$r"); fi
            done
        done
        ma=$(printf '%s\n' "${a_rates[@]}" | median)
        mb=$(printf '%s\n' "${b_rates[@]}" | median)
        echo "== $shape, $threads threads: A median $ma, B median $mb images/s, B/A $(awk -v a="$ma" -v b="$mb" 'BEGIN {printf "%.3f", b / a}')"
    done
done
