//! Geometry tests that need no reference image: the rendered silhouette of a known box must be
//! where the camera maths of SPEC section 3, computed here independently, puts it, for the
//! identity and for SciPy's rotation matrices (`../shared/data/rotations.json`).
//! Without any wgpu adapter the rendering tests fail, unless RENDER_TESTS_WITHOUT_ADAPTER=1.

mod common;

use std::path::Path;

use dataset::config::TranslationFrame;
use dataset::factors::{reference_scene, Camera, ViewFactors};
use dataset::Latent;
use glam::{Mat3, Vec3};
use renderer::gpu::{Antialias, RenderOptions, Renderer};
use renderer::mesh::{Material, Mesh};

const SIZE: u32 = 256;
/// Half extents of the test box (world metres): deliberately not a cube, so rotations show.
const HALF: [f32; 3] = [0.3, 0.17, 0.09];

#[derive(serde::Deserialize)]
struct Row {
    euler_1: [f64; 3],
    matrix_1: [[f64; 3]; 3],
}

#[derive(serde::Deserialize)]
struct Reference {
    rows: Vec<Row>,
}

fn scipy_rows() -> Vec<Row> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/rotations.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str::<Reference>(&text).unwrap().rows
}

fn renderer() -> Option<Renderer> {
    renderer_with(SIZE)
}

/// A renderer without anti-aliasing, with masks; `None` (the test is skipped) without any adapter.
fn renderer_with(image_size: u32) -> Option<Renderer> {
    let opts = RenderOptions { image_size, mask: true, antialias: Antialias::None, ..Default::default() };
    match Renderer::new(opts) {
        Ok(r) => Some(r),
        Err(e) => {
            common::skip_without_adapter(&e, "geometry rendering tests");
            None
        }
    }
}

fn corners() -> Vec<Vec3> {
    let mut out = Vec::new();
    for sx in [-1.0, 1.0] {
        for sy in [-1.0, 1.0] {
            for sz in [-1.0, 1.0] {
                out.push(Vec3::new(sx * HALF[0], sy * HALF[1], sz * HALF[2]));
            }
        }
    }
    out
}

fn box_mesh() -> Mesh {
    let c = corners();
    // Corner index bits: x = 4, y = 2, z = 1. Two triangles per face.
    let faces = [[0, 1, 3, 2], [4, 6, 7, 5], [0, 4, 5, 1], [2, 3, 7, 6], [0, 2, 6, 4], [1, 5, 7, 3]];
    let mut triangles = Vec::new();
    for f in faces {
        let p = f.map(|i| c[i].to_array());
        triangles.push([p[0], p[1], p[2]]);
        triangles.push([p[0], p[2], p[3]]);
    }
    Mesh::from_triangles(&triangles, Material::default())
}

/// The reference camera, written out from SPEC section 3 without the renderer's code: eye at
/// spherical (2.5, pi/4, pi/2), looking at the origin, +Z up, square fov 2 atan(18/50).
/// Returns pixel coordinates (x right, y down, pixel centres at +0.5).
fn project(p: Vec3) -> [f32; 2] {
    let eye =
        Vec3::new(0.0, 2.5 * std::f32::consts::FRAC_PI_4.sin(), 2.5 * std::f32::consts::FRAC_PI_4.cos());
    project_from(p, eye, 50.0)
}

/// [`project`] from any eye looking at the origin, with a focal length in mm on 36 mm.
fn project_from(p: Vec3, eye: Vec3, focal_mm: f32) -> [f32; 2] {
    let forward = (Vec3::ZERO - eye).normalize();
    let right = forward.cross(Vec3::Z).normalize();
    let up = right.cross(forward);
    let d = p - eye;
    let tan_half = 18.0f32 / focal_mm;
    let x = d.dot(right) / d.dot(forward) / tan_half;
    let y = d.dot(up) / d.dot(forward) / tan_half;
    [(x + 1.0) * 0.5 * SIZE as f32, (1.0 - y) * 0.5 * SIZE as f32]
}

