//! Command-line configuration of `train`, with the reference trainer's flag names and defaults.
//!
//! [`TrainArgs`] is what the user typed; [`ModelConfig`] is the part that fixes the model's
//! shape. Both are stored in every checkpoint, so a checkpoint rebuilds its own model.

use std::path::PathBuf;

use anyhow::bail;
use clap::Parser;
use serde::{Deserialize, Serialize};

pub use kernels::Precision;
pub use model::config::{
    parse_sizes, Arch, DeviceKind, Experience, Hypernetwork, ModelConfig, PredictorType,
};
use model::loss::{default_ec_weight, LossConfig};

/// `train`'s flags. Defaults are the reference's (SPEC section 4) unless noted.
#[derive(Clone, Debug, Parser, Serialize, Deserialize)]
#[command(name = "train", about = "Train SIE / VICReg / SimCLR / EquiMod on a 3DIEBench-layout dataset")]
pub struct TrainArgs {
    /// Dataset root in the official 3DIEBench layout (or --render: views rendered as it trains).
    #[arg(long, alias = "dataset-root", required_unless_present = "render")]
    pub data: Option<PathBuf>,
    /// Train on views rendered in this process instead of a dataset's files, with this factor
    /// configuration (`render --config`'s files and presets; alone: the reference). The objects
    /// and split are `render`'s: --shapenet/--objects, or the built-in library.
    #[arg(long, value_name = "CONFIG.toml", num_args = 0..=1, default_missing_value = "", conflicts_with = "data")]
    #[serde(default)]
    pub render: Option<String>,
    #[command(flatten)]
    #[serde(flatten)]
    pub live: crate::live_args::LiveArgs,
    /// Where checkpoints, logs and exports go; re-running with the same folder resumes.
    #[arg(long)]
    pub exp_dir: PathBuf,
    #[arg(long, value_enum, default_value = "SIE")]
    pub experience: Experience,
    #[arg(long, default_value_t = 100)]
    pub epochs: usize,
    #[arg(long, default_value_t = 1024)]
    pub batch_size: usize,
    #[arg(long, default_value_t = 1e-3)]
    pub base_lr: f64,
    #[arg(long, default_value_t = 1e-6)]
    pub wd: f64,
    #[arg(long, value_enum, default_value = "resnet18")]
    pub arch: Arch,
    /// Size of the equivariant part of the representation [default: half of the
    /// representation, i.e. 256 for resnet18]. For VICRegPartInv (no split representation), the
    /// number of last embedding dims left out of the invariance term, with the same default.
    #[arg(long)]
    pub equi: Option<usize>,
    /// Projector sizes, scaled per part by its share of the representation [default:
    /// 2048-2048-2048 for a 512-d representation, 4x the representation size otherwise].
    #[arg(long)]
    pub mlp: Option<String>,
    #[arg(long, value_enum, default_value = "linear")]
    pub hypernetwork: Hypernetwork,
    /// Intermediate sizes of the predicted network, e.g. "512-512" (empty: one layer).
    #[arg(long, default_value = "")]
    pub predictor: String,
    /// ReLU between the predicted network's layers.
    #[arg(long)]
    pub predictor_relu: bool,
    /// [default: hypernetwork, for every method, as the reference; a resumed run keeps its
    /// checkpoint's predictor]
    #[arg(long, value_enum)]
    pub predictor_type: Option<PredictorType>,
    /// Layers of the MLP predictor.
    #[arg(long, default_value_t = 1)]
    pub tf_num_layers: usize,
    /// A bias in the predicted layers.
    #[arg(long)]
    pub bias_pred: bool,
    /// A bias in the hypernetwork.
    #[arg(long)]
    pub bias_hypernet: bool,
    /// Append the translation's delta t2 - t1 to the transformation latent (3DIEBench-T datasets,
    /// rendered with manifests/3diebench-t.toml; as EquiCaps trains). Methods with a predictor only.
    #[arg(long)]
    #[serde(default)]
    pub translation_latent: bool,
    #[arg(long, default_value_t = 10.0)]
    pub sim_coeff: f64,
    #[arg(long, default_value_t = 10.0)]
    pub std_coeff: f64,
    #[arg(long, default_value_t = 1.0)]
    pub cov_coeff: f64,
    #[arg(long, default_value_t = 0.45)]
    pub equi_factor: f64,
    /// SimCLR temperature.
    #[arg(long, default_value_t = 0.1)]
    pub simclr_temp: f64,
    /// Weight of the AugSelf head's latent regression (SimCLRAugSelf*).
    #[arg(long, default_value_t = 1.0)]
    #[serde(default = "default_ec_weight")]
    pub ec_weight: f64,
    /// Diagnostic, not self-supervised: let the online rotation probe's MSE (on the whole
    /// representation) train the backbone, weighted by this. With `--sim-coeff 0 --std-coeff 0
    /// --cov-coeff 0` this trains the network to predict the relative rotation from images: how
    /// much pose this data, architecture and budget let a network learn with labels.
    #[arg(long, default_value_t = 0.0)]
    #[serde(default)]
    pub rotation_supervision: f64,
    #[arg(long, default_value_t = 256)]
    pub resolution: u32,
    /// [default: <data>/train_images.npy]
    #[arg(long)]
    pub images_file: Option<PathBuf>,
    /// [default: <data>/train_labels.npy]
    #[arg(long)]
    pub labels_file: Option<PathBuf>,
    /// Number of classes of the online classifier [default: from <data>/manifest.json, else 55].
    #[arg(long)]
    pub num_classes: Option<usize>,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// cpu, cuda (GPU 0) or cuda:N.
    #[arg(long, default_value = "cpu")]
    pub device: DeviceKind,
    /// f32, or bf16 for convolutions and matrix products (f32 master weights and loss).
    #[arg(long, value_enum, default_value = "f32")]
    #[serde(default)]
    pub precision: Precision,
    /// Image decoding threads [default: the number of CPUs].
    #[arg(long)]
    pub num_workers: Option<usize>,
    /// Batches decoded ahead of the training step.
    #[arg(long, default_value_t = 2)]
    pub prefetch: usize,
    /// Steps between two JSON log lines.
    #[arg(long, default_value_t = 10)]
    pub log_interval: usize,
    /// Stop after this many optimisation steps in total (benchmarks); the epoch's checkpoint
    /// is not written when stopping early.
    #[arg(long)]
    pub max_steps: Option<u64>,
    /// No progress bar (logs still go to log.jsonl).
    #[arg(long)]
    pub quiet: bool,
    /// Resume even though flags that change the training (learning rate, batch size, seed, loss
    /// coefficients, ...) differ from the checkpoint's; the changes are recorded in log.jsonl.
    #[arg(long)]
    #[serde(default)]
    pub allow_config_change: bool,
}

