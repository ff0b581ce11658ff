//! `--experience`: a method of the [`super::REGISTRY`], named as the reference names it. Parsed
//! from the command line and from checkpoints by that name, so checkpoints keep their strings.

use super::{Recipe, REGISTRY};

/// A method of the registry.
#[derive(Clone, Copy)]
pub struct Experience(pub(super) &'static Recipe);

impl Experience {
    /// The method called `name` (its `--experience` value).
    pub fn named(name: &str) -> Option<Self> {
        REGISTRY.iter().copied().find(|e| e.name() == name)
    }

    pub fn name(self) -> &'static str {
        self.0.name
    }

    /// What the method is made of.
    pub fn recipe(self) -> &'static Recipe {
        self.0
    }

    /// Whether the representation is split into an invariant and an equivariant part.
    pub fn is_split(self) -> bool {
        self.0.split
    }

    /// Whether the method has a predictor of view 2's embedding from view 1's and the latent.
    pub fn has_predictor(self) -> bool {
        self.0.predictor
    }

    /// Whether the method has an AugSelf head (regressing the latent from two representations).
    pub fn is_augself(self) -> bool {
        self.0.pair_head
    }

    /// Whether the method's loss reads the transformation latent.
    pub fn uses_latent(self) -> bool {
        self.has_predictor() || self.is_augself()
    }

    /// Whether the latent holds (delta floor hue, delta light hue) after the quaternion (the
    /// reference's "RotColor" methods, trained on `Dataset3DIEBenchRotColor`).
    pub fn colour_latent(self) -> bool {
        self.0.colour_latent
    }

    /// Size of the transformation latent the predictor is conditioned on.
    pub fn latent_dim(self) -> usize {
        if self.colour_latent() {
            6
        } else {
            4
        }
    }
}

impl PartialEq for Experience {
    fn eq(&self, other: &Self) -> bool {
        self.name() == other.name()
    }
}

impl Eq for Experience {}

impl std::fmt::Debug for Experience {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::fmt::Display for Experience {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Experience {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Self::named(s).ok_or_else(|| {
            let names: Vec<_> = REGISTRY.iter().map(|e| e.name()).collect();
            format!("unknown method `{s}`: expected one of {}", names.join(", "))
        })
    }
}

impl clap::ValueEnum for Experience {
    fn value_variants<'a>() -> &'a [Self] {
        REGISTRY
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        Some(clap::builder::PossibleValue::new(self.name()).help(self.0.about))
    }
}

impl serde::Serialize for Experience {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> serde::Deserialize<'de> for Experience {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_method_has_a_unique_name_that_round_trips() {
        let mut names: Vec<_> = REGISTRY.iter().map(|e| e.name()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), REGISTRY.len(), "duplicate names");
        for e in REGISTRY {
            let json = serde_json::to_string(e).unwrap();
            assert_eq!(json, format!("\"{}\"", e.name()), "checkpoints store the bare name");
            assert_eq!(serde_json::from_str::<Experience>(&json).unwrap(), *e);
        }
        assert!("NoSuchMethod".parse::<Experience>().is_err());
    }
}