fn convex_hull(mut pts: Vec<[f32; 2]>) -> Vec<[f32; 2]> {
    pts.sort_by(|a, b| a[0].total_cmp(&b[0]).then(a[1].total_cmp(&b[1])));
    let cross =
        |o: [f32; 2], a: [f32; 2], b: [f32; 2]| (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);
    let mut hull: Vec<[f32; 2]> = Vec::new();
    for pass in 0..2 {
        let start = hull.len();
        let iter: Box<dyn Iterator<Item = &[f32; 2]>> =
            if pass == 0 { Box::new(pts.iter()) } else { Box::new(pts.iter().rev()) };
        for &p in iter {
            while hull.len() >= start + 2 && cross(hull[hull.len() - 2], hull[hull.len() - 1], p) <= 0.0 {
                hull.pop();
            }
            hull.push(p);
        }
        hull.pop();
    }
    hull
}

fn polygon_area_and_centroid(poly: &[[f32; 2]]) -> (f32, [f32; 2]) {
    let (mut a, mut cx, mut cy) = (0.0, 0.0, 0.0);
    for i in 0..poly.len() {
        let (p, q) = (poly[i], poly[(i + 1) % poly.len()]);
        let w = p[0] * q[1] - q[0] * p[1];
        a += w;
        cx += (p[0] + q[0]) * w;
        cy += (p[1] + q[1]) * w;
    }
    (a.abs() / 2.0, [cx / (3.0 * a), cy / (3.0 * a)])
}

struct Silhouette {
    area: f32,
    centroid: [f32; 2],
    min: [f32; 2],
    max: [f32; 2],
}

fn mask_silhouette(mask: &[u8]) -> Silhouette {
    mask_silhouette_sized(mask, SIZE)
}

fn mask_silhouette_sized(mask: &[u8], size: u32) -> Silhouette {
    let (mut n, mut sx, mut sy) = (0.0f32, 0.0f32, 0.0f32);
    let (mut min, mut max) = ([f32::MAX; 2], [f32::MIN; 2]);
    for (i, &m) in mask.iter().enumerate() {
        if m == 255 {
            let (x, y) = ((i as u32 % size) as f32 + 0.5, (i as u32 / size) as f32 + 0.5);
            n += 1.0;
            sx += x;
            sy += y;
            min = [min[0].min(x), min[1].min(y)];
            max = [max[0].max(x), max[1].max(y)];
        } else {
            assert_eq!(m, 0, "mask values are 0 or 255");
        }
    }
    Silhouette { area: n, centroid: [sx / n, sy / n], min, max }
}

fn expected_silhouette(rotation: Mat3) -> Silhouette {
    expected_silhouette_of(|c| project(rotation * c))
}

/// The silhouette of the box whose corners `to_pixel` maps to the image.
fn expected_silhouette_of(to_pixel: impl Fn(Vec3) -> [f32; 2]) -> Silhouette {
    let projected: Vec<[f32; 2]> = corners().into_iter().map(to_pixel).collect();
    let hull = convex_hull(projected.clone());
    let (area, centroid) = polygon_area_and_centroid(&hull);
    let min = [0, 1].map(|k| projected.iter().map(|p| p[k]).fold(f32::MAX, f32::min));
    let max = [0, 1].map(|k| projected.iter().map(|p| p[k]).fold(f32::MIN, f32::max));
    Silhouette { area, centroid, min, max }
}

fn assert_matches(got: &Silhouette, want: &Silhouette, what: &str) {
    for k in 0..2 {
        // Pixel centres inside the silhouette: near its bounds (a sharp corner can reach further).
        assert!(
            (got.min[k] - want.min[k]).abs() <= 1.5,
            "{what}: min[{k}] {} vs {}",
            got.min[k],
            want.min[k]
        );
        assert!(
            (got.max[k] - want.max[k]).abs() <= 1.5,
            "{what}: max[{k}] {} vs {}",
            got.max[k],
            want.max[k]
        );
        assert!(
            (got.centroid[k] - want.centroid[k]).abs() <= 0.25,
            "{what}: centroid[{k}] {} vs {}",
            got.centroid[k],
            want.centroid[k]
        );
    }
    let rel = (got.area - want.area).abs() / want.area;
    assert!(rel < 0.02, "{what}: area {} px vs {} px", got.area, want.area);
}

fn latent_with_rotation(rotation: [f64; 3]) -> Latent {
    Latent { rotation, ..Latent::from_array([0.0, 0.0, 0.0, 0.3, 0.4, 1.0, 0.7]) }
}

fn view_with_rotation(rotation: [f64; 3]) -> ViewFactors {
    reference_scene(latent_with_rotation(rotation))
}

