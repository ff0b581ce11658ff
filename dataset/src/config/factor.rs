//! The factors of variation, their reference distributions and their domains.

use std::f64::consts::{FRAC_PI_2, FRAC_PI_4, FRAC_PI_8, PI};

use anyhow::{bail, Context};

use super::Distribution;
use crate::input::number;

macro_rules! factors {
    ($($variant:ident = $name:literal),* $(,)?) => {
        /// A factor drawn per view; its name is its key in a configuration file.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Factor { $($variant),* }

        impl Factor {
            pub const ALL: &'static [Factor] = &[$(Factor::$variant),*];

            pub fn name(self) -> &'static str {
                match self { $(Factor::$variant => $name),* }
            }
        }
    };
}

factors! {
    RotationX = "rotation_x",
    RotationY = "rotation_y",
    RotationZ = "rotation_z",
    FloorHue = "floor_hue",
    FloorSaturation = "floor_saturation",
    FloorValue = "floor_value",
    SpotTheta = "spot_theta",
    SpotPhi = "spot_phi",
    SpotHue = "spot_hue",
    SpotSaturation = "spot_saturation",
    SpotValue = "spot_value",
    SpotPower = "spot_power",
    SpotConeAngle = "spot_cone_angle",
    SunStrength = "sun_strength",
    TranslationX = "translation_x",
    TranslationY = "translation_y",
    TranslationZ = "translation_z",
    Scale = "scale",
    CameraDistance = "camera_distance",
    CameraElevation = "camera_elevation",
    CameraAzimuth = "camera_azimuth",
    CameraFocalLength = "camera_focal_length",
}

/// The allowed values of a factor: `[lo, hi]`, each end open when its flag says so.
struct Domain {
    lo: f64,
    lo_open: bool,
    hi: f64,
    hi_open: bool,
    unit: &'static str,
}

const UNIT: Domain = Domain { lo: 0.0, lo_open: false, hi: 1.0, hi_open: false, unit: "" };
/// Angles that wrap (rotations, azimuths): two turns either way is more than any preset needs,
/// and a bound keeps `max - min` and the shadow frustum finite.
const ANGLE: Domain = Domain { lo: -4.0 * PI, lo_open: false, hi: 4.0 * PI, hi_open: false, unit: " rad" };
/// Hues wrap at 1; the bound keeps them (and the latents) finite.
const HUE: Domain = Domain { lo: -4.0, lo_open: false, hi: 4.0, hi_open: false, unit: "" };
/// The floor is 40 m wide and the camera sees a few metres: beyond 10 m nothing would show.
const TRANSLATION: Domain = Domain { lo: -10.0, lo_open: false, hi: 10.0, hi_open: false, unit: " m" };

impl Factor {
    /// The 3DIEBench reference distribution (SPEC sections 1 and 3).
    pub fn reference(self) -> Distribution {
        use Distribution::{Fixed, Uniform};
        match self {
            Factor::RotationX | Factor::RotationY | Factor::RotationZ => {
                Uniform { min: -FRAC_PI_2, max: FRAC_PI_2 }
            }
            Factor::FloorHue | Factor::SpotHue => Uniform { min: 0.0, max: 1.0 },
            Factor::FloorSaturation | Factor::FloorValue => Fixed(0.6),
            Factor::SpotTheta => Uniform { min: 0.0, max: FRAC_PI_4 },
            Factor::SpotPhi => Uniform { min: 0.0, max: 2.0 * PI },
            Factor::SpotSaturation => Fixed(1.0),
            Factor::SpotValue => Fixed(0.8),
            Factor::SpotPower => Fixed(500.0),
            Factor::SpotConeAngle => Fixed(FRAC_PI_8),
            Factor::SunStrength => Fixed(1.5),
            Factor::TranslationX | Factor::TranslationY | Factor::TranslationZ => Fixed(0.0),
            Factor::Scale => Fixed(1.0),
            Factor::CameraDistance => Fixed(2.5),
            Factor::CameraElevation => Fixed(FRAC_PI_4),
            Factor::CameraAzimuth => Fixed(FRAC_PI_2),
            Factor::CameraFocalLength => Fixed(50.0),
        }
    }

