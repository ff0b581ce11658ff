"""Blender 3.4 (Cycles, CPU) renders of the 3DIEBench reference scene, set up as the reference
generator does: facebookresearch/SIE data/main.py on top of BlenderProc 2.5's bproc.init()
defaults (see bench/cycles/README.md for the sources of every setting).

    blender -b --factory-startup --python bench/cycles/render_cycles.py -- \
        bench/cycles/scenes.json bench/cycles [--samples N] [--only NAME]

Reads the scenes (mesh path, 7-value latent, image size) and writes, per scene,
<name>.png (the Cycles image, Filmic view as in the reference) and <name>_mask.png (object
coverage from the object-index pass, anti-aliased ID mask).
"""

import colorsys
import json
import math
import os
import sys
import time

import bpy
from mathutils import Matrix, Vector

# --- BlenderProc 2.5 defaults (blenderproc/python/utility/DefaultConfig.py, Initializer.py) ---
WORLD_BACKGROUND = (0.05, 0.05, 0.05)
NOISE_THRESHOLD = 0.01
BOUNCES = dict(diffuse_bounces=3, glossy_bounces=0, ao_bounces_render=3, max_bounces=3,
               transmission_bounces=0, transparent_max_bounces=8, volume_bounces=0)
CAMERA_FOV = 0.691111  # radians; = Blender's 50 mm lens on a 36 mm sensor
# --- SIE data/main.py ---
SAMPLES = 100
FLOOR_Z = -1.0
SUN_STRENGTH = 1.5
SUN_ANGLE = math.pi / 2
SPOT_POWER = 500.0
SPOT_SIZE = math.pi / 8
CAMERA_DISTANCE = 2.5
MASK_INDEX = 1


def spherical(r, theta, phi):
    return Vector((r * math.sin(theta) * math.cos(phi), r * math.sin(theta) * math.sin(phi), r * math.cos(theta)))


def look_at(obj, location):
    """bproc.camera.rotation_from_forward_vec: -Z towards the origin, Y up."""
    obj.location = location
    obj.rotation_euler = (Vector((0, 0, 0)) - location).to_track_quat("-Z", "Y").to_euler()


def clean_scene():
    """bproc.init(): removes every data block but the scene, a new world with a node tree."""
    for collection in (bpy.data.objects, bpy.data.meshes, bpy.data.lights, bpy.data.cameras,
                       bpy.data.materials, bpy.data.worlds, bpy.data.images):
        for block in list(collection):
            collection.remove(block)
    world = bpy.data.worlds.new("World")
    world.use_nodes = True
    bpy.context.scene.world = world
    background = world.node_tree.nodes["Background"]
    background.inputs["Color"].default_value = (*WORLD_BACKGROUND, 1.0)
    background.inputs["Strength"].default_value = 1.0


def set_renderer(scene, size, samples, threshold):
    scene.render.engine = "CYCLES"
    scene.cycles.device = "CPU"
    scene.cycles.samples = samples
    scene.cycles.use_adaptive_sampling = True
    scene.cycles.adaptive_threshold = threshold
    for key, value in BOUNCES.items():
        setattr(scene.cycles, key, value)
    # BlenderProc's default denoiser is Intel OIDN in the compositor; Debian's Blender is built
    # without it, so --samples stands in for it (see README).
    scene.cycles.use_denoising = False
    scene.render.resolution_x = size
    scene.render.resolution_y = size
    scene.render.resolution_percentage = 100
    scene.render.film_transparent = False
    scene.render.image_settings.file_format = "PNG"
    scene.render.image_settings.color_mode = "RGB"
    scene.render.image_settings.color_depth = "8"
    # Left at the startup file's values, as BlenderProc 2.5 does: Filmic, look None, sRGB.
    assert scene.view_settings.view_transform == "Filmic", scene.view_settings.view_transform


def add_mask_compositor(scene, out_dir):
    """Object coverage: object-index pass -> anti-aliased ID mask -> a PNG written with the Raw
    view (coverage x 255, no Filmic). Returns the file output node."""
    bpy.context.view_layer.use_pass_object_index = True
    scene.use_nodes = True
    tree = scene.node_tree
    tree.nodes.clear()
    layers = tree.nodes.new("CompositorNodeRLayers")
    composite = tree.nodes.new("CompositorNodeComposite")
    tree.links.new(layers.outputs["Image"], composite.inputs["Image"])
    id_mask = tree.nodes.new("CompositorNodeIDMask")
    id_mask.index = MASK_INDEX
    id_mask.use_antialiasing = True
    tree.links.new(layers.outputs["IndexOB"], id_mask.inputs["ID value"])
    mask_out = tree.nodes.new("CompositorNodeOutputFile")
    mask_out.base_path = out_dir
    mask_out.format.file_format = "PNG"
    mask_out.format.color_mode = "BW"
    mask_out.format.color_depth = "8"
    mask_out.format.color_management = "OVERRIDE"
    mask_out.format.view_settings.view_transform = "Raw"
    tree.links.new(id_mask.outputs["Alpha"], mask_out.inputs[0])
    return mask_out


