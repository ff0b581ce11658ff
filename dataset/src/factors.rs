//! Factor sampling: one counter-based stream per factor, keyed by (seed, factor, synset, object
//! id, view).
//!
//! Every view's factors are a pure function of their keys, so a dataset's bytes do not depend on
//! sharding, object order, threads or resuming; and since each factor has its own stream, two
//! configurations that differ in one factor give the same values for every other factor. The
//! stream is BLAKE3 in keyed-hash XOF mode (a keyed PRF, i.e. a counter-based generator), mapped to
//! uniforms with 53-bit precision.
//!
//! Generator 0.2 introduced the per-factor streams; datasets of 0.1 drew all seven latent values
//! from one stream, so the same seed gives other values now (the split is unchanged).

use crate::config::{Factor, LatentFormat, RenderConfig, RotationMode, Split, TranslationFrame};
use crate::{colour, rotation, Latent, ObjectKey};

/// Domain-separated BLAKE3 stream for one key; `purpose` separates independent uses.
pub fn stream(seed: u64, purpose: &str, parts: &[&str]) -> blake3::OutputReader {
    let mut h = blake3::Hasher::new_derive_key("iebench-rs factors v1");
    h.update(&seed.to_le_bytes());
    h.update(purpose.as_bytes());
    for p in parts {
        // Length-prefixed so that ("ab", "c") and ("a", "bc") differ.
        h.update(&(p.len() as u64).to_le_bytes());
        h.update(p.as_bytes());
    }
    h.finalize_xof()
}

/// Next uniform in [0, 1) from a stream (53 random bits).
pub fn next_unit(reader: &mut blake3::OutputReader) -> f64 {
    let mut b = [0u8; 8];
    reader.fill(&mut b);
    (u64::from_le_bytes(b) >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// The reference camera and its variations: spherical position about the origin, looking at it.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Camera {
    /// Metres from the origin.
    pub distance: f64,
    /// Angle above the floor plane (radians); the reference's pi/4 is its polar angle too.
    pub elevation: f64,
    /// Azimuth from +X towards +Y (radians).
    pub azimuth: f64,
    /// Focal length in mm on a 36 mm sensor.
    pub focal_length: f64,
}

impl Camera {
    pub fn position(&self) -> [f64; 3] {
        let (se, ce) = self.elevation.sin_cos();
        let (sa, ca) = self.azimuth.sin_cos();
        [self.distance * ce * ca, self.distance * ce * sa, self.distance * se]
    }
}

/// Every factor of one view, resolved.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ViewFactors {
    /// What `latent_<k>.npy` holds (its translation is set when the format has one).
    pub latent: Latent,
    pub floor_saturation: f64,
    pub floor_value: f64,
    pub spot_saturation: f64,
    pub spot_value: f64,
    /// Watts.
    pub spot_power: f64,
    /// Full cone angle, radians.
    pub spot_cone_angle: f64,
    /// W/m^2; 0 turns the sun off.
    pub sun_strength: f64,
    pub translation: [f64; 3],
    pub translation_frame: TranslationFrame,
    pub scale: f64,
    pub camera: Camera,
}

impl ViewFactors {
    pub fn floor_rgb(&self) -> [f64; 3] {
        colour::hsv_to_rgb(self.latent.floor_hue, self.floor_saturation, self.floor_value)
    }

    pub fn light_rgb(&self) -> [f64; 3] {
        colour::hsv_to_rgb(self.latent.light_hue, self.spot_saturation, self.spot_value)
    }

    /// Where the object's bounding-box centre lands in the world: R t (object frame) or t.
    pub fn object_centre(&self) -> [f64; 3] {
        match self.translation_frame {
            TranslationFrame::World => self.translation,
            TranslationFrame::Object => {
                let m = rotation::matrix_from_euler_xyz(self.latent.rotation);
                let t = self.translation;
                [0, 1, 2].map(|r| m[r][0] * t[0] + m[r][1] * t[1] + m[r][2] * t[2])
            }
        }
    }

    /// Replaces the values a latent file holds (a re-render of existing factors). A file's
    /// translation is kept, and written back, even where the configuration has none.
    pub fn with_latent(mut self, latent: Latent) -> Self {
        let translation = match latent.translation {
            Some(t) => Some(t),
            None => self.latent.translation.map(|_| self.translation),
        };
        if let Some(t) = translation {
            self.translation = t;
        }
        self.latent = Latent { translation, ..latent };
        self
    }
}

