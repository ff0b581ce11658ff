//! Blender's "Filmic" view transform (look None, sRGB display): the startup file's setting, which
//! the reference generator keeps (BlenderProc 2.5 never sets a view transform). It maps scene
//! radiance to display values with a log shaper and an S-curve: middle grey 0.18 to 0.5, a soft
//! shoulder up to about 16 (+6.5 stops) instead of "Standard"'s clip at 1.
//!
//! [`FILMIC_TABLE`] samples it on grey at scene-linear 2^x, x from [`LOG2_MIN`] to [`LOG2_MAX`]
//! in 64 even steps, as baked by Blender itself
//! (`blender -b --factory-startup --python bench/cycles/bake_filmic.py -- -12.5 6.5 64`; linear
//! interpolation between entries is within 0.14/255 of a 1024-entry bake). The shader uses
//! [`FIT`] instead, a rational curve fitted to a 1024-entry bake (within 1.1/255 after sRGB
//! encoding, 0.7/255 rms): a table lookup per channel (log2, two gathers, an sRGB decode) cost
//! a fifth of the benchmark's throughput on lavapipe, the fit a few multiply-adds. Applied per
//! channel, both leave out the shaper's 3D desaturation LUT, which acts on bright saturated
//! colours.

pub const LOG2_MIN: f32 = -12.5;
pub const LOG2_MAX: f32 = 6.5;

/// Display values (sRGB-encoded, 0-1).
#[rustfmt::skip]
pub const FILMIC_TABLE: [f32; 64] = [
    0.00002, 0.00099, 0.00223, 0.00366, 0.00533, 0.00725, 0.00945, 0.01199,
    0.01494, 0.01831, 0.02220, 0.02667, 0.03182, 0.03771, 0.04445, 0.05216,
    0.06096, 0.07097, 0.08235, 0.09523, 0.10977, 0.12613, 0.14446, 0.16487,
    0.18750, 0.21245, 0.23977, 0.26946, 0.30149, 0.33573, 0.37201, 0.41009,
    0.44961, 0.49020, 0.53095, 0.57173, 0.61213, 0.65173, 0.69003, 0.72665,
    0.76126, 0.79358, 0.82341, 0.85066, 0.87526, 0.89723, 0.91666, 0.93364,
    0.94832, 0.96085, 0.97140, 0.98016, 0.98729, 0.99297, 0.99734, 1.00000,
    1.00000, 1.00000, 1.00000, 1.00000, 1.00000, 1.00000, 1.00000, 1.00000,
];

/// (a, b, c, d, e) of x (a x + b) / (x (c x + d) + e), clamped to [0, 1]: scene-linear radiance
/// to the *linear* value whose sRGB encoding is Filmic's display value (what the sRGB colour
/// target stores). Twin of the shader's `view_transform` (shaders/scene.wgsl).
pub const FIT: [f32; 5] = [1.0, 0.0318279, 0.9697506, 0.6541897, 0.0321081];

pub fn fitted_linear(x: f32) -> f32 {
    let [a, b, c, d, e] = FIT;
    let x = x.max(0.0);
    (x * (a * x + b) / (x * (c * x + d) + e)).clamp(0.0, 1.0)
}

/// Blender's display value (sRGB-encoded) of a scene-linear one, interpolated in the table.
pub fn display(linear: f32) -> f32 {
    if linear <= 0.0 {
        return 0.0;
    }
    let t = ((linear.log2() - LOG2_MIN) / (LOG2_MAX - LOG2_MIN) * 63.0).clamp(0.0, 63.0);
    let i = (t as usize).min(62);
    let f = t - i as f32;
    FILMIC_TABLE[i] * (1.0 - f) + FILMIC_TABLE[i + 1] * f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn middle_grey_lands_at_half_and_bright_values_roll_off() {
        // Filmic's design point: 0.18 -> about 0.5 on the display.
        assert!((display(0.18) - 0.5).abs() < 0.02, "{}", display(0.18));
        assert!(display(1.0) > 0.75 && display(1.0) < 0.85, "{}", display(1.0));
        assert!(display(16.0) > 0.99);
        assert_eq!(display(0.0), 0.0);
        // Monotonic over the table.
        assert!(FILMIC_TABLE.windows(2).all(|w| w[1] >= w[0]));
    }

    fn srgb_encode(c: f32) -> f32 {
        if c <= 0.003_130_8 {
            12.92 * c
        } else {
            1.055 * c.powf(1.0 / 2.4) - 0.055
        }
    }

    #[test]
    fn the_shaders_fit_follows_blenders_table() {
        let mut worst = 0.0f32;
        for i in 0..=1000 {
            let x = (LOG2_MIN + (LOG2_MAX - LOG2_MIN) * i as f32 / 1000.0).exp2();
            worst = worst.max((srgb_encode(fitted_linear(x)) - display(x)).abs() * 255.0);
        }
        assert!(worst < 1.25, "fit off by {worst}/255");
    }
}