#[test]
fn object_rotation_is_scipy_extrinsic_xyz() {
    for row in scipy_rows() {
        let m = renderer::gpu::scene::object_rotation(&latent_with_rotation(row.euler_1));
        for r in 0..3 {
            for c in 0..3 {
                assert!((m.col(c)[r] as f64 - row.matrix_1[r][c]).abs() < 1e-6, "{:?}", row.euler_1);
            }
        }
    }
}

#[test]
fn scene_camera_matches_the_spec() {
    let camera = view_with_rotation([0.0; 3]).camera;
    let eye = renderer::gpu::scene::camera_position(&camera);
    assert!((eye - Vec3::new(0.0, 1.767767, 1.767767)).length() < 1e-5, "{eye}");
    assert!((renderer::gpu::scene::camera_fov(&camera).to_degrees() - 39.5978).abs() < 1e-3);
    for p in [Vec3::ZERO, Vec3::new(0.3, -0.2, 0.1), Vec3::new(-0.4, 0.4, -0.5)] {
        let got = renderer::gpu::scene::project_to_pixel(p, &camera, SIZE).unwrap();
        let want = project(p);
        assert!(
            (got[0] - want[0]).abs() < 1e-3 && (got[1] - want[1]).abs() < 1e-3,
            "{p}: {got:?} vs {want:?}"
        );
    }
    // The origin is the image centre.
    assert_eq!(project(Vec3::ZERO), [128.0, 128.0]);
}

#[test]
fn silhouette_matches_camera_maths_for_scipy_rotations() {
    let Some(mut renderer) = renderer() else { return };
    let gpu = renderer.upload(&box_mesh()).unwrap();
    let rows = scipy_rows();
    let mut cases = vec![(latent_with_rotation([0.0; 3]), Mat3::IDENTITY)];
    for row in rows.iter().take(6) {
        let m = Mat3::from_cols_array_2d(&[0, 1, 2].map(|c| [0, 1, 2].map(|r| row.matrix_1[r][c] as f32)));
        cases.push((latent_with_rotation(row.euler_1), m));
    }
    let latents: Vec<ViewFactors> = cases.iter().map(|c| reference_scene(c.0)).collect();
    let frames = renderer.render_views(&gpu, &latents).unwrap();
    for ((latent, matrix), frame) in cases.iter().zip(&frames) {
        let mask = frame.mask.as_ref().expect("mask requested");
        assert_matches(
            &mask_silhouette(mask),
            &expected_silhouette(*matrix),
            &format!("rotation {:?}", latent.rotation),
        );
    }
}

#[test]
fn silhouette_does_not_depend_on_floor_or_light() {
    let Some(mut renderer) = renderer() else { return };
    let gpu = renderer.upload(&box_mesh()).unwrap();
    let a = Latent::from_array([0.3, -0.2, 0.9, 0.1, 0.0, 0.0, 0.2]);
    let b = Latent { floor_hue: 0.8, light_theta: 0.7, light_phi: 3.0, light_hue: 0.9, ..a };
    let frames = renderer.render_views(&gpu, &[reference_scene(a), reference_scene(b)]).unwrap();
    assert_eq!(frames[0].mask, frames[1].mask);
    assert_ne!(frames[0].rgb, frames[1].rgb);
}

#[test]
fn rows_are_unpadded_at_sizes_that_are_not_multiples_of_64() {
    // 100 px: 400-byte rows, padded to 512 in the readback; the frame must not show the padding.
    let Some(mut renderer) = renderer_with(100) else { return };
    let gpu = renderer.upload(&box_mesh()).unwrap();
    let frame = renderer.render_views(&gpu, &[view_with_rotation([0.2, 0.4, -0.3])]).unwrap().remove(0);
    assert_eq!(frame.rgb.len(), 100 * 100 * 3);
    let got = mask_silhouette_sized(frame.mask.as_ref().unwrap(), 100);
    let rotation = renderer::gpu::scene::object_rotation(&latent_with_rotation([0.2, 0.4, -0.3]));
    let want = expected_silhouette(rotation);
    let scale = 100.0 / SIZE as f32;
    for k in 0..2 {
        assert!(
            (got.centroid[k] - want.centroid[k] * scale).abs() < 0.3,
            "{:?} vs {:?}",
            got.centroid,
            want.centroid
        );
    }
}