/// The factors of view `view` of `object` in `split` under `config`.
pub fn sample_view(config: &RenderConfig, split: Split, object: &ObjectKey, view: usize) -> ViewFactors {
    let set = config.factors(split);
    let seed = config.settings.seed;
    let view_s = view.to_string();
    let parts = [object.synset.as_str(), object.object_id.as_str(), view_s.as_str()];
    let draw = |f: Factor| {
        let d = set.get(f);
        let u = if d.is_random() { next_unit(&mut stream(seed, f.name(), &parts)) } else { 0.0 };
        d.draw(u)
    };
    let rotation = match set.rotation {
        RotationMode::Euler => [Factor::RotationX, Factor::RotationY, Factor::RotationZ].map(draw),
        RotationMode::So3 => {
            let mut r = stream(seed, "rotation_so3", &parts);
            let u = [0, 1, 2].map(|_| next_unit(&mut r));
            rotation::euler_xyz_from_quat(rotation::uniform_quat(u))
        }
    };
    let translation = [Factor::TranslationX, Factor::TranslationY, Factor::TranslationZ].map(draw);
    let latent = Latent {
        rotation,
        floor_hue: draw(Factor::FloorHue),
        light_theta: draw(Factor::SpotTheta),
        light_phi: draw(Factor::SpotPhi),
        light_hue: draw(Factor::SpotHue),
        translation: (config.settings.latent == LatentFormat::Translation).then_some(translation),
    };
    ViewFactors {
        latent,
        floor_saturation: draw(Factor::FloorSaturation),
        floor_value: draw(Factor::FloorValue),
        spot_saturation: draw(Factor::SpotSaturation),
        spot_value: draw(Factor::SpotValue),
        spot_power: draw(Factor::SpotPower),
        spot_cone_angle: draw(Factor::SpotConeAngle),
        sun_strength: draw(Factor::SunStrength),
        translation,
        translation_frame: set.translation_frame,
        scale: draw(Factor::Scale),
        camera: Camera {
            distance: draw(Factor::CameraDistance),
            elevation: draw(Factor::CameraElevation),
            azimuth: draw(Factor::CameraAzimuth),
            focal_length: draw(Factor::CameraFocalLength),
        },
    }
}

impl ViewFactors {
    /// Every value, drawn or read from a latent file, and what is derived from them (colours,
    /// the object's centre, the camera's position) finite and in its factor's range: checked
    /// before a view is rendered, so nothing non-finite reaches the GPU or a file.
    pub fn check(&self) -> anyhow::Result<()> {
        let l = &self.latent;
        let [tx, ty, tz] = self.translation;
        let c = &self.camera;
        let values = [
            (Factor::RotationX, l.rotation[0]),
            (Factor::RotationY, l.rotation[1]),
            (Factor::RotationZ, l.rotation[2]),
            (Factor::FloorHue, l.floor_hue),
            (Factor::SpotTheta, l.light_theta),
            (Factor::SpotPhi, l.light_phi),
            (Factor::SpotHue, l.light_hue),
            (Factor::FloorSaturation, self.floor_saturation),
            (Factor::FloorValue, self.floor_value),
            (Factor::SpotSaturation, self.spot_saturation),
            (Factor::SpotValue, self.spot_value),
            (Factor::SpotPower, self.spot_power),
            (Factor::SpotConeAngle, self.spot_cone_angle),
            (Factor::SunStrength, self.sun_strength),
            (Factor::TranslationX, tx),
            (Factor::TranslationY, ty),
            (Factor::TranslationZ, tz),
            (Factor::Scale, self.scale),
            (Factor::CameraDistance, c.distance),
            (Factor::CameraElevation, c.elevation),
            (Factor::CameraAzimuth, c.azimuth),
            (Factor::CameraFocalLength, c.focal_length),
        ];
        for (f, v) in values {
            f.check_value(v)?;
        }
        let derived = [
            ("floor colour", self.floor_rgb()),
            ("light colour", self.light_rgb()),
            ("object centre", self.object_centre()),
            ("camera position", c.position()),
        ];
        for (what, v) in derived {
            if !v.iter().all(|x| x.is_finite()) {
                anyhow::bail!("{what} {v:?} is not finite");
            }
        }
        Ok(())
    }
}

