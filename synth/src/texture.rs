//! Generated textures (small PNGs): stripes, checks, wood grain, camouflage and labels.

use image::{ImageEncoder, Rgb, RgbImage};

/// Side of every generated texture, in pixels (small files, enough detail at 256x256 renders).
pub const SIZE: u32 = 64;

/// A texture recipe; [`Pattern::image`] renders it deterministically.
#[derive(Clone, Debug, PartialEq)]
pub enum Pattern {
    /// `count` stripes across U (or V when `along_v`).
    Stripes {
        a: [f32; 3],
        b: [f32; 3],
        count: u32,
        along_v: bool,
    },
    Checks {
        a: [f32; 3],
        b: [f32; 3],
        count: u32,
    },
    /// Wood grain running along V.
    Wood {
        light: [f32; 3],
        dark: [f32; 3],
        rings: f32,
        seed: u32,
    },
    /// Three-colour blotches.
    Camo {
        colours: [[f32; 3]; 3],
        seed: u32,
    },
    /// A label: background, a band across V, and blocks of pseudo-text on one side.
    Label {
        background: [f32; 3],
        band: [f32; 3],
        ink: [f32; 3],
        seed: u32,
    },
}

fn mix(a: [f32; 3], b: [f32; 3], t: f32) -> [f32; 3] {
    std::array::from_fn(|i| a[i] + (b[i] - a[i]) * t)
}

fn to_rgb(c: [f32; 3]) -> Rgb<u8> {
    Rgb(c.map(|x| (x.clamp(0.0, 1.0) * 255.0).round() as u8))
}

/// Integer hash to [0, 1) (cheap, platform independent).
fn hash(x: i32, y: i32, seed: u32) -> f32 {
    let mut h = (x as u32).wrapping_mul(0x8da6_b343)
        ^ (y as u32).wrapping_mul(0xd816_3841)
        ^ seed.wrapping_mul(0xcb1a_b31f);
    h ^= h >> 13;
    h = h.wrapping_mul(0x5bd1_e995);
    h ^= h >> 15;
    (h >> 8) as f32 / (1u32 << 24) as f32
}

/// Smooth value noise on a periodic grid of `period` cells (tiles seamlessly).
fn value_noise(u: f32, v: f32, period: i32, seed: u32) -> f32 {
    let (x, y) = (u * period as f32, v * period as f32);
    let (x0, y0) = (x.floor() as i32, y.floor() as i32);
    let (fx, fy) = (x - x0 as f32, y - y0 as f32);
    let s = |t: f32| t * t * (3.0 - 2.0 * t);
    let g = |i: i32, j: i32| hash(i.rem_euclid(period), j.rem_euclid(period), seed);
    let top = g(x0, y0) + (g(x0 + 1, y0) - g(x0, y0)) * s(fx);
    let bottom = g(x0, y0 + 1) + (g(x0 + 1, y0 + 1) - g(x0, y0 + 1)) * s(fx);
    top + (bottom - top) * s(fy)
}

impl Pattern {
    /// The colour at texture coordinates (u, v) in [0, 1).
    fn colour(&self, u: f32, v: f32) -> [f32; 3] {
        match *self {
            Pattern::Stripes { a, b, count, along_v } => {
                let t = if along_v { v } else { u };
                if ((t * count as f32) as u32).is_multiple_of(2) {
                    a
                } else {
                    b
                }
            }
            Pattern::Checks { a, b, count } => {
                let (i, j) = ((u * count as f32) as u32, (v * count as f32) as u32);
                if (i + j).is_multiple_of(2) {
                    a
                } else {
                    b
                }
            }
            Pattern::Wood { light, dark, rings, seed } => {
                let warp = value_noise(u, v * 0.25, 4, seed) * 1.5;
                let grain = ((u * rings + warp) * std::f32::consts::TAU).sin() * 0.5 + 0.5;
                let fine = value_noise(u * 4.0, v, 16, seed ^ 0x55) * 0.25;
                mix(light, dark, (grain.powf(3.0) + fine).min(1.0))
            }
            Pattern::Camo { colours, seed } => {
                let n = value_noise(u, v, 5, seed) * 0.7 + value_noise(u, v, 11, seed ^ 7) * 0.3;
                colours[if n < 0.42 {
                    0
                } else if n < 0.58 {
                    1
                } else {
                    2
                }]
            }
            Pattern::Label { background, band, ink, seed } => {
                if (0.3..0.45).contains(&v) {
                    return band;
                }
                // Pseudo-text: rows of short words in the left half only (breaks symmetry).
                let (row, col) = ((v * 16.0) as i32, (u * 32.0) as i32);
                let in_text = u < 0.45 && (row == 9 || row == 11 || row == 13) && (v * 16.0).fract() < 0.6;
                if in_text && hash(col, row, seed) > 0.25 {
                    ink
                } else {
                    background
                }
            }
        }
    }

    pub fn image(&self) -> RgbImage {
        RgbImage::from_fn(SIZE, SIZE, |x, y| {
            // Image row 0 is the top, i.e. v = 1 in OBJ texture coordinates.
            let (u, v) = ((x as f32 + 0.5) / SIZE as f32, 1.0 - (y as f32 + 0.5) / SIZE as f32);
            to_rgb(self.colour(u, v))
        })
    }

    /// The image encoded as PNG (deterministic bytes).
    pub fn png(&self) -> anyhow::Result<Vec<u8>> {
        let img = self.image();
        let mut out = Vec::new();
        image::codecs::png::PngEncoder::new(&mut out).write_image(
            img.as_raw(),
            SIZE,
            SIZE,
            image::ExtendedColorType::Rgb8,
        )?;
        Ok(out)
    }

    /// Mean colour, used as `Kd` for viewers that ignore textures.
    pub fn mean_colour(&self) -> [f32; 3] {
        let n = 16;
        let mut sum = [0.0f32; 3];
        for i in 0..n {
            for j in 0..n {
                let c = self.colour((i as f32 + 0.5) / n as f32, (j as f32 + 0.5) / n as f32);
                for k in 0..3 {
                    sum[k] += c[k];
                }
            }
        }
        sum.map(|s| s / (n * n) as f32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pngs_are_small_deterministic_and_decode() {
        let patterns = [
            Pattern::Stripes { a: [1.0, 0.0, 0.0], b: [1.0; 3], count: 6, along_v: true },
            Pattern::Checks { a: [0.0; 3], b: [1.0; 3], count: 8 },
            Pattern::Wood { light: [0.8, 0.6, 0.4], dark: [0.4, 0.25, 0.1], rings: 7.0, seed: 3 },
            Pattern::Camo { colours: [[0.3, 0.35, 0.2], [0.5, 0.45, 0.3], [0.15, 0.15, 0.1]], seed: 9 },
            Pattern::Label { background: [1.0; 3], band: [0.8, 0.1, 0.1], ink: [0.0; 3], seed: 1 },
        ];
        for p in patterns {
            let a = p.png().unwrap();
            assert_eq!(a, p.png().unwrap());
            assert!(a.len() < 16 * 1024, "{p:?}: {} bytes", a.len());
            let img = image::load_from_memory(&a).unwrap();
            assert_eq!((img.width(), img.height()), (SIZE, SIZE));
        }
    }
}