/// Flags that may differ between a run and its resume: where the files are, how long and how
/// fast it runs, what it prints. Every other flag changes the training.
const RESUMABLE_FLAGS: [&str; 15] = [
    "data",
    "shapenet",
    "library",
    "render_threads",
    "mesh_cache_mb",
    "exp_dir",
    "epochs",
    "device",
    "precision",
    "num_workers",
    "prefetch",
    "log_interval",
    "max_steps",
    "quiet",
    "allow_config_change",
];

impl TrainArgs {
    /// The flags that change the training and differ from `previous`'s, as
    /// `--name old -> new`, in flag order.
    pub fn changed_flags(&self, previous: &TrainArgs) -> Vec<String> {
        let (serde_json::Value::Object(new), Ok(serde_json::Value::Object(old))) =
            (serde_json::to_value(self).unwrap_or_default(), serde_json::to_value(previous))
        else {
            return Vec::new();
        };
        new.iter()
            .filter(|(k, _)| !RESUMABLE_FLAGS.contains(&k.as_str()))
            .filter_map(|(k, v)| {
                let was = old.get(k).cloned().unwrap_or(serde_json::Value::Null);
                (was != *v).then(|| format!("--{} {was} -> {v}", k.replace('_', "-")))
            })
            .collect()
    }
}

impl TrainArgs {
    /// The loss weights and temperatures these flags set.
    pub fn loss_config(&self) -> LossConfig {
        LossConfig {
            sim_coeff: self.sim_coeff,
            std_coeff: self.std_coeff,
            cov_coeff: self.cov_coeff,
            equi_factor: self.equi_factor,
            simclr_temp: self.simclr_temp,
            ec_weight: self.ec_weight,
            rotation_supervision: self.rotation_supervision,
        }
    }

    /// The ops the model runs: the default formulation in `--precision`.
    pub fn kernels(&self) -> kernels::Kernels {
        kernels::Kernels::with_precision(self.precision)
    }

    /// The dataset folder (`--data`; empty with `--render`, which reads none).
    pub fn data_dir(&self) -> PathBuf {
        self.data.clone().unwrap_or_default()
    }

    pub fn images_file(&self) -> PathBuf {
        self.images_file.clone().unwrap_or_else(|| dataset::manifest::images_path(&self.data_dir(), "train"))
    }

    pub fn labels_file(&self) -> PathBuf {
        self.labels_file.clone().unwrap_or_else(|| dataset::manifest::labels_path(&self.data_dir(), "train"))
    }

