//! Colours of the reference scene: HSV to linear RGB as Python's `colorsys.hsv_to_rgb`.

/// Saturation and value of the floor colour, HSV(floor_hue, 0.6, 0.6).
pub const FLOOR_SV: (f64, f64) = (0.6, 0.6);
/// Saturation and value of the spot light colour, HSV(light_hue, 1.0, 0.8).
pub const LIGHT_SV: (f64, f64) = (1.0, 0.8);

/// HSV (all in [0, 1], hue wraps) to RGB, the same formula as `colorsys.hsv_to_rgb`.
pub fn hsv_to_rgb(h: f64, s: f64, v: f64) -> [f64; 3] {
    if s == 0.0 {
        return [v, v, v];
    }
    let h6 = h.rem_euclid(1.0) * 6.0;
    let i = h6.floor();
    let f = h6 - i;
    let p = v * (1.0 - s);
    let q = v * (1.0 - s * f);
    let t = v * (1.0 - s * (1.0 - f));
    match (i as i64) % 6 {
        0 => [v, t, p],
        1 => [q, v, p],
        2 => [p, v, t],
        3 => [p, q, v],
        4 => [t, p, v],
        _ => [v, p, q],
    }
}

/// The floor's diffuse colour for a floor hue.
pub fn floor_rgb(floor_hue: f64) -> [f64; 3] {
    hsv_to_rgb(floor_hue, FLOOR_SV.0, FLOOR_SV.1)
}

/// The spot light's colour for a light hue.
pub fn light_rgb(light_hue: f64) -> [f64; 3] {
    hsv_to_rgb(light_hue, LIGHT_SV.0, LIGHT_SV.1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: [f64; 3], b: [f64; 3]) -> bool {
        a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-12)
    }

    #[test]
    fn matches_colorsys() {
        // Values from Python: colorsys.hsv_to_rgb(h, s, v).
        assert!(close(hsv_to_rgb(0.0, 1.0, 0.8), [0.8, 0.0, 0.0]));
        assert!(close(hsv_to_rgb(1.0 / 3.0, 1.0, 0.8), [0.0, 0.8, 0.0]));
        assert!(close(hsv_to_rgb(0.25, 0.6, 0.6), [0.42, 0.6, 0.24]));
        assert!(close(hsv_to_rgb(0.9, 0.6, 0.6), [0.6, 0.24, 0.456]));
        assert!(close(hsv_to_rgb(1.0, 0.6, 0.6), hsv_to_rgb(0.0, 0.6, 0.6)));
    }
}
