// The 3DIEBench reference scene: object + floor, soft sun, coloured spot light with a shadow map.
// All shading is linear radiance in Cycles' units (see renderer/src/gpu/scene.rs); the colour
// target is sRGB, so the hardware encodes on store and averages MSAA samples in linear space.

const PI: f32 = 3.14159265358979;

struct Globals {
    // x: unused; y: sin(sun angular radius); z: the world's radiance; w: floor bounce.
    sun: vec4<f32>,
}

// Everything a factor configuration can vary comes per view.
struct View {
    view_proj: mat4x4<f32>,
    model: mat4x4<f32>,
    light_view_proj: mat4x4<f32>,
    // xyz: spot position; w: the cone's half angle (radians) where its blend is half way.
    light_position: vec4<f32>,
    // xyz: unit spot axis; w: the spot's radius (m).
    spot_axis: vec4<f32>,
    // rgb: spot radiant intensity (W/sr) in its colour; w: 1 / shadow map size.
    spot_radiance: vec4<f32>,
    // rgb: floor albedo; w: radius of the object's bounding sphere (unused here).
    floor_albedo: vec4<f32>,
    // xyz: camera position; w: the sun's irradiance on a surface facing it.
    eye: vec4<f32>,
    // xyz: centre of the object's bounding sphere.
    object_centre: vec4<f32>,
    // x, y: the shadow frustum's near and far planes; z: tan(half its fov); w: the spot's radius
    // in shadow-map uv at unit distance.
    shadow_params: vec4<f32>,
}

struct Material {
    // rgb: base colour, multiplied by the texture (white when there is none; a map_Kd texture
    // comes with a white base colour, since it replaces Kd).
    base_colour: vec4<f32>,
    // x: specular strength (mean Ks); y: roughness.
    params: vec4<f32>,
}

@group(0) @binding(0) var<uniform> globals: Globals;
@group(0) @binding(1) var<uniform> view: View;

@group(1) @binding(0) var<uniform> material: Material;
@group(1) @binding(1) var albedo_texture: texture_2d<f32>;
@group(1) @binding(2) var albedo_sampler: sampler;

@group(2) @binding(0) var shadow_map: texture_depth_2d;
@group(2) @binding(1) var shadow_sampler: sampler_comparison;

struct VertexIn {
    @location(0) position: vec3<f32>,
    @location(1) normal: vec3<f32>,
    @location(2) uv: vec2<f32>,
}

struct VertexOut {
    @builtin(position) clip: vec4<f32>,
    @location(0) world: vec3<f32>,
    @location(1) normal: vec3<f32>,
    @location(2) uv: vec2<f32>,
}

// Scene radiance to what the sRGB target stores: Blender's Filmic view transform as a rational
// fit (renderer/src/gpu/filmic.rs, FIT), already decoded from sRGB so that the target's encoding
// on store gives Filmic's display value (MSAA and FXAA keep working on linear values).
fn view_transform(radiance: vec3<f32>) -> vec3<f32> {
    let x = max(radiance, vec3<f32>(0.0));
    let y = x * (x + 0.0318279) / (x * (0.9697506 * x + 0.6541897) + 0.0321081);
    return clamp(y, vec3<f32>(0.0), vec3<f32>(1.0));
}

// ---- shadow pass: object depth from the spot light ----

@vertex
fn vs_shadow(v: VertexIn) -> @builtin(position) vec4<f32> {
    let world = view.model * vec4<f32>(v.position, 1.0);
    return view.light_view_proj * world;
}

// ---- main pass ----

@vertex
fn vs_object(v: VertexIn) -> VertexOut {
    let world = view.model * vec4<f32>(v.position, 1.0);
    var out: VertexOut;
    out.clip = view.view_proj * world;
    out.world = world.xyz;
    // The model matrix is a rotation times a uniform scale: it maps normals as directions.
    out.normal = (view.model * vec4<f32>(v.normal, 0.0)).xyz;
    out.uv = v.uv;
    return out;
}

@vertex
fn vs_floor(v: VertexIn) -> VertexOut {
    var out: VertexOut;
    out.clip = view.view_proj * vec4<f32>(v.position, 1.0);
    out.world = v.position;
    out.normal = v.normal;
    out.uv = v.uv;
    return out;
}