    /// The model configuration these flags describe, with `num_classes` resolved by the caller.
    pub fn model_config(&self, num_classes: usize) -> anyhow::Result<ModelConfig> {
        let repr_dim = self.arch.repr_dim();
        let mlp = match &self.mlp {
            Some(m) => parse_sizes(m, "--mlp")?,
            None if repr_dim == 512 => vec![2048; 3],
            None => vec![4 * repr_dim; 3],
        };
        if mlp.is_empty() {
            bail!("--mlp must have at least one size");
        }
        let equi = if self.experience.is_split() {
            let e = self.equi.unwrap_or(repr_dim / 2);
            if e == 0 || e >= repr_dim {
                bail!("--equi {e} must be in 1..{repr_dim} (the representation size of {:?})", self.arch);
            }
            e
        } else {
            0
        };
        let equi_emb = if self.experience.recipe().part_invariant {
            let emb = *mlp.last().expect("checked non-empty");
            let e = self.equi.unwrap_or(repr_dim / 2);
            if e == 0 || e >= emb {
                bail!("--equi {e}: VICRegPartInv leaves the last --equi dims of its {emb}-d embedding out of the invariance term; it must be in 1..{emb}");
            }
            e
        } else {
            0
        };
        // The reference's default for every method; checkpoints record the type they were built
        // with (VICRegEquiMod's used to default to the MLP), see `train::run` for resuming them.
        let predictor_type = self.predictor_type.unwrap_or(PredictorType::Hypernetwork);
        if self.tf_num_layers == 0 {
            bail!("--tf-num-layers must be at least 1");
        }
        Ok(ModelConfig {
            experience: self.experience,
            arch: self.arch,
            repr_dim,
            equi,
            mlp,
            hypernetwork: self.hypernetwork,
            predictor: parse_sizes(&self.predictor, "--predictor")?,
            predictor_relu: self.predictor_relu,
            predictor_type,
            tf_num_layers: self.tf_num_layers,
            bias_pred: self.bias_pred,
            bias_hypernet: self.bias_hypernet,
            num_classes,
            translation_latent: self.translation_latent,
            equi_emb,
        })
    }

