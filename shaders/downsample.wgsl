// Supersampling resolve: each output pixel averages a 2x2 block of the large target. The
// target is sRGB, so loads return linear values and the store re-encodes.

@group(0) @binding(0) var hires: texture_2d<f32>;

@vertex
fn vs_fullscreen(@builtin(vertex_index) i: u32) -> @builtin(position) vec4<f32> {
    let xy = vec2<f32>(f32((i << 1u) & 2u), f32(i & 2u));
    return vec4<f32>(xy * 2.0 - 1.0, 0.0, 1.0);
}

@fragment
fn fs_downsample(@builtin(position) frag: vec4<f32>) -> @location(0) vec4<f32> {
    let base = vec2<i32>(floor(frag.xy)) * 2;
    let sum = textureLoad(hires, base, 0) + textureLoad(hires, base + vec2<i32>(1, 0), 0)
        + textureLoad(hires, base + vec2<i32>(0, 1), 0) + textureLoad(hires, base + vec2<i32>(1, 1), 0);
    return 0.25 * sum;
}
