//! Evaluation of trained models on frozen features (SPEC section 5): metrics, probes, the feature
//! cache, the evaluation tasks and their reports.

pub mod features;
pub mod metrics;
pub mod pairs;
pub mod probe;
pub mod rng;
pub mod tasks;
