// Fast approximate anti-aliasing (after Lottes' FXAA "console" variant): a post pass over the
// single-sampled scene that blends along detected edges. Much cheaper than MSAA on lavapipe
// for meshes with many small triangles, at some cost in texture sharpness. The scene texture
// is sRGB, so samples are linear; edges are found on perceptual luma (sqrt of luminance).
// (Plain Rgba8Unorm views of the sRGB textures, to work on the encoded bytes directly, came out
// wrong on lavapipe.)

@group(0) @binding(0) var scene: texture_2d<f32>;
@group(0) @binding(1) var scene_sampler: sampler;

const EDGE_THRESHOLD: f32 = 0.125;
const EDGE_THRESHOLD_MIN: f32 = 0.03;
const REDUCE_MUL: f32 = 0.125;
const REDUCE_MIN: f32 = 0.0078125;
const SPAN_MAX: f32 = 8.0;

@vertex
fn vs_fullscreen(@builtin(vertex_index) i: u32) -> @builtin(position) vec4<f32> {
    let xy = vec2<f32>(f32((i << 1u) & 2u), f32(i & 2u));
    return vec4<f32>(xy * 2.0 - 1.0, 0.0, 1.0);
}

fn luma(c: vec3<f32>) -> f32 {
    return sqrt(dot(c, vec3<f32>(0.299, 0.587, 0.114)));
}

fn tap(uv: vec2<f32>) -> vec4<f32> {
    return textureSampleLevel(scene, scene_sampler, uv, 0.0);
}

@fragment
fn fs_fxaa(@builtin(position) frag: vec4<f32>) -> @location(0) vec4<f32> {
    let inv = 1.0 / vec2<f32>(textureDimensions(scene));
    let uv = frag.xy * inv;
    let centre = textureLoad(scene, vec2<i32>(floor(frag.xy)), 0);
    let l_m = luma(centre.rgb);
    let l_nw = luma(tap(uv + vec2<f32>(-0.5, -0.5) * inv).rgb);
    let l_ne = luma(tap(uv + vec2<f32>(0.5, -0.5) * inv).rgb);
    let l_sw = luma(tap(uv + vec2<f32>(-0.5, 0.5) * inv).rgb);
    let l_se = luma(tap(uv + vec2<f32>(0.5, 0.5) * inv).rgb);
    let l_min = min(l_m, min(min(l_nw, l_ne), min(l_sw, l_se)));
    let l_max = max(l_m, max(max(l_nw, l_ne), max(l_sw, l_se)));
    if (l_max - l_min < max(EDGE_THRESHOLD_MIN, l_max * EDGE_THRESHOLD)) {
        return centre;
    }
    var dir = vec2<f32>(-((l_nw + l_ne) - (l_sw + l_se)), (l_nw + l_sw) - (l_ne + l_se));
    let reduce = max((l_nw + l_ne + l_sw + l_se) * 0.25 * REDUCE_MUL, REDUCE_MIN);
    let rcp_min = 1.0 / (min(abs(dir.x), abs(dir.y)) + reduce);
    dir = clamp(dir * rcp_min, vec2<f32>(-SPAN_MAX), vec2<f32>(SPAN_MAX)) * inv;
    let a = 0.5 * (tap(uv + dir * (1.0 / 3.0 - 0.5)).rgb + tap(uv + dir * (2.0 / 3.0 - 0.5)).rgb);
    let b = 0.5 * a + 0.25 * (tap(uv - dir * 0.5).rgb + tap(uv + dir * 0.5).rgb);
    let l_b = luma(b);
    // Alpha (the object's coverage) stays the centre's.
    if (l_b < l_min || l_b > l_max) {
        return vec4<f32>(a, centre.a);
    }
    return vec4<f32>(b, centre.a);
}