// Poisson-disc taps in the unit disc, for the blocker search and the filter.
// (Few taps: on lavapipe every tap is paid per shaded pixel; the per-pixel turn hides the rest.)
const BLOCKER_TAPS: u32 = 5u;
const FILTER_TAPS: u32 = 8u;
const DISC = array<vec2<f32>, 8>(
    vec2<f32>(-0.326, -0.406), vec2<f32>(0.962, -0.195), vec2<f32>(-0.203, 0.621),
    vec2<f32>(0.519, 0.767), vec2<f32>(0.185, -0.893), vec2<f32>(-0.840, -0.074),
    vec2<f32>(0.473, -0.480), vec2<f32>(-0.696, 0.457),
);

// Distance from the light of a depth stored in the shadow map (perspective depth in [0, 1]).
fn light_distance(depth: f32) -> f32 {
    let near = view.shadow_params.x;
    let far = view.shadow_params.y;
    return near * far / (far - depth * (far - near));
}

// Fraction of the spot's disc visible from `p` (percentage-closer soft shadows): the blockers'
// mean distance found in the region the disc can be hidden from, gives the penumbra's width
// (radius x (receiver - blocker) / blocker), over which comparison taps are averaged. The taps
// turn per pixel (interleaved gradient noise) so that few of them read as fine grain, not bands.
fn spot_visibility(p: vec3<f32>, pixel: vec2<f32>) -> f32 {
    let clip = view.light_view_proj * vec4<f32>(p, 1.0);
    let ndc = clip.xyz / clip.w;
    let uv = vec2<f32>(ndc.x * 0.5 + 0.5, 0.5 - ndc.y * 0.5);
    let inside = all(uv >= vec2<f32>(0.0)) && all(uv <= vec2<f32>(1.0));
    if (!inside) {
        // Outside the frustum's sides nothing casts a shadow.
        return 1.0;
    }
    let texel = view.spot_radiance.w;
    let receiver = clip.w;
    // The frustum ends just behind the object: receivers beyond it compare at depth 1, so they
    // are shadowed wherever the object was drawn and lit where the map is clear.
    let depth = min(ndc.z, 1.0);
    let angle = 6.2831853 * fract(52.9829189 * fract(dot(pixel, vec2<f32>(0.06711056, 0.00583715))));
    let rot = mat2x2<f32>(cos(angle), sin(angle), -sin(angle), cos(angle));
    let near = view.shadow_params.x;
    let light_uv = view.shadow_params.w;
    let search = max(light_uv * (receiver - near) / (receiver * near), texel);
    let size = vec2<f32>(textureDimensions(shadow_map));
    var blockers = 0.0;
    var blocker_sum = 0.0;
    for (var i = 0u; i < BLOCKER_TAPS; i++) {
        let tap = clamp(uv + rot * DISC[i] * search, vec2<f32>(0.0), vec2<f32>(1.0));
        let stored = textureLoad(shadow_map, vec2<i32>(min(tap * size, size - 1.0)), 0);
        if (stored < depth) {
            blockers += 1.0;
            blocker_sum += light_distance(stored);
        }
    }
    if (blockers == 0.0) {
        return 1.0;
    }
    let blocker = blocker_sum / blockers;
    let penumbra = light_uv * max(receiver - blocker, 0.0) / (blocker * receiver);
    let radius = max(penumbra, texel);
    var lit = 0.0;
    for (var i = 0u; i < FILTER_TAPS; i++) {
        lit += textureSampleCompareLevel(shadow_map, shadow_sampler, uv + rot * DISC[i] * radius, depth);
    }
    return lit / f32(FILTER_TAPS);
}

// Cycles' spot mask for a disc light: the cone test (cosine to the axis, smoothstep blend) is
// made on the direction from each point of the disc, so the rim is blurred over the disc's
// angular radius seen from the receiver. Here: the fraction of that disc whose directions fall
// inside the cone (a straight rim, the thin blend folded into the rim's angle), times the cosine.
fn spot_mask(to_light: vec3<f32>, distance: f32) -> f32 {
    let c = dot(-to_light, view.spot_axis.xyz);
    let angle = acos(clamp(c, -1.0, 1.0));
    let blur = max(asin(min(view.spot_axis.w / distance, 1.0)), 1e-4);
    let x = clamp((view.light_position.w - angle) / blur, -1.0, 1.0);
    let inside = 0.5 + (x * sqrt(1.0 - x * x) + asin(x)) / PI;
    return max(c, 0.0) * inside;
}

// Irradiance factor of a sun disc of angular radius r (sin r = s) at zenith on a surface whose
// normal has z component c: exactly c while the whole disc is above the horizon, then a smooth
// quadratic to zero (the usual spherical-light wrap).
fn sun_cosine(c: f32, s: f32) -> f32 {
    if (c >= s) {
        return c;
    }
    let w = max(c + s, 0.0);
    return w * w / (4.0 * s);
}

