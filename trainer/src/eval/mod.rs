//! Evaluation of trained models on frozen features (SPEC section 5): metrics, probes, the feature
//! cache, the evaluation tasks and their reports.

pub mod chart;
pub mod checkpoint_model;
pub mod export;
pub mod extract;
pub mod features;
pub mod images;
pub mod live_probes;
pub mod metrics;
pub mod pairs;
pub mod probe;
pub mod report;
pub mod retrieval;
pub mod rng;
pub mod run;
pub mod tasks;
pub mod toy;
