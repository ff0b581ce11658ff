//! A reproducible random batch (benchmarks, and the test against PyTorch's numbers): normal
//! images, unit quaternions (then uniform values in [-1, 1) for the rest of a longer latent),
//! uniform labels, all drawn from one ChaCha stream seeded by `seed` (as the parameters are, see
//! `params`: `rand_distr`'s normal sampler needs an `RngCore`; the fixtures pinned against
//! PyTorch's numbers were drawn from this sequence).

use candle_core::{Device, Result, Tensor};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::model::Batch;

/// `n` pairs of `res` x `res` images with `latent`-value latents and labels below `classes`.
pub fn batch(n: usize, res: usize, latent: usize, classes: usize, seed: u64) -> Result<Batch> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let normal = rand_distr::StandardNormal;
    let mut images = || -> Result<Tensor> {
        let v: Vec<f32> = (0..n * 3 * res * res).map(|_| rng.sample(normal)).collect();
        Tensor::from_vec(v, (n, 3, res, res), &Device::Cpu)
    };
    let (x1, x2) = (images()?, images()?);
    let mut z = Vec::with_capacity(n * latent);
    let mut labels = Vec::with_capacity(n);
    for _ in 0..n {
        let q: [f32; 4] = std::array::from_fn(|_| rng.sample(normal));
        let norm = q.iter().map(|v| v * v).sum::<f32>().sqrt();
        z.extend(q.iter().map(|v| v / norm));
        z.extend((4..latent).map(|_| rng.random_range(-1.0f32..1.0)));
        labels.push(rng.random_range(0..classes as u32));
    }
    Ok(Batch {
        x1,
        x2,
        latent: Tensor::from_vec(z, (n, latent), &Device::Cpu)?,
        labels: Tensor::from_vec(labels, n, &Device::Cpu)?,
    })
}

/// Sets the last batch-norm scale of every residual branch (`*.bn2.weight`, 0 at
/// initialisation) to 1. With the reference's zero start those branches output exactly 0 at the
/// first step and every gradient inside them is 0, so a comparison of one step against another
/// implementation would not see the 3x3 convolutions' backward at all.
pub fn wake_residual_branches(model: &crate::model::SslModel) -> Result<()> {
    for (name, var) in model.params.params() {
        if name.ends_with(".bn2.weight") {
            var.set(&var.as_tensor().ones_like()?)?;
        }
    }
    Ok(())
}