def add_static_scene():
    bpy.ops.mesh.primitive_plane_add(size=10000, location=(0, 0, FLOOR_Z))
    floor = bpy.context.active_object
    # A material without nodes: Cycles shades it as a pure diffuse BSDF of its diffuse_color.
    floor.data.materials.append(bpy.data.materials.new(name="Floor"))

    sun_data = bpy.data.lights.new(name="sun", type="SUN")
    sun_data.energy = SUN_STRENGTH
    sun_data.angle = SUN_ANGLE
    sun = bpy.data.objects.new(name="sun", object_data=sun_data)
    bpy.context.collection.objects.link(sun)

    # bpy.data.lights.new defaults kept: blend 0.15, radius (shadow_soft_size) 0.25 m.
    spot_data = bpy.data.lights.new(name="spot", type="SPOT")
    spot_data.energy = SPOT_POWER
    spot_data.spot_size = SPOT_SIZE
    spot = bpy.data.objects.new(name="spot", object_data=spot_data)
    bpy.context.collection.objects.link(spot)

    camera_data = bpy.data.cameras.new("Camera")
    camera_data.lens_unit = "FOV"
    camera_data.angle = CAMERA_FOV
    camera_data.clip_start = 0.1
    camera_data.clip_end = 1000
    camera = bpy.data.objects.new("Camera", camera_data)
    bpy.context.collection.objects.link(camera)
    bpy.context.scene.camera = camera
    look_at(camera, spherical(CAMERA_DISTANCE, math.pi / 4, math.pi / 2))
    return floor, spot


def load_object(path):
    """bproc.loader.load_shapenet: the legacy OBJ importer (Y up, -Z forward), rotation baked into
    the mesh; then main.py puts the bounding box's centre at the origin."""
    before = set(bpy.data.objects)
    bpy.ops.import_scene.obj(filepath=path)
    parts = [o for o in bpy.data.objects if o not in before]
    bpy.ops.object.select_all(action="DESELECT")
    for part in parts:
        part.select_set(True)
    obj = parts[0]
    bpy.context.view_layer.objects.active = obj
    # ShapeNet files are one object; a fixture with several `o` parts is joined into one.
    if len(parts) > 1:
        bpy.ops.object.join()
    bpy.ops.object.transform_apply(location=False, rotation=True, scale=False)
    points = [v.co for v in obj.data.vertices]
    low = Vector([min(p[i] for p in points) for i in range(3)])
    high = Vector([max(p[i] for p in points) for i in range(3)])
    # SPEC 3: meshes that are not ShapeNet v2's unit bounding-box diagonal are scaled to it first
    # (a no-op for ShapeNet; the table fixture's diagonal is 4.4).
    obj.data.transform(Matrix.Scale(1.0 / (high - low).length, 4) @ Matrix.Translation(-(low + high) / 2))
    obj.location = (0, 0, 0)
    obj.pass_index = MASK_INDEX
    return obj


def main():
    args = sys.argv[sys.argv.index("--") + 1:]
    scenes_path, out_dir = args[0], args[1]
    samples = int(args[args.index("--samples") + 1]) if "--samples" in args else SAMPLES
    threshold = float(args[args.index("--threshold") + 1]) if "--threshold" in args else NOISE_THRESHOLD
    only = args[args.index("--only") + 1] if "--only" in args else None
    with open(scenes_path) as f:
        spec = json.load(f)
    root = os.path.dirname(os.path.abspath(scenes_path))
    size = spec["image_size"]

    clean_scene()
    scene = bpy.context.scene
    set_renderer(scene, size, samples, threshold)
    os.makedirs(out_dir, exist_ok=True)
    mask_out = add_mask_compositor(scene, os.path.abspath(out_dir))
    floor, spot = add_static_scene()

    by_mesh = {}
    for s in spec["scenes"]:
        if only is None or s["name"] == only:
            by_mesh.setdefault(s["mesh"], []).append(s)
    for mesh, scenes in by_mesh.items():
        obj = load_object(os.path.normpath(os.path.join(root, mesh)))
        for s in scenes:
            rx, ry, rz, floor_hue, theta, phi, light_hue = s["latent"]
            floor.active_material.diffuse_color = (*colorsys.hsv_to_rgb(floor_hue, 0.6, 0.6), 1)
            look_at(spot, spherical(4, theta, phi))
            spot.data.color = colorsys.hsv_to_rgb(light_hue, 1.0, 0.8)
            obj.rotation_mode = "XYZ"
            obj.rotation_euler = (rx, ry, rz)
            scene.render.filepath = os.path.join(out_dir, s["name"] + ".png")
            # The file output node appends the frame number (frame 1 -> 0001).
            mask_out.file_slots[0].path = s["name"] + "_mask"
            start = time.time()
            bpy.ops.render.render(write_still=True)
            os.replace(os.path.join(out_dir, s["name"] + "_mask0001.png"),
                       os.path.join(out_dir, s["name"] + "_mask.png"))
            print(f"rendered {s['name']} in {time.time() - start:.1f} s", flush=True)
        bpy.data.objects.remove(obj, do_unlink=True)


main()
