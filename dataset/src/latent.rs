//! `latent_<k>.npy`: the seven official factors of one view, `<f8`, shape (7,); datasets with a
//! translation (3DIEBench-T) append tx, ty, tz: shape (10,).

use std::f64::consts::{FRAC_PI_2, FRAC_PI_4, PI};
use std::path::Path;

use anyhow::{bail, Context};

use crate::{atomic, colour, rotation};

/// The factors of variation of one view, in the official latent order.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Latent {
    /// Extrinsic x-y-z Euler angles of the object (radians).
    pub rotation: [f64; 3],
    pub floor_hue: f64,
    /// Polar angle of the spot light.
    pub light_theta: f64,
    /// Azimuth of the spot light.
    pub light_phi: f64,
    pub light_hue: f64,
    /// The object's translation, present in 10-value (3DIEBench-T) latents only.
    pub translation: Option<[f64; 3]>,
}

/// The reference's distribution of each latent index: `(low, high)` of a uniform.
pub const RANGES: [(f64, f64); 7] = [
    (-FRAC_PI_2, FRAC_PI_2),
    (-FRAC_PI_2, FRAC_PI_2),
    (-FRAC_PI_2, FRAC_PI_2),
    (0.0, 1.0),
    (0.0, FRAC_PI_4),
    (0.0, 2.0 * PI),
    (0.0, 1.0),
];

/// Distance of the spot light from the origin.
pub const LIGHT_DISTANCE: f64 = 4.0;

/// Spot light position in world space (Z up): spherical (4, theta, phi).
pub fn light_position(theta: f64, phi: f64) -> [f64; 3] {
    let (st, ct) = theta.sin_cos();
    let (sp, cp) = phi.sin_cos();
    [LIGHT_DISTANCE * st * cp, LIGHT_DISTANCE * st * sp, LIGHT_DISTANCE * ct]
}

impl Latent {
    pub fn to_array(&self) -> [f64; 7] {
        let [a, b, c] = self.rotation;
        [a, b, c, self.floor_hue, self.light_theta, self.light_phi, self.light_hue]
    }

    pub fn from_array(v: [f64; 7]) -> Self {
        Self {
            rotation: [v[0], v[1], v[2]],
            floor_hue: v[3],
            light_theta: v[4],
            light_phi: v[5],
            light_hue: v[6],
            translation: None,
        }
    }

    /// The values of the latent file: the official 7, then the translation when there is one.
    pub fn values(&self) -> Vec<f64> {
        let mut v = self.to_array().to_vec();
        v.extend(self.translation.iter().flatten());
        v
    }

    /// From 7 or 10 values (see [`Latent::values`]).
    pub fn from_values(v: &[f64]) -> anyhow::Result<Self> {
        let official: [f64; 7] = match v.len() {
            7 | 10 => v[..7].try_into().expect("length checked"),
            n => bail!("{n} values, expected 7 (official) or 10 (official + translation)"),
        };
        let mut l = Self::from_array(official);
        if v.len() == 10 {
            l.translation = Some([v[7], v[8], v[9]]);
        }
        Ok(l)
    }

    /// The object's rotation as a SciPy-ordered quaternion (x, y, z, w).
    pub fn quaternion(&self) -> [f64; 4] {
        rotation::quat_from_euler_xyz(self.rotation)
    }

    pub fn floor_rgb(&self) -> [f64; 3] {
        colour::floor_rgb(self.floor_hue)
    }

    pub fn light_rgb(&self) -> [f64; 3] {
        colour::light_rgb(self.light_hue)
    }

    /// Spot light position in world space (Z up): spherical (4, theta, phi).
    pub fn light_position(&self) -> [f64; 3] {
        light_position(self.light_theta, self.light_phi)
    }

    /// Reads a latent file, naming the file in every error.
    pub fn read(path: &Path) -> anyhow::Result<Self> {
        let bytes = crate::input::read_bounded(path, crate::input::METADATA_MAX_BYTES)?;
        Self::from_npy(&bytes).with_context(|| format!("{}: not a latent file", path.display()))
    }

    /// Parses the bytes of a latent `.npy` (accepts `<f8` or `<f4`, shape (7,) or (10,)).
    pub fn from_npy(bytes: &[u8]) -> anyhow::Result<Self> {
        let npy = npyz::NpyFile::new(bytes)?;
        let shape = npy.shape().to_vec();
        if shape != [7] && shape != [10] {
            bail!("shape {shape:?}, expected (7,) or (10,)");
        }
        let values: Vec<f64> = match npy.dtype() {
            npyz::DType::Plain(ts) if ts.to_string() == "<f4" => {
                npy.into_vec::<f32>()?.into_iter().map(f64::from).collect()
            }
            _ => npy.into_vec::<f64>()?,
        };
        if let Some(bad) = values.iter().find(|v| !v.is_finite()) {
            bail!("non-finite value {bad}");
        }
        Self::from_values(&values)
    }

    /// The `.npy` bytes: `<f8`, shape (7,) or (10,), NumPy format 1.0.
    pub fn to_npy(&self) -> Vec<u8> {
        crate::npy::f64_npy(&self.values())
    }

    /// Writes the latent file atomically.
    pub fn write(&self, path: &Path) -> anyhow::Result<()> {
        atomic::write_bytes(path, &self.to_npy()).with_context(|| format!("{}: cannot write", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn npy_round_trip_matches_numpy_header() {
        let l = Latent::from_array([0.1, -0.2, 0.3, 0.4, 0.5, 0.6, 0.7]);
        let bytes = l.to_npy();
        assert_eq!(&bytes[..8], b"\x93NUMPY\x01\x00");
        let header = String::from_utf8_lossy(&bytes[10..128]);
        assert!(header.starts_with("{'descr': '<f8', 'fortran_order': False, 'shape': (7,), }"), "{header}");
        assert_eq!(bytes.len(), 128 + 56);
        assert_eq!(Latent::from_npy(&bytes).unwrap(), l);
    }

    #[test]
    fn translation_latents_have_ten_values() {
        let l = Latent { translation: Some([0.1, -0.2, 0.5]), ..Latent::from_array([0.0; 7]) };
        let bytes = l.to_npy();
        assert!(String::from_utf8_lossy(&bytes[10..128]).contains("'shape': (10,)"));
        assert_eq!(bytes.len(), 128 + 80);
        assert_eq!(Latent::from_npy(&bytes).unwrap(), l);
        assert!(Latent::from_values(&[0.0; 8]).unwrap_err().to_string().contains("8 values"));
    }

    #[test]
    fn rejects_wrong_shape_and_nan() {
        let mut bytes = Latent::from_array([f64::NAN, 0., 0., 0., 0., 0., 0.]).to_npy();
        assert!(Latent::from_npy(&bytes).unwrap_err().to_string().contains("non-finite"));
        bytes.truncate(100);
        assert!(Latent::from_npy(&bytes).is_err());
    }

    #[test]
    fn light_position_is_spherical_radius_four() {
        let l = Latent::from_array([0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
        assert_eq!(l.light_position(), [0.0, 0.0, 4.0]);
        let l = Latent { light_theta: FRAC_PI_4, light_phi: FRAC_PI_2, ..l };
        let p = l.light_position();
        assert!((p[1] - 4.0 * FRAC_PI_4.sin()).abs() < 1e-12 && p[0].abs() < 1e-12);
    }
}