    fn domain(self) -> Domain {
        match self {
            Factor::FloorSaturation | Factor::FloorValue | Factor::SpotSaturation | Factor::SpotValue => UNIT,
            Factor::SpotTheta => Domain { lo: 0.0, lo_open: false, hi: PI, hi_open: false, unit: " rad" },
            // Upper ends far above the reference (500 W, 1.5 W/m^2), where images are white
            // already, and low enough that the shader's f32 arithmetic cannot overflow.
            Factor::SpotPower => Domain { lo: 0.0, lo_open: false, hi: 1e5, hi_open: false, unit: " W" },
            Factor::SunStrength => {
                Domain { lo: 0.0, lo_open: false, hi: 1e3, hi_open: false, unit: " W/m^2" }
            }
            Factor::SpotConeAngle => Domain { lo: 0.0, lo_open: true, hi: PI, hi_open: false, unit: " rad" },
            // Below a millimetre the object covers no pixel at any camera distance allowed.
            Factor::Scale => Domain { lo: 1e-3, lo_open: false, hi: 100.0, hi_open: false, unit: "" },
            // The camera's near plane is 0.1 m and its far plane 40 m.
            Factor::CameraDistance => {
                Domain { lo: 0.2, lo_open: false, hi: 20.0, hi_open: false, unit: " m" }
            }
            // At +-pi/2 the camera's up (+Z) is parallel to its view direction.
            Factor::CameraElevation => {
                Domain { lo: -1.56, lo_open: false, hi: 1.56, hi_open: false, unit: " rad" }
            }
            Factor::CameraFocalLength => {
                Domain { lo: 1.0, lo_open: false, hi: 1000.0, hi_open: false, unit: " mm" }
            }
            Factor::RotationX
            | Factor::RotationY
            | Factor::RotationZ
            | Factor::SpotPhi
            | Factor::CameraAzimuth => ANGLE,
            Factor::FloorHue | Factor::SpotHue => HUE,
            Factor::TranslationX | Factor::TranslationY | Factor::TranslationZ => TRANSLATION,
        }
    }

    /// Checks one drawn (or read) value against the factor's domain.
    pub fn check_value(self, v: f64) -> anyhow::Result<()> {
        self.check(&Distribution::Fixed(v)).with_context(|| format!("{} = {}", self.name(), number(v)))
    }

    /// Checks that every value the distribution can give is in the factor's domain.
    fn check(self, d: &Distribution) -> anyhow::Result<()> {
        let dom = self.domain();
        let (lo_v, hi_v) = d.bounds();
        let (lo, hi) = (number(lo_v), number(hi_v));
        if !(lo_v.is_finite() && hi_v.is_finite() && (hi_v - lo_v).is_finite()) {
            bail!("values from {lo} to {hi} are not finite numbers");
        }
        let below = if dom.lo_open { lo_v <= dom.lo } else { lo_v < dom.lo };
        let above = if dom.hi_open { hi_v >= dom.hi } else { hi_v > dom.hi };
        if below || above {
            let open = |o: bool, a: char, b: char| if o { a } else { b };
            bail!(
                "values from {lo} to {hi} leave the allowed range {}{}, {}{}{}",
                open(dom.lo_open, '(', '['),
                dom.lo,
                dom.hi,
                open(dom.hi_open, ')', ']'),
                dom.unit
            );
        }
        Ok(())
    }
}

/// Characters of a user's key that an error prints (the rest is `...`).
pub(super) const KEY_CHARS: usize = 64;

