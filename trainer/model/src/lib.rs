//! The SIE model and its baselines, as values: what a model is made of and how it computes.
//!
//! Bottom to top (each module uses only those above it in this list):
//! [`params`] (named, seeded parameters), [`stats`] (a step's statistics, kept on the device),
//! [`nn`] (layers and the [`nn::Pass`] a forward pass carries: mode, kernels, ranks),
//! [`backbone`], [`predictor`], [`loss`], [`evaluator`] (the online probes), [`methods`] (one
//! module per method: its heads and loss, and the registry `--experience` is parsed from),
//! [`config`] (what fixes a model), [`global_loss`] (the loss inputs of every rank), [`model`]
//! (the [`SslModel`] every program builds), [`optim`] (Adam), [`checkpoint`] (safetensors,
//! loading a model, torchvision export), [`synthetic`] (a seeded random batch).
//!
//! The ops come from `kernels`, the ranks from `comm`; both are values held by the model.

pub mod backbone;
pub mod checkpoint;
pub mod config;
pub mod evaluator;
pub mod global_loss;
pub mod loss;
pub mod methods;
pub mod model;
pub mod nn;
pub mod optim;
pub mod params;
pub mod predictor;
pub mod stats;
pub mod synthetic;

pub use model::{Batch, SslModel};
