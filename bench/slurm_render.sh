#!/bin/bash
# A real SLURM cluster of one machine renders a job as an array of shards (scripts/slurm/), one
# array task is requeued mid-run, the merge job runs after the array, and the result must be
# byte-identical, file for file, to the same job rendered by one `render` process.
#
#   bash bench/slurm_render.sh            # prints the elapsed time and PASS or FAIL
#
# Not part of CI: it installs Debian's slurm-wlm (apt-get, with sudo unless root) and starts
# slurmctld and slurmd itself (no systemd, no cgroups: proctrack/linuxproc, task/none,
# auth/none), on ports SLURM_BENCH_PORT and +1 (default 16817), stopped again on exit.
# Knobs: SHARDS (4), JOB (the render arguments of the job), RENDER (the binary; default: a
# release build of this checkout), KEEP=1 keeps the work folder.

set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
SHARDS=${SHARDS:-4}
# 12 classes x 6 objects x 10 views at 128 px with masks: 720 images, long enough per shard for a
# requeue to land mid-shard, short enough for a minute or two on two cores.
read -r -a job <<<"${JOB:---per-class 6 --views 10 --image-size 128 --mask}"
port=${SLURM_BENCH_PORT:-16817}
start=$(date +%s)
since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

sudo=()
[[ $(id -u) == 0 ]] || sudo=(sudo)
if ! command -v slurmctld >/dev/null || ! command -v sbatch >/dev/null; then
    "${sudo[@]}" apt-get install -y slurm-wlm >/dev/null ||
        { "${sudo[@]}" apt-get update >/dev/null && "${sudo[@]}" apt-get install -y slurm-wlm >/dev/null; }
fi
if [[ -z ${RENDER:-} ]]; then
    (cd "$repo" && cargo build --release -p renderer --quiet)
    RENDER=${CARGO_TARGET_DIR:-$repo/target}/release/render
fi
export RENDER

work=$(mktemp -d /tmp/slurm-render.XXXXXX)
export SLURM_CONF=$work/slurm.conf
stop_cluster() {
    scontrol shutdown >/dev/null 2>&1 || true
    for pid_file in "$work/slurmd.pid" "$work/slurmctld.pid"; do
        if [[ -f $pid_file ]]; then "${sudo[@]}" kill "$(cat "$pid_file")" 2>/dev/null || true; fi
    done
    if [[ ${KEEP:-0} == 1 ]]; then echo "work folder kept: $work"; else rm -rf "$work"; fi
}
trap stop_cluster EXIT

# The cluster: this machine as its only node, root as SlurmUser (a container has no slurm
# daemon account set up), no accounting.
mkdir -p "$work/spool" "$work/state" "$work/log"
cat >"$SLURM_CONF" <<EOF
ClusterName=bench
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/none
CredType=cred/none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
ReturnToService=2
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmdSpoolDir=$work/spool
StateSaveLocation=$work/state
SlurmctldLogFile=$work/log/slurmctld.log
SlurmdLogFile=$work/log/slurmd.log
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
NodeName=localhost CPUs=$(nproc) State=UNKNOWN
PartitionName=bench Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
"${sudo[@]}" slurmctld -f "$SLURM_CONF"
"${sudo[@]}" slurmd -f "$SLURM_CONF" -N localhost
for _ in $(seq 100); do
    sinfo -h -o %T 2>/dev/null | grep -q idle && break
    sleep 0.2
done
sinfo -h -o %T | grep -q idle || { echo "FAIL: the node did not come up; see $work/log" >&2; KEEP=1; exit 1; }

# The same job by one process, the reference bytes.
echo "one process: $RENDER ${job[*]}"
one_start=$(date +%s.%N)
"$RENDER" "${job[@]}" --out "$work/one" --library "$work/library" >"$work/one.log" 2>&1
one_seconds=$(since "$one_start")