// Normalised Blinn-Phong lobe as a cheap stand-in for the Principled BSDF's specular.
fn specular_lobe(n: vec3<f32>, l: vec3<f32>, v: vec3<f32>, roughness: f32) -> f32 {
    let alpha = max(roughness * roughness, 0.03);
    let exponent = min(2.0 / (alpha * alpha) - 2.0, 2048.0);
    let h = normalize(l + v);
    return (exponent + 8.0) / (8.0 * PI) * pow(max(dot(n, h), 0.0), exponent);
}

struct Surface {
    position: vec3<f32>,
    // Window coordinates (turns the shadow filter's taps per pixel).
    pixel: vec2<f32>,
    normal: vec3<f32>,
    albedo: vec3<f32>,
    specular: f32,
    roughness: f32,
}

fn shade(s: Surface) -> vec3<f32> {
    let v = normalize(view.eye.xyz - s.position);
    // Sun and sky from above, light bounced off the floor from below.
    let sun_e = view.eye.w * sun_cosine(s.normal.z, globals.sun.y);
    // A uniform sky above the horizon gives pi L (1 + n.z) / 2; the floor below, lit by the sun
    // and the sky, the same from under the horizon.
    let up = 0.5 + 0.5 * s.normal.z;
    let sky_e = PI * globals.sun.z;
    let floor_radiance = view.floor_albedo.rgb * (view.eye.w + sky_e) / PI;
    let ambient_e = vec3<f32>(sky_e * up) + globals.sun.w * PI * floor_radiance * (1.0 - up);
    // Spot: inverse-square, cone mask, shadow map.
    let to_light = view.light_position.xyz - s.position;
    let d2 = max(dot(to_light, to_light), 1e-4);
    let l = to_light * inverseSqrt(d2);
    let ndl = max(dot(s.normal, l), 0.0);
    var spot = 0.0;
    if (ndl > 0.0) {
        spot = spot_mask(l, sqrt(d2)) * ndl / d2;
    }
    if (spot > 0.0) {
        spot *= spot_visibility(s.position, s.pixel);
    }
    let spot_e = view.spot_radiance.rgb * spot;
    let diffuse = s.albedo / PI * (sun_e + ambient_e + spot_e);
    // Principled specular 0.5 is F0 = 0.04.
    let f0 = 0.08 * s.specular;
    let sun_spec = specular_lobe(s.normal, vec3<f32>(0.0, 0.0, 1.0), v, max(s.roughness, 0.3)) * sun_e;
    let spot_spec = specular_lobe(s.normal, l, v, s.roughness) * spot_e;
    return diffuse + f0 * (vec3<f32>(sun_spec) + spot_spec);
}

@fragment
fn fs_object(in: VertexOut) -> @location(0) vec4<f32> {
    let texel = textureSample(albedo_texture, albedo_sampler, in.uv);
    var n = normalize(in.normal);
    // Two-sided: ShapeNet windings are inconsistent, and Cycles shades both sides.
    if (dot(n, view.eye.xyz - in.world) < 0.0) {
        n = -n;
    }
    var s: Surface;
    s.position = in.world;
    s.pixel = in.clip.xy;
    s.normal = n;
    s.albedo = material.base_colour.rgb * texel.rgb;
    s.specular = material.params.x;
    s.roughness = material.params.y;
    // Alpha 1 marks the object: after the resolve it is its coverage (the mask).
    return vec4<f32>(view_transform(shade(s)), 1.0);
}

@fragment
fn fs_floor(in: VertexOut) -> @location(0) vec4<f32> {
    // No shadow of the sun: under Cycles' very soft sun it is faint and follows the object's
    // shape; a sphere-shaped stand-in darkened the floor around thin objects and cost 4 dB of
    // PSNR against the Cycles set (bench/README.md).
    var s: Surface;
    s.position = in.world;
    s.pixel = in.clip.xy;
    s.normal = vec3<f32>(0.0, 0.0, 1.0);
    s.albedo = view.floor_albedo.rgb;
    // The reference's floor material has no nodes: Cycles shades it as a pure diffuse BSDF.
    s.specular = 0.0;
    s.roughness = 1.0;
    return vec4<f32>(view_transform(shade(s)), 0.0);
}

// ---- distance pass (--depth): millimetres from the camera centre, as Blender's distance pass ----

@fragment
fn fs_distance(in: VertexOut) -> @location(0) u32 {
    return u32(round(length(in.world - view.eye.xyz) * 1000.0));
}
