#!/bin/sh
# Rebuilds the Cycles reference set: four meshes (the two test fixtures and two objects of the
# built-in library), eight factor draws each as `render` draws them (seed 0), then Blender 3.4
# Cycles renders of exactly those scenes into images/. Slow (about 10 minutes on 2 cores); not
# part of CI.   bench/cycles/regenerate.sh [SAMPLES [NOISE_THRESHOLD [OUT_DIR]]]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
render=${RENDER:-$repo/target/release/render}
samples=${1:-100}
threshold=${2:-0.01}
out=${3:-$here/images}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The built-in library (gitignored; `render fidelity` regenerates it the same way).
"$render" synth --out "$here/meshes" --per-class 1 --seed 0 >/dev/null
mkdir -p "$work/tree"
cp -r "$repo/tests/fixtures/meshes/90000001" "$repo/tests/fixtures/meshes/90000002" \
    "$here/meshes/91000100" "$here/meshes/91000600" "$work/tree/"
printf '%s\n' 90000001/textured_box 90000002/table \
    91000100/6e2ff08051d89375827ba50711ad08a9 91000600/9c0f48271a6ba86782ea827f4fc2f31e \
    >"$work/objects.txt"
"$render" --shapenet "$work/tree" --objects "$work/objects.txt" --views 8 --seed 0 \
    --image-size 256 --out "$work/dataset" >/dev/null
python3 "$here/make_scenes.py" "$work/dataset" >"$here/scenes.json"

nice -n 10 blender -b --factory-startup --python "$here/render_cycles.py" -- \
    "$here/scenes.json" "$out" --samples "$samples" --threshold "$threshold"