/// How the object's rotation is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RotationMode {
    /// rotation_x, rotation_y, rotation_z drawn independently (extrinsic x-y-z Euler angles).
    Euler,
    /// Uniform over SO(3) (Haar measure); the latent still holds its x-y-z Euler angles.
    So3,
}

/// The frame the translation is given in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TranslationFrame {
    /// As 3DIEBench-T: applied before the rotation, so the object's centre lands at R t.
    Object,
    /// Added after the rotation: the centre lands at t.
    World,
}

/// Every factor's distribution for one split.
#[derive(Clone, Debug, PartialEq)]
pub struct FactorSet {
    pub rotation: RotationMode,
    pub translation_frame: TranslationFrame,
    distributions: Vec<Distribution>,
}

impl FactorSet {
    pub fn reference() -> Self {
        Self {
            rotation: RotationMode::Euler,
            translation_frame: TranslationFrame::Object,
            distributions: Factor::ALL.iter().map(|f| f.reference()).collect(),
        }
    }

    pub fn get(&self, f: Factor) -> &Distribution {
        &self.distributions[f as usize]
    }

    /// Sets one factor, checking it against the factor's domain.
    pub fn set(&mut self, f: Factor, d: Distribution) -> anyhow::Result<()> {
        f.check(&d)?;
        self.distributions[f as usize] = d;
        Ok(())
    }

    /// Applies the keys of a `[factors]` (or `[split.NAME]`) table; `prefix` names it in errors.
    pub fn apply(&mut self, t: &toml::Table, source: &str, prefix: &str) -> anyhow::Result<()> {
        for (key, value) in t {
            let at = || format!("{source}: {prefix}.{}", crate::input::readable(key, KEY_CHARS));
            match key.as_str() {
                "rotation" => {
                    self.rotation = match value.as_str() {
                        Some("euler") => RotationMode::Euler,
                        Some("so3") => RotationMode::So3,
                        _ => bail!("{}: expected \"euler\" or \"so3\"", at()),
                    }
                }
                "translation_frame" => {
                    self.translation_frame = match value.as_str() {
                        Some("object") => TranslationFrame::Object,
                        Some("world") => TranslationFrame::World,
                        _ => bail!("{}: expected \"object\" or \"world\"", at()),
                    }
                }
                name => {
                    let Some(&f) = Factor::ALL.iter().find(|f| f.name() == name) else {
                        let known: Vec<&str> = Factor::ALL.iter().map(|f| f.name()).collect();
                        bail!(
                            "{}: unknown key (factors: rotation, translation_frame, {})",
                            at(),
                            known.join(", ")
                        );
                    };
                    let d = Distribution::from_toml(value).with_context(at)?;
                    self.set(f, d).with_context(at)?;
                }
            }
        }
        Ok(())
    }

    /// Keys that contradict each other: `rotation = "so3"` draws the whole rotation, so a
    /// `rotation_x/y/z` other than the reference's would be ignored in silence.
    pub fn check_conflicts(&self) -> anyhow::Result<()> {
        if self.rotation != RotationMode::So3 {
            return Ok(());
        }
        for f in [Factor::RotationX, Factor::RotationY, Factor::RotationZ] {
            if *self.get(f) != f.reference() {
                bail!(
                    "rotation = \"so3\" and {} = {} conflict: SO(3) draws the whole rotation; remove one of them",
                    f.name(),
                    self.get(f).to_json()
                );
            }
        }
        Ok(())
    }

    pub fn to_json(&self) -> serde_json::Value {
        let mut m = serde_json::Map::new();
        m.insert(
            "rotation".into(),
            (if self.rotation == RotationMode::So3 { "so3" } else { "euler" }).into(),
        );
        m.insert(
            "translation_frame".into(),
            (if self.translation_frame == TranslationFrame::World { "world" } else { "object" }).into(),
        );
        for &f in Factor::ALL {
            m.insert(f.name().into(), self.get(f).to_json());
        }
        serde_json::Value::Object(m)
    }
}
