//! Pairs of distinct views of the same object, drawn deterministically, and their targets.

use anyhow::{ensure, Result};
use candle_core::{Device, Tensor};

use super::features::SplitIndex;
use super::rng::SplitMix64;

/// Row indices of (view 1, view 2) pairs into a split's feature rows.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Pairs {
    pub first: Vec<u32>,
    pub second: Vec<u32>,
}

impl Pairs {
    pub fn len(&self) -> usize {
        self.first.len()
    }

    pub fn is_empty(&self) -> bool {
        self.first.is_empty()
    }
}

/// `per_object` pairs of two distinct views for every object with at least two views, drawn
/// uniformly from `(seed, purpose)`: the same arguments always give the same pairs.
pub fn draw(index: &SplitIndex, per_object: usize, seed: u64, purpose: u64) -> Pairs {
    let mut rng = SplitMix64::derive(seed, purpose);
    let mut pairs = Pairs::default();
    for object in 0..index.objects.len() {
        let rows = index.object_rows(object);
        let n = rows.len();
        if n < 2 {
            continue;
        }
        for _ in 0..per_object {
            let a = rng.below(n);
            let b = (a + 1 + rng.below(n - 1)) % n;
            pairs.first.push((rows.start + a) as u32);
            pairs.second.push((rows.start + b) as u32);
        }
    }
    pairs
}

/// The class label of each pair (both views are of one object).
pub fn pair_labels(index: &SplitIndex, pairs: &Pairs) -> Vec<i64> {
    pairs.first.iter().map(|&row| index.label_of_row(row as usize)).collect()
}

/// Relative rotation targets (n, 4): the trainer's pair latent (quaternion of R1^-1 R2, SciPy order).
pub fn rotation_targets(latents: &[[f64; 7]], pairs: &Pairs) -> Vec<f32> {
    pair_targets(latents, pairs, |l| l[..4].to_vec())
}

/// Colour targets (n, 2): (floor_hue_2 - floor_hue_1, light_hue_2 - light_hue_1), the colour part
/// of the trainer's rotation+colour pair latent.
pub fn colour_targets(latents: &[[f64; 7]], pairs: &Pairs) -> Vec<f32> {
    pair_targets(latents, pairs, |l| l[4..].to_vec())
}

/// Translation targets (n, 3): t2 - t1, as the trainer's translation latent holds it.
pub fn translation_targets(translations: &[[f64; 3]], pairs: &Pairs) -> Vec<f32> {
    pairs
        .first
        .iter()
        .zip(&pairs.second)
        .flat_map(|(&a, &b)| {
            let (t1, t2) = (translations[a as usize], translations[b as usize]);
            dataset::pair::translation_delta(t1, t2)
        })
        .collect()
}

/// Concatenates a part of [`dataset::pair::pair_latent`] (rotation + colour kind) over the pairs.
fn pair_targets(latents: &[[f64; 7]], pairs: &Pairs, part: impl Fn(&[f32]) -> Vec<f32>) -> Vec<f32> {
    let latent = |i: u32| dataset::Latent::from_array(latents[i as usize]);
    pairs
        .first
        .iter()
        .zip(&pairs.second)
        .flat_map(|(&a, &b)| {
            part(
                &dataset::pair::pair_latent(
                    &latent(a),
                    &latent(b),
                    dataset::pair::LatentKind::ROTATION_COLOUR,
                )
                .expect("no translation asked for"),
            )
        })
        .collect()
}

/// The trainer's pair latents (n, kind.dim()) of the pairs, from a split's latents and
/// translations (as [`dataset::pair::pair_latent`] builds them from the latent files).
pub fn pair_latents(
    split: &super::features::SplitFeatures,
    pairs: &Pairs,
    kind: dataset::pair::LatentKind,
) -> Result<Vec<f32>> {
    let latents = split.latent_rows()?;
    let translations = split.translation_rows()?;
    let latent = |i: u32| dataset::Latent {
        translation: translations.as_ref().map(|t| t[i as usize]),
        ..dataset::Latent::from_array(latents[i as usize])
    };
    let mut out = Vec::with_capacity(pairs.len() * kind.dim());
    for (&a, &b) in pairs.first.iter().zip(&pairs.second) {
        out.extend(dataset::pair::pair_latent(&latent(a), &latent(b), kind)?);
    }
    Ok(out)
}

/// Probe inputs (n, 2 * cols): the two views' feature rows concatenated.
pub fn concat_inputs(features: &Tensor, pairs: &Pairs) -> Result<Tensor> {
    ensure!(!pairs.is_empty(), "no pairs: every object has fewer than two views");
    let device = features.device();
    let first = Tensor::from_slice(&pairs.first, pairs.len(), device)?;
    let second = Tensor::from_slice(&pairs.second, pairs.len(), device)?;
    Ok(Tensor::cat(&[features.index_select(&first, 0)?, features.index_select(&second, 0)?], 1)?)
}

/// (n, cols) tensor from row-major targets.
pub fn target_tensor(values: Vec<f32>, cols: usize, device: &Device) -> Result<Tensor> {
    let rows = values.len() / cols;
    Ok(Tensor::from_vec(values, (rows, cols), device)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pair_takes_the_label_of_the_object_that_owns_its_rows() {
        // Objects of 2, 3 and 1 views, labelled 5, 1, 5.
        let index = SplitIndex {
            objects: vec!["/a/0/".into(), "/b/1/".into(), "/a/2/".into()],
            labels: vec![5, 1, 5],
            offsets: vec![0, 2, 5, 6],
            views: vec![0, 1, 0, 1, 2, 0],
        };
        assert_eq!((0..6).map(|row| index.label_of_row(row)).collect::<Vec<_>>(), [5, 5, 1, 1, 1, 5]);
        let pairs = draw(&index, 2, 0, 0);
        assert_eq!(pairs.len(), 4, "the one-view object gives no pair");
        assert_eq!(pair_labels(&index, &pairs), [5, 5, 1, 1]);
    }
}