/// The reference scene's factors for every view (what tests and previews use).
pub fn reference_view(seed: u64, object: &ObjectKey, view: usize) -> ViewFactors {
    let mut config = RenderConfig::reference();
    config.settings.seed = seed;
    sample_view(&config, Split::Train, object, view)
}

/// The seven official latent values of a view under the reference distributions.
pub fn sample_latent(seed: u64, object: &ObjectKey, view: usize) -> Latent {
    reference_view(seed, object, view).latent
}

/// The factors a view has when only its latent is known: the reference scene around it.
pub fn reference_scene(latent: Latent) -> ViewFactors {
    let k = ObjectKey::new("reference", "scene").expect("a valid key");
    reference_view(0, &k, 0).with_latent(latent)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::latent::RANGES;

    #[test]
    fn deterministic_and_key_dependent() {
        let a = ObjectKey::new("02691156", "abc").unwrap();
        let b = ObjectKey::new("02691156", "abd").unwrap();
        assert_eq!(sample_latent(0, &a, 3), sample_latent(0, &a, 3));
        assert_ne!(sample_latent(0, &a, 3), sample_latent(0, &a, 4));
        assert_ne!(sample_latent(0, &a, 3), sample_latent(1, &a, 3));
        assert_ne!(sample_latent(0, &a, 3), sample_latent(0, &b, 3));
    }

    #[test]
    fn stays_in_reference_ranges_and_covers_them() {
        let k = ObjectKey::new("s", "o").unwrap();
        let mut lo = [f64::MAX; 7];
        let mut hi = [f64::MIN; 7];
        for view in 0..5000 {
            let v = sample_latent(7, &k, view).to_array();
            for i in 0..7 {
                assert!(v[i] >= RANGES[i].0 && v[i] < RANGES[i].1);
                lo[i] = lo[i].min(v[i]);
                hi[i] = hi[i].max(v[i]);
            }
        }
        for i in 0..7 {
            let span = RANGES[i].1 - RANGES[i].0;
            assert!(lo[i] - RANGES[i].0 < 0.01 * span && RANGES[i].1 - hi[i] < 0.01 * span, "factor {i}");
        }
    }

    #[test]
    fn reference_scene_matches_the_spec() {
        let v = reference_scene(Latent::from_array([0.0, 0.0, 0.0, 0.25, 0.0, 0.0, 0.0]));
        assert_eq!(v.floor_rgb(), colour::floor_rgb(0.25));
        assert_eq!(v.light_rgb(), colour::light_rgb(0.0));
        let p = v.camera.position();
        assert!(p[0].abs() < 1e-12 && (p[1] - 1.767767).abs() < 1e-6 && (p[2] - 1.767767).abs() < 1e-6);
        assert_eq!((v.spot_power, v.sun_strength, v.scale), (500.0, 1.5, 1.0));
    }

    #[test]
    fn checks_every_value_and_what_is_derived() {
        let ok = reference_scene(Latent::from_array([0.1; 7]));
        ok.check().unwrap();
        let mut bad = ok;
        bad.latent.floor_hue = f64::INFINITY;
        assert!(format!("{:#}", bad.check().unwrap_err()).contains("floor_hue = inf"));
        let mut bad = ok;
        bad.spot_power = 1e308;
        assert!(format!("{:#}", bad.check().unwrap_err()).contains("spot_power = 1e308"));
        let mut bad = ok;
        bad.latent.rotation[0] = f64::NAN;
        assert!(format!("{:#}", bad.check().unwrap_err()).contains("rotation_x = NaN"));
    }

    #[test]
    fn object_frame_translation_lands_at_r_t() {
        let mut v =
            reference_scene(Latent::from_array([0.0, 0.0, std::f64::consts::FRAC_PI_2, 0.0, 0.0, 0.0, 0.0]));
        v.translation = [0.5, 0.0, 0.0];
        let c = v.object_centre();
        assert!(c[0].abs() < 1e-12 && (c[1] - 0.5).abs() < 1e-12, "{c:?}");
        v.translation_frame = TranslationFrame::World;
        assert_eq!(v.object_centre(), [0.5, 0.0, 0.0]);
    }
}
