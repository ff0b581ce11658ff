//! Factor configurations (`render --config FILE.toml`): for every factor of variation a
//! distribution, per split if asked, plus the dataset's settings (seed, views, size, quality,
//! latent format, split fraction). The presets in `manifests/*.toml` are such files; no file
//! means the 3DIEBench reference ([`RenderConfig::reference`]).
//!
//! Parsing is strict: an unknown key, an impossible value or a value outside the factor's domain
//! is an error that names the file and the key, before anything is rendered.

pub mod distribution;
mod factor;

use std::path::Path;

use anyhow::{bail, Context};

use crate::input::readable;

pub use distribution::Distribution;
pub use factor::{Factor, FactorSet, RotationMode, TranslationFrame};

/// Most views per object a run accepts (3DIEBench has 50).
pub const MAX_VIEWS: usize = 10_000;
/// Image sizes a run accepts; the adapter may allow less (checked when it is opened).
pub const IMAGE_SIZES: std::ops::RangeInclusive<u32> = 8..=8192;

/// Which split an object belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Split {
    Train,
    Val,
}

impl Split {
    pub fn name(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Val => "val",
        }
    }
}

/// What `latent_<k>.npy` holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LatentFormat {
    /// The official 7 values.
    Official,
    /// 3DIEBench-T: the official 7, then the translation (tx, ty, tz).
    Translation,
}

impl LatentFormat {
    pub fn name(self) -> &'static str {
        match self {
            LatentFormat::Official => "official",
            LatentFormat::Translation => "translation",
        }
    }
}

/// Dataset-level settings (not drawn per view).
#[derive(Clone, Debug, PartialEq)]
pub struct DatasetSettings {
    pub seed: u64,
    pub views: usize,
    pub image_size: u32,
    pub jpeg_quality: u8,
    pub latent: LatentFormat,
    pub val_fraction: f64,
}

impl Default for DatasetSettings {
    fn default() -> Self {
        Self {
            seed: 0,
            views: 50,
            image_size: 256,
            jpeg_quality: 95,
            latent: LatentFormat::Official,
            val_fraction: 0.2,
        }
    }
}

impl DatasetSettings {
    /// Checks every setting; `name` spells a setting's key where the values came from
    /// (`dataset.views` in a file, `--views` on the command line).
    pub fn validate(&self, name: impl Fn(&str) -> String) -> anyhow::Result<()> {
        if self.views == 0 || self.views > MAX_VIEWS {
            bail!("{}: {} is out of range 1..={MAX_VIEWS}", name("views"), self.views);
        }
        if !IMAGE_SIZES.contains(&self.image_size) {
            bail!(
                "{}: {} is out of range {}..={}",
                name("image_size"),
                self.image_size,
                IMAGE_SIZES.start(),
                IMAGE_SIZES.end()
            );
        }
        if !(1..=100).contains(&self.jpeg_quality) {
            bail!("{}: {} is out of range 1..=100", name("jpeg_quality"), self.jpeg_quality);
        }
        if !(0.0..=1.0).contains(&self.val_fraction) {
            bail!("{}: {} is not in [0, 1]", name("val_fraction"), self.val_fraction);
        }
        Ok(())
    }
}

/// A whole configuration: settings and the factors of each split.
#[derive(Clone, Debug, PartialEq)]
pub struct RenderConfig {
    pub settings: DatasetSettings,
    pub train: FactorSet,
    pub val: FactorSet,
    /// Where it came from (a file, or "the reference"), for messages.
    pub source: String,
}

impl RenderConfig {
    /// The 3DIEBench reference (SPEC sections 1 and 3), what `render` does without `--config`.
    pub fn reference() -> Self {
        Self {
            settings: DatasetSettings::default(),
            train: FactorSet::reference(),
            val: FactorSet::reference(),
            source: "the reference configuration".into(),
        }
    }

    pub fn factors(&self, split: Split) -> &FactorSet {
        match split {
            Split::Train => &self.train,
            Split::Val => &self.val,
        }
    }

