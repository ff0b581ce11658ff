"""Bakes Blender's "Filmic" view transform (look None, sRGB display, the startup file's setting
that BlenderProc 2.5 keeps) on grey values, as the table the renderer's shader interpolates.

    blender -b --factory-startup --python bench/cycles/bake_filmic.py -- LOG2_MIN LOG2_MAX N

Prints N display values (0-1, sRGB-encoded) for scene-linear 2^(LOG2_MIN + i (MAX - MIN) / (N-1)).
"""

import sys
import tempfile

import bpy

args = sys.argv[sys.argv.index("--") + 1:]
lo, hi, n = float(args[0]), float(args[1]), int(args[2])
values = [2.0 ** (lo + i * (hi - lo) / (n - 1)) for i in range(n)]
image = bpy.data.images.new("ramp", n, 1, float_buffer=True)
image.pixels[:] = [c for v in values for c in (v, v, v, 1.0)]
scene = bpy.context.scene
assert scene.view_settings.view_transform == "Filmic"
scene.render.image_settings.file_format = "PNG"
scene.render.image_settings.color_depth = "16"
scene.render.image_settings.color_mode = "RGB"
path = tempfile.mktemp(suffix=".png")
# save_render applies the scene's view transform, as a render's PNG gets it.
image.save_render(path, scene=scene)
baked = bpy.data.images.load(path)
baked.colorspace_settings.name = "Non-Color"
pixels = baked.pixels[:]
print("FILMIC", " ".join(f"{pixels[4 * i]:.5f}" for i in range(n)))
