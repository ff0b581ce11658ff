//! The transformation latent of a pair of views (SPEC section 2): the quaternion of `R1^-1 R2`
//! (SciPy `r1.inv() * r2`, `as_quat()`, sign as the product gives it, never canonicalised),
//! computed in f64 by [`crate::rotation`] and stored as f32; with colour, (floor_hue_2 -
//! floor_hue_1, light_hue_2 - light_hue_1) follow; with translation (3DIEBench-T, as EquiCaps
//! trains), t2 - t1 follows (the latents' object-frame translations).

use anyhow::bail;

/// What the transformation latent holds: the quaternion (x, y, z, w), then optionally
/// (delta floor hue, delta light hue), then optionally the translation's delta (3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LatentKind {
    pub colour: bool,
    pub translation: bool,
}

impl LatentKind {
    pub const ROTATION: Self = Self { colour: false, translation: false };
    pub const ROTATION_COLOUR: Self = Self { colour: true, translation: false };

    /// The kind whose latent has `width` values (a predictor's latent size).
    pub fn of_width(width: usize) -> anyhow::Result<Self> {
        Ok(match width {
            4 => Self::ROTATION,
            6 => Self::ROTATION_COLOUR,
            7 => Self { colour: false, translation: true },
            9 => Self { colour: true, translation: true },
            _ => bail!("unsupported predictor latent size {width}"),
        })
    }

    pub fn dim(self) -> usize {
        4 + 2 * self.colour as usize + 3 * self.translation as usize
    }
}

/// The latent of a pair of views (see the module documentation).
pub fn pair_latent(l1: &crate::Latent, l2: &crate::Latent, kind: LatentKind) -> anyhow::Result<Vec<f32>> {
    let q = crate::rotation::relative_quat(l1.rotation, l2.rotation);
    let mut v: Vec<f32> = q.iter().map(|&x| x as f32).collect();
    if kind.colour {
        v.push((l2.floor_hue - l1.floor_hue) as f32);
        v.push((l2.light_hue - l1.light_hue) as f32);
    }
    if kind.translation {
        let (Some(t1), Some(t2)) = (l1.translation, l2.translation) else {
            bail!("the latent has no translation (7 values); --translation-latent needs 3DIEBench-T latents (10 values)");
        };
        v.extend(translation_delta(t1, t2));
    }
    Ok(v)
}

/// The translation part of a pair latent: t2 - t1.
pub fn translation_delta(t1: [f64; 3], t2: [f64; 3]) -> [f32; 3] {
    [0, 1, 2].map(|i| (t2[i] - t1[i]) as f32)
}
