//! The reference protocol's PRE, MRR and Hit@k (train-train, val-val, val-all) against NumPy on a
//! small fixed case with ties, the identity pair and retrieval across objects and splits
//! (`tests/fixtures/retrieval/retrieval.py` runs the reference scripts' loops; its output,
//! `retrieval.json`, is checked in).

use anyhow::Result;
use candle_core::{Device, Tensor};
use eval::features::{SplitFeatures, SplitIndex};
use eval::retrieval::{self, Prediction};
use eval::tasks::EmbeddingPredictor;

fn fixture() -> serde_json::Value {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/retrieval/retrieval.json");
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn floats<T: serde::de::DeserializeOwned>(v: &serde_json::Value) -> Vec<T> {
    serde_json::from_value(v.clone()).unwrap()
}

fn split(v: &serde_json::Value, views: usize, dims: usize) -> SplitFeatures {
    let embeddings: Vec<f32> = floats(&v["embeddings"]);
    let latents: Vec<f64> = floats(&v["latents"]);
    let rows = embeddings.len() / dims;
    let objects = rows / views;
    let index = SplitIndex {
        objects: (0..objects).map(|i| format!("/s/{i}/")).collect(),
        labels: vec![0; objects],
        offsets: (0..=objects).map(|i| i * views).collect(),
        views: (0..rows).map(|r| r % views).collect(),
    };
    SplitFeatures {
        index,
        reps: Tensor::zeros((rows, 2), candle_core::DType::F32, &Device::Cpu).unwrap(),
        equi_embeddings: Some(Tensor::from_vec(embeddings, (rows, dims), &Device::Cpu).unwrap()),
        latents: Tensor::from_vec(latents, (rows, 7), &Device::Cpu).unwrap(),
        translations: None,
    }
}

/// The fixture's toy predictor: embedding + quaternion @ A.
struct Toy(Tensor);

impl EmbeddingPredictor for Toy {
    fn latent_dim(&self) -> usize {
        4
    }

    fn predict(&self, embeddings: &Tensor, latents: &Tensor) -> Result<Tensor> {
        Ok((embeddings + latents.matmul(&self.0)?)?)
    }
}

#[test]
fn reference_scores_match_numpy() {
    let f = fixture();
    let (views, dims) = (f["views"].as_u64().unwrap() as usize, f["dims"].as_u64().unwrap() as usize);
    let (train, val) = (split(&f["train"], views, dims), split(&f["val"], views, dims));
    let toy = Toy(Tensor::from_vec(floats::<f32>(&f["predictor_a"]), (4, dims), &Device::Cpu).unwrap());
    for (name, how) in [("identity", Prediction::Identity), ("trained", Prediction::Trained(&toy))] {
        let got = retrieval::reference_scores(&train, &val, &how).unwrap();
        let got = serde_json::to_value(&got).unwrap();
        let want = &f["expected"][name];
        for mode in ["train-train", "val-val", "val-all"] {
            let keys: Vec<&str> =
                if mode == "val-all" { vec!["PRE"] } else { vec!["PRE", "MRR", "H@1", "H@2", "H@5", "H@10"] };
            assert_eq!(got[mode].as_object().unwrap().len(), keys.len(), "{name} {mode}: {}", got[mode]);
            for key in keys {
                let (g, w) = (got[mode][key].as_f64().unwrap(), want[mode][key].as_f64().unwrap());
                assert!((g - w).abs() < 1e-6, "{name} {mode} {key}: {g} vs NumPy {w}");
            }
        }
    }
}