    /// Checks the flags that do not depend on the dataset.
    pub fn validate(&self) -> anyhow::Result<()> {
        if self.translation_latent && !self.experience.uses_latent() {
            bail!("--translation-latent: {:?} has no predictor to condition on a latent", self.experience);
        }
        if self.batch_size < 2 {
            bail!("--batch-size {} must be at least 2 (batch statistics need two samples)", self.batch_size);
        }
        if self.resolution < 32 {
            bail!("--resolution {} must be at least 32", self.resolution);
        }
        if self.log_interval == 0 {
            bail!("--log-interval must be at least 1");
        }
        self.live.validate(self.render.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(extra: &[&str]) -> TrainArgs {
        let mut v = vec!["train", "--data", "d", "--exp-dir", "e"];
        v.extend_from_slice(extra);
        TrainArgs::parse_from(v)
    }

    #[test]
    fn reference_defaults() {
        let a = args(&[]);
        assert_eq!((a.epochs, a.batch_size, a.base_lr, a.wd), (100, 1024, 1e-3, 1e-6));
        assert_eq!((a.sim_coeff, a.std_coeff, a.cov_coeff, a.equi_factor), (10.0, 10.0, 1.0, 0.45));
        assert_eq!(a.resolution, 256);
        let m = a.model_config(55).unwrap();
        assert_eq!(m.experience.name(), "SIE");
        assert_eq!((m.repr_dim, m.equi, m.inv_repr()), (512, 256, 256));
        assert_eq!(m.scaled_mlp(256), vec![1024, 1024, 1024]);
        assert_eq!(m.predictor_type, PredictorType::Hypernetwork);
        assert_eq!(a.images_file(), PathBuf::from("d/train_images.npy"));
    }

    #[test]
    fn scaling_rounds_like_numpy_and_flags_parse() {
        let a = args(&[
            "--equi",
            "100",
            "--mlp",
            "100-10",
            "--experience",
            "VICRegEquiMod",
            "--predictor",
            "8-8",
        ]);
        let m = a.model_config(3).unwrap();
        assert_eq!(m.equi, 0, "not a split method");
        assert_eq!(m.predictor_type, PredictorType::Hypernetwork, "the reference's default");
        assert_eq!(m.predictor, vec![8, 8]);
        let s = args(&["--equi", "100", "--mlp", "100-10"]).model_config(3).unwrap();
        assert_eq!(s.scaled_mlp(100), vec![20, 2]); // 19.53 -> 20, 1.95 -> 2
        assert!(args(&["--equi", "512"]).model_config(3).is_err());
        assert!(args(&["--mlp", "1-x"]).model_config(3).is_err());
    }

    #[test]
    fn new_methods_latents_predictors_and_part_inv_split() {
        for (e, dim, pred, augself) in [
            (Experience::named("SimCLRAugSelf").unwrap(), 4, false, true),
            (Experience::named("SimCLRAugSelfRotColor").unwrap(), 6, false, true),
            (Experience::named("SimCLROnlyEqui").unwrap(), 4, true, false),
            (Experience::named("SimCLROnlyEquiRotColor").unwrap(), 6, true, false),
            (Experience::named("SimCLREquiMod").unwrap(), 4, true, false),
            (Experience::named("SimCLREquiModRotColor").unwrap(), 6, true, false),
            (Experience::named("VICRegPartInv").unwrap(), 4, false, false),
        ] {
            assert_eq!(
                (e.latent_dim(), e.has_predictor(), e.is_augself(), e.is_split()),
                (dim, pred, augself, false)
            );
            assert_eq!(e.uses_latent(), pred || augself, "{e:?}");
        }
        // Every method defaults to the hypernetwork predictor; the MLP stays a flag away.
        for e in ["VICRegEquiMod", "SimCLREquiMod", "SimCLROnlyEqui", "SIE"] {
            let m = args(&["--experience", e]).model_config(3).unwrap();
            assert_eq!(m.predictor_type, PredictorType::Hypernetwork, "{e}");
            let m = args(&["--experience", e, "--predictor-type", "mlp"]).model_config(3).unwrap();
            assert_eq!(m.predictor_type, PredictorType::Mlp, "{e}");
        }
        // VICRegPartInv: --equi counts embedding dims (the reference's 256 of 2048 by default);
        // the representation is not split.
        let m = args(&["--experience", "VICRegPartInv"]).model_config(3).unwrap();
        assert_eq!((m.equi, m.equi_emb, m.inv_repr()), (0, 256, 512));
        let m = args(&["--experience", "VICRegPartInv", "--mlp", "64-32", "--equi", "8"])
            .model_config(3)
            .unwrap();
        assert_eq!(m.equi_emb, 8);
        assert!(args(&["--experience", "VICRegPartInv", "--mlp", "64-32"]).model_config(3).is_err());
        assert_eq!(args(&["--experience", "SIE"]).model_config(3).unwrap().equi_emb, 0);
        assert_eq!(args(&[]).ec_weight, 1.0);
        assert!(args(&["--experience", "SimCLRAugSelf", "--translation-latent"]).validate().is_ok());
        assert!(args(&["--experience", "VICRegPartInv", "--translation-latent"]).validate().is_err());
    }

    /// Checkpoints written before `--ec-weight` and `equi_emb` existed still parse.
    #[test]
    fn configs_from_before_the_new_fields_parse() {
        let mut a = serde_json::to_value(args(&[])).unwrap();
        a.as_object_mut().unwrap().remove("ec_weight");
        let a: TrainArgs = serde_json::from_value(a).unwrap();
        assert_eq!(a.ec_weight, 1.0);
        let mut m = serde_json::to_value(args(&[]).model_config(3).unwrap()).unwrap();
        m.as_object_mut().unwrap().remove("equi_emb");
        let m: ModelConfig = serde_json::from_value(m).unwrap();
        assert_eq!(m.equi_emb, 0);
    }
}

#[cfg(test)]
mod checkpoint_tests {
    use super::*;
    use model::checkpoint::parse_model_config;

    #[test]
    fn model_configs_without_a_predictor_type_load_with_the_default_they_were_trained_with() {
        use clap::Parser;
        let args =
            |e: &str| TrainArgs::parse_from(["train", "--data", "d", "--exp-dir", "e", "--experience", e]);
        for (e, want) in [("VICRegEquiMod", PredictorType::Mlp), ("SIE", PredictorType::Hypernetwork)] {
            let mut v = serde_json::to_value(args(e).model_config(5).unwrap()).unwrap();
            v.as_object_mut().unwrap().remove("predictor_type");
            let m = parse_model_config(&v.to_string()).unwrap();
            assert_eq!(m.predictor_type, want, "{e}");
        }
        // A recorded type is kept.
        let mut m = args("VICRegEquiMod").model_config(5).unwrap();
        assert_eq!(m.predictor_type, PredictorType::Hypernetwork);
        assert_eq!(parse_model_config(&serde_json::to_string(&m).unwrap()).unwrap(), m);
        m.predictor_type = PredictorType::Mlp;
        assert_eq!(parse_model_config(&serde_json::to_string(&m).unwrap()).unwrap(), m);
        assert_eq!(m.experience, Experience::named("VICRegEquiMod").unwrap());
    }
}
