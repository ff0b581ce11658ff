"""Writes scenes.json from the images.jsonl of a small dataset rendered by `render`, so that
Blender and `render fidelity` draw identical scenes: per view a name, the mesh (relative to this
folder: the test fixtures, or the built-in library regenerated into meshes/) and the latent.

    python3 make_scenes.py DATASET_DIR > scenes.json
"""

import json
import sys

FIXTURES = "../../tests/fixtures/meshes"
LIBRARY = {"dir": "meshes", "per_class": 1, "seed": 0}

scenes = []
with open(f"{sys.argv[1]}/images.jsonl") as f:
    for line in f:
        row = json.loads(line)
        root = FIXTURES if row["synset"].startswith("9000") else LIBRARY["dir"]
        scenes.append({
            "name": f"{row['synset']}_{row['object_id'][:8]}_{row['view']}",
            "mesh": f"{root}/{row['synset']}/{row['object_id']}/models/model_normalized.obj",
            "latent": row["latent"],
        })
json.dump({"image_size": 256, "library": LIBRARY, "scenes": scenes}, sys.stdout, indent=1)
print()