# The array (one core per task: both run at once here), then the merge after it.
out=$work/sharded
cd "$work"
slurm_start=$(date +%s.%N)
submitted=$(SBATCH_ARGS="--cpus-per-task=1" "$repo/scripts/slurm/submit-render.sh" "$SHARDS" "${job[@]}" --out "$out")
echo "$submitted"
array=$(echo "$submitted" | sed -n 's/^render array job \([0-9]*\) .*/\1/p')
merge=$(echo "$submitted" | sed -n 's/.*merge job \([0-9]*\):.*/\1/p')

# Requeue shard 0 once its first view is on disk: its second run must finish the shard, skipping
# what the first wrote. (shards/0-of-N.json lists the shard's objects before the first image.)
shard0=$out/shards/0-of-$SHARDS.json
first=""
for _ in $(seq 600); do
    [[ -f $shard0 ]] && first=$(grep -m1 -o '"[0-9]\{8\}/[0-9a-f]\{32\}"' "$shard0" | tr -d '"') && break
    sleep 0.05
done
[[ -n $first ]] || { echo "FAIL: $shard0 never appeared" >&2; KEEP=1; exit 1; }
for _ in $(seq 2000); do
    [[ -f $out/$first/latent_0.npy ]] && break
    sleep 0.01
done
scontrol requeue "${array}_0"
echo "requeued array task ${array}_0 after $out/$first/latent_0.npy appeared"
# SLURM holds a requeued job back for a while (its BeginTime moves about 3 minutes ahead here);
# a preempted task on a cluster waits the same. Let it start as soon as it is pending again.
for _ in $(seq 100); do
    squeue -h -t PD -j "${array}_0" 2>/dev/null | grep -q . && break
    sleep 0.1
done
scontrol update JobId="${array}_0" StartTime=now

# Wait for the merge (it runs once every array task has ended).
while squeue -h -j "$array,$merge" 2>/dev/null | grep -q .; do sleep 0.5; done
slurm_seconds=$(since "$slurm_start")
merge_state=$(scontrol show job "$merge" | grep -o 'JobState=[A-Z]*' || echo "JobState=?")

status=PASS
fail() {
    echo "FAIL: $*" >&2
    status=FAIL
}
[[ $merge_state == JobState=COMPLETED ]] || fail "merge job $merge: $merge_state; $(cat "$work"/render-merge-*.log 2>/dev/null)"
log0=$work/render-${array}_0.log
grep -q "restart 1" "$log0" || fail "array task 0 was not restarted by the requeue: $(cat "$log0")"
# The rerun's summary: "... rendered R images, skipped S complete, ...".
summary=$(grep 'rendered [0-9]* images, skipped' "$log0" | tail -n1)
rendered=$(echo "$summary" | sed -n 's/.*rendered \([0-9]*\) images.*/\1/p')
skipped=$(echo "$summary" | sed -n 's/.*skipped \([0-9]*\) complete.*/\1/p')
if ! [[ ${rendered:-0} -gt 0 && ${skipped:-0} -gt 0 ]]; then
    fail "shard 0's rerun rendered ${rendered:-?} and skipped ${skipped:-?} views: the requeue did not land mid-shard (a bigger JOB?)"
fi
# Every file, byte for byte.
# The shard manifests exist only in the sharded folder, and each process leaves its lock file.
if ! diff -r --exclude=shards --exclude='.render-*.lock' "$work/one" "$out" >"$work/diff.txt"; then
    fail "the sharded dataset differs from the one-process run: $(head -n 20 "$work/diff.txt")"
fi
files=$(find "$out" -path "$out/shards" -prune -o -type f -print | wc -l)
[[ -f $out/manifest.json && -f $out/train_images.npy ]] || fail "merge wrote no root manifests"

echo "job: ${job[*]}; $SHARDS shards on $(nproc) CPUs"
echo "one process: ${one_seconds} s; SLURM array + requeue + merge: ${slurm_seconds} s; shard 0's rerun after the requeue skipped ${skipped:-?} complete views and rendered ${rendered:-?}"
echo "compared $files files with the one-process run: $(wc -l <"$work/diff.txt") differences"
echo "elapsed: $(($(date +%s) - start)) s in all"
echo "$status"
[[ $status == PASS ]] || { KEEP=1; exit 1; }