#[test]
fn translation_scale_and_camera_put_the_silhouette_where_the_projection_predicts() {
    let Some(mut renderer) = renderer() else { return };
    let gpu = renderer.upload(&box_mesh()).unwrap();
    let row = &scipy_rows()[1];
    let r = Mat3::from_cols_array_2d(&[0, 1, 2].map(|c| [0, 1, 2].map(|k| row.matrix_1[k][c] as f32)));
    let reference_eye = Vec3::new(0.0, 1.767767, 1.767767);
    // (factors, the independent model of where a box corner lands, eye, focal length).
    type Model = Box<dyn Fn(Vec3) -> Vec3>;
    let mut cases: Vec<(ViewFactors, Model, Vec3, f32)> = Vec::new();
    let mut object_frame = view_with_rotation(row.euler_1);
    object_frame.translation = [0.3, -0.2, 0.1];
    object_frame.scale = 1.4;
    let t = Vec3::new(0.3, -0.2, 0.1);
    cases.push((object_frame, Box::new(move |c| r * (1.4 * c + t)), reference_eye, 50.0));
    let mut world_frame = object_frame;
    world_frame.translation_frame = TranslationFrame::World;
    world_frame.translation = [-0.25, 0.3, -0.1];
    world_frame.scale = 0.7;
    let t = Vec3::new(-0.25, 0.3, -0.1);
    cases.push((world_frame, Box::new(move |c| r * (0.7 * c) + t), reference_eye, 50.0));
    let mut camera = view_with_rotation(row.euler_1);
    camera.camera = Camera { distance: 3.0, elevation: 0.6, azimuth: 2.0, focal_length: 35.0 };
    let eye = 3.0 * Vec3::new(0.6f32.cos() * 2.0f32.cos(), 0.6f32.cos() * 2.0f32.sin(), 0.6f32.sin());
    cases.push((camera, Box::new(move |c| r * c), eye, 35.0));

    let factors: Vec<ViewFactors> = cases.iter().map(|c| c.0).collect();
    let frames = renderer.render_views(&gpu, &factors).unwrap();
    let reference = expected_silhouette(r);
    for ((f, model, eye, focal), frame) in cases.iter().zip(&frames) {
        let want = expected_silhouette_of(|c| project_from(model(c), *eye, *focal));
        let got = mask_silhouette(frame.mask.as_ref().unwrap());
        // Each case must really move or resize the silhouette, or the test proves nothing.
        let moved =
            (want.centroid[0] - reference.centroid[0]).hypot(want.centroid[1] - reference.centroid[1]);
        assert!(moved > 10.0 || (want.area / reference.area - 1.0).abs() > 0.3, "{f:?}");
        assert_matches(&got, &want, &format!("{f:?}"));
    }
}

#[test]
fn depth_is_the_distance_to_the_camera_in_millimetres() {
    let opts = RenderOptions {
        image_size: SIZE,
        mask: true,
        depth: true,
        antialias: Antialias::None,
        ..Default::default()
    };
    let mut renderer = match Renderer::new(opts) {
        Ok(r) => r,
        Err(e) if common::skip_without_adapter(&e, "the depth test") => return,
        Err(e) => unreachable!("{e}"),
    };
    let gpu = renderer.upload(&box_mesh()).unwrap();
    let mut aside = view_with_rotation([0.0; 3]);
    aside.translation_frame = TranslationFrame::World;
    aside.translation = [0.9, 0.0, 0.0];
    let frames = renderer.render_views(&gpu, &[aside, view_with_rotation([0.0; 3])]).unwrap();
    let centre = (SIZE / 2 * SIZE + SIZE / 2) as usize;
    // With the box moved aside, the centre ray meets the floor (z = -1): the eye is at
    // (0, 1.7678, 1.7678) looking along (0, -1, -1)/sqrt(2), so t = 2.7678 sqrt(2) = 3.914 m.
    let floor = frames[0].depth.as_ref().unwrap()[centre] as f32;
    assert!((floor - 3914.2).abs() < 15.0, "floor at {floor} mm");
    // The box at the origin: its top face (z = 0.09) is nearer than the origin (2.5 m).
    let object = frames[1].depth.as_ref().unwrap()[centre] as f32;
    assert!(object > 2000.0 && object < 2500.0, "object at {object} mm");
    assert!(frames[1].depth.as_ref().unwrap().iter().all(|&d| d > 0), "the floor fills the view");
}