    pub fn read(path: &Path) -> anyhow::Result<Self> {
        let text = crate::input::read_text(path, crate::input::CONFIG_MAX_BYTES)?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Parses a configuration's text; `source` names the file in every error.
    pub fn parse(text: &str, source: &str) -> anyhow::Result<Self> {
        Self::reference().with_changes(text, source)
    }

    /// Reads a file's changes on top of this configuration (`render --like DIR --config FILE`).
    pub fn with_changes_from(self, path: &Path) -> anyhow::Result<Self> {
        let text = crate::input::read_text(path, crate::input::CONFIG_MAX_BYTES)?;
        self.with_changes(&text, &path.display().to_string())
    }

    /// Applies a configuration's text on top of this one: its `[dataset]` keys, its `[factors]` to
    /// both splits, then its `[split.*]` overrides.
    pub fn with_changes(self, text: &str, source: &str) -> anyhow::Result<Self> {
        let table: toml::Table = toml::from_str(text)
            .map_err(|e| anyhow::anyhow!("{source}: not valid TOML: {}", toml_error(&e)))?;
        let mut config = self;
        config.source = source.to_string();
        for (key, value) in &table {
            match key.as_str() {
                "dataset" => parse_settings(&mut config.settings, sub_table(value, source, key)?, source)?,
                "factors" => {
                    let t = sub_table(value, source, key)?;
                    config.train.apply(t, source, "factors")?;
                    config.val.apply(t, source, "factors")?;
                }
                "split" => {}
                other => bail!(
                    "{source}: unknown key \"{}\" (expected dataset, factors, split)",
                    readable(other, factor::KEY_CHARS)
                ),
            }
        }
        // Per-split overrides go on top of [factors], whatever their order in the file.
        if let Some(value) = table.get("split") {
            for (name, overrides) in sub_table(value, source, "split")? {
                let prefix = format!("split.{}", readable(name, factor::KEY_CHARS));
                let t = sub_table(overrides, source, &prefix)?;
                match name.as_str() {
                    "train" => config.train.apply(t, source, &prefix)?,
                    "val" => config.val.apply(t, source, &prefix)?,
                    _ => bail!("{source}: {prefix}: unknown split (expected train or val)"),
                }
            }
        }
        config.settings.validate(|key| format!("{source}: dataset.{key}"))?;
        for (name, set) in [("train", &config.train), ("val", &config.val)] {
            set.check_conflicts().with_context(|| format!("{source}: factors of the {name} split"))?;
        }
        Ok(config)
    }

    /// The configuration a dataset's `manifest.json` recorded ([`RenderConfig::to_json`]).
    pub fn from_recorded(json: &serde_json::Value, source: &str) -> anyhow::Result<Self> {
        let as_table = |key: &str| -> anyhow::Result<toml::Table> {
            let v = json
                .pointer(key)
                .with_context(|| format!("{source}: no {key} in the recorded configuration"))?;
            serde_json::from_value(v.clone())
                .with_context(|| format!("{source}: {key}: not a configuration table"))
        };
        let mut config = Self::reference();
        config.source = source.to_string();
        parse_settings(&mut config.settings, &as_table("/dataset")?, source)?;
        config.train.apply(&as_table("/factors/train")?, source, "factors.train")?;
        config.val.apply(&as_table("/factors/val")?, source, "factors.val")?;
        config.settings.validate(|key| format!("{source}: dataset.{key}"))?;
        Ok(config)
    }

    /// The fully resolved configuration as recorded in `manifest.json` (every factor of both
    /// splits, every setting).
    pub fn to_json(&self) -> serde_json::Value {
        let s = &self.settings;
        serde_json::json!({
            "dataset": {
                "seed": s.seed,
                "views": s.views,
                "image_size": s.image_size,
                "jpeg_quality": s.jpeg_quality,
                "latent": s.latent.name(),
                "val_fraction": s.val_fraction,
            },
            "factors": { "train": self.train.to_json(), "val": self.val.to_json() },
        })
    }

    /// BLAKE3 of the resolved configuration's JSON (keys sorted): equal hashes, equal datasets.
    pub fn hash(&self) -> String {
        let text = serde_json::to_string(&self.to_json()).expect("JSON of numbers and strings");
        blake3::hash(text.as_bytes()).to_hex()[..16].to_string()
    }
}

/// TOML's message quotes the offending line: each line escaped and bounded, at most 8 lines.
fn toml_error(e: &toml::de::Error) -> String {
    let text = e.to_string();
    let lines: Vec<String> = text.lines().take(8).map(|l| readable(l, 200)).collect();
    lines.join("\n")
}

fn sub_table<'a>(value: &'a toml::Value, source: &str, key: &str) -> anyhow::Result<&'a toml::Table> {
    value.as_table().ok_or_else(|| anyhow::anyhow!("{source}: {key}: expected a table"))
}

fn parse_settings(s: &mut DatasetSettings, t: &toml::Table, source: &str) -> anyhow::Result<()> {
    let int = |key: &str, v: &toml::Value, max: i64| -> anyhow::Result<i64> {
        match v.as_integer() {
            Some(i) if (1..=max).contains(&i) => Ok(i),
            Some(i) => bail!("{source}: dataset.{key}: {i} is out of range 1..={max}"),
            None => bail!("{source}: dataset.{key}: expected a positive integer"),
        }
    };
    for (key, v) in t {
        match key.as_str() {
            "seed" => match v.as_integer() {
                Some(i) if i >= 0 => s.seed = i as u64,
                _ => bail!("{source}: dataset.seed: expected a non-negative integer"),
            },
            "views" => s.views = int(key, v, MAX_VIEWS as i64)? as usize,
            "image_size" => s.image_size = int(key, v, *IMAGE_SIZES.end() as i64)? as u32,
            "jpeg_quality" => s.jpeg_quality = int(key, v, 100)? as u8,
            "val_fraction" => {
                s.val_fraction = distribution::number(v).with_context(|| format!("{source}: dataset.val_fraction"))?
            }
            "latent" => {
                s.latent = match v.as_str() {
                    Some("official") => LatentFormat::Official,
                    Some("translation") => LatentFormat::Translation,
                    _ => bail!("{source}: dataset.latent: expected \"official\" (7 values) or \"translation\" (10)"),
                }
            }
            other => bail!(
                "{source}: dataset.{}: unknown key (expected seed, views, image_size, jpeg_quality, latent, val_fraction)",
                readable(other, factor::KEY_CHARS)
            ),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
