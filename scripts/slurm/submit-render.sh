#!/bin/bash
# Submits a render job as N SLURM array tasks (render.sbatch, one --shard each) and, after them,
# its merge (merge.sbatch). Prints the two job ids.
#
#   scripts/slurm/submit-render.sh N [render arguments...]
#   scripts/slurm/submit-render.sh 32 --shapenet /data/ShapeNetCore --views 50 --out /shared/3diebench
#
# Environment: RENDER (the binary every node runs, default `render` on PATH; SLURM passes the
# environment to the jobs), SBATCH_ARGS (extra sbatch options for both jobs, e.g.
# "--partition=cpu --time=4:00:00"; sbatch's own SBATCH_* variables work too).
# Resubmitting the same command resumes: complete views are skipped.

set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
shards=${1:?usage: submit-render.sh N [render arguments...]}
shift
if ! [[ $shards =~ ^[1-9][0-9]*$ ]]; then
    echo "submit-render.sh: N must be a positive number of shards, not '$shards'" >&2
    exit 2
fi

# The dataset folder merge needs: render's --out (default ./3diebench, as render's).
out=./3diebench
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
    case "${args[i]}" in
    --out) out=${args[i + 1]:?--out needs a value} ;;
    --out=*) out=${args[i]#--out=} ;;
    esac
done

read -r -a sbatch_args <<<"${SBATCH_ARGS:-}"
array=$(sbatch --parsable "${sbatch_args[@]}" --array="0-$((shards - 1))" \
    --export=ALL,RENDER_SHARDS="$shards" "$here/render.sbatch" "$@")
array=${array%%;*} # --parsable prints "id;cluster" on multi-cluster set-ups
merge=$(sbatch --parsable "${sbatch_args[@]}" --dependency="afterany:$array" "$here/merge.sbatch" "$out")
merge=${merge%%;*}
echo "render array job $array ($shards shards), merge job $merge: $out"
