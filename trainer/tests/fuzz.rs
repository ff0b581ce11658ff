//! Fuzz-style: truncated and random bytes as JPEG, PNG, `.npy` latent and safetensors files
//! (checkpoint, feature cache) give a clear error naming the file, never a panic.

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use candle_core::Device;

use dataset::fuzz::damaged;

/// `f` on every damaged copy of `valid` written to `path`: no panic; errors name the file.
fn check<T>(path: &Path, valid: &[u8], f: impl Fn() -> anyhow::Result<T>) {
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    for bad in damaged(valid) {
        std::fs::write(path, &bad).unwrap();
        let r = catch_unwind(AssertUnwindSafe(&f))
            .unwrap_or_else(|_| panic!("{name}: panicked on {} bytes", bad.len()));
        if let Err(e) = r {
            assert!(format!("{e:#}").contains(&name), "{name}: the error must name the file: {e:#}");
        }
    }
}

#[test]
fn damaged_images_latents_and_safetensors_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    let mut jpeg = Vec::new();
    image::RgbImage::from_fn(16, 16, |x, y| image::Rgb([x as u8 * 16, y as u8 * 16, 90]))
        .write_to(&mut std::io::Cursor::new(&mut jpeg), image::ImageFormat::Jpeg)
        .unwrap();
    let path = dir.path().join("image_0.jpg");
    check(&path, &jpeg, || dataset::pixels::load_image(&path, 8));
    check(&path, &jpeg, || dataset::integrity::image_file_is_whole(&path));
    let mut png = Vec::new();
    image::RgbImage::from_pixel(16, 16, image::Rgb([1, 2, 3]))
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    let path = dir.path().join("image_1.png");
    check(&path, &png, || dataset::pixels::load_image(&path, 8));

    let latent =
        dataset::Latent { translation: Some([0.1, 0.2, 0.3]), ..dataset::Latent::from_array([0.5; 7]) };
    let path = dir.path().join("latent_0.npy");
    check(&path, &latent.to_npy(), || dataset::Latent::read(&path));

    // A real checkpoint, damaged: refused with its name (the checksum catches what parses).
    let (fixture_dir, data) = common::fixture(4, 3);
    let exp = fixture_dir.path().join("run");
    run(&common::args(&data, &exp, &["--epochs", "1"])).unwrap();
    let ckpt = exp.join(model::checkpoint::CHECKPOINT_FILE);
    let valid = std::fs::read(&ckpt).unwrap();
    check(&ckpt, &valid, || model::checkpoint::read(&ckpt, &Device::Cpu));
    let cache = dir.path().join("features.safetensors");
    check(&cache, &valid, || eval::features::FeatureCache::load(&cache, &Device::Cpu));
}

/// `train` in this process, alone.
fn run(args: &trainer::config::TrainArgs) -> anyhow::Result<trainer::train::RunSummary> {
    trainer::train::run(args, &comm::Group::alone())
}
