//! Numbers checked on golden scenes (the images themselves: `golden.rs`): where a look feature
//! has a value to match, the scene file's render is held to it.

mod common;

use common::golden::{Renderers, Scene};
use renderer::gpu::filmic;
use renderer::gpu::scene::{sun_disc_mean_cosine, SUN_ANGULAR_DIAMETER, WORLD_RADIANCE};

#[test]
fn view_transform_maps_floor_radiance_through_filmic() {
    // Sun and world on a coloured floor: every pixel is Filmic's display value of
    // albedo x (sun x Cycles' disc mean cosine + pi x world radiance) / pi, per channel.
    let scene = Scene::read(&common::repo_root().join("tests/golden/features/view_transform.toml")).unwrap();
    let f = scene.views[0];
    assert_eq!((f.spot_power, f.scale), (0.0, 1e-3), "the scene is the floor under the sun alone");
    let albedo = f.floor_rgb();
    let irradiance = f.sun_strength as f32 * sun_disc_mean_cosine(SUN_ANGULAR_DIAMETER)
        + std::f32::consts::PI * WORLD_RADIANCE;
    let expected = albedo.map(|a| 255.0 * filmic::display(a as f32 * irradiance / std::f32::consts::PI));
    let Some(image) = Renderers::default().render(&scene).unwrap() else { return };
    // Below the centre, away from the (vanishing) object.
    let size = scene.image_size;
    let got = image.get_pixel(size / 2, size * 3 / 4).0;
    for c in 0..3 {
        assert!(
            (got[c] as f32 - expected[c]).abs() <= 2.0,
            "channel {c}: got {got:?}, expected {expected:?}"
        );
    }
}
