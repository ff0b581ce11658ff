//! The reference scene (SPEC section 3) as numbers: camera, floor, lights, and the per-view
//! uniform block the shaders read. What a factor configuration can vary (camera, light powers and
//! colours, the object's transform) comes per view in [`ViewFactors`]; the rest is fixed here.
//!
//! Units follow Cycles so the light powers keep their meaning: a spot of power P watts radiates
//! P / (4 pi) W/sr inside its cone (Cycles treats a spot as a masked disc light, of radius
//! [`SPOT_RADIUS`]); a sun of strength S gives an irradiance of S W/m^2 times
//! [`sun_disc_mean_cosine`]; a diffuse surface of albedo a under irradiance E has radiance a E / pi.
//! That radiance is multiplied by [`EXPOSURE`] and mapped to display values by Blender's Filmic
//! view transform ([`super::filmic`]), as the reference's renders are.

use std::f32::consts::{FRAC_PI_2, PI};

use dataset::config::TranslationFrame;
use dataset::factors::{Camera, ViewFactors};
use glam::{Mat3, Mat4, Vec3};

/// Sensor width of Blender's default camera (the focal length is a factor, 50 mm by default).
pub const SENSOR_WIDTH_MM: f32 = 36.0;
/// Near and far planes of the camera (the floor is about 4 m away at the image centre).
pub const CAMERA_NEAR: f32 = 0.1;
pub const CAMERA_FAR: f32 = 40.0;

/// The floor plane's height and half-extent (the reference's is 10 km wide; 25 m fills the view).
pub const FLOOR_Z: f32 = -1.0;
pub const FLOOR_HALF_SIZE: f32 = 25.0;

/// The sun's angular diameter (its strength is a factor, 1.5 W/m^2 by default).
pub const SUN_ANGULAR_DIAMETER: f32 = FRAC_PI_2;
/// Blender's default spot blend and radius (`bpy.data.lights.new` leaves them; power, cone angle
/// and colour are factors). The radius makes the spot a disc light: soft cone edge and shadows.
pub const SPOT_BLEND: f32 = 0.15;
pub const SPOT_RADIUS: f32 = 0.25;

/// Scene-referred radiance to display value before the view transform ([`super::filmic`]).
pub const EXPOSURE: f32 = 1.0;
/// The world's background radiance (BlenderProc's default world: grey 0.05, strength 1): a sky
/// filling the upper hemisphere gives pi * 0.05 W/m^2 on an upward surface.
pub const WORLD_RADIANCE: f32 = 0.05;
/// Light bounced off the floor onto the object's underside, as a fraction of the radiance of the
/// floor lit by the sun and the sky over the lower hemisphere. 1 measured best against the
/// Cycles set (bench/README.md: 0.5, 0.8 and 1, and the spot's pool added to the floor's light).
pub const FLOOR_BOUNCE: f32 = 1.0;

/// Irradiance of Cycles' sun of strength 1 on a surface facing it: Cycles samples a sun of
/// angular diameter `a` uniformly on a disc of radius t = tan(a / 2) in the plane tangent to
/// the unit sphere, with the pdf it evaluates (kernel/light/light.h, LIGHT_DISTANT), so the
/// strength gets multiplied by the mean cosine over that disc, 2 (sqrt(1 + t^2) - 1) / t^2:
/// 0.83 for the reference's pi/2, 1 for a point-like sun.
pub fn sun_disc_mean_cosine(angular_diameter: f32) -> f32 {
    let t2 = (0.5 * angular_diameter).tan().powi(2);
    if t2 < 1e-6 {
        return 1.0;
    }
    2.0 * ((1.0 + t2).sqrt() - 1.0) / t2
}

/// The shadow frustum is fitted to the object's bounding sphere, grown by this factor so PCF
/// taps at the rim stay inside it.
const SHADOW_FIT_MARGIN: f32 = 1.1;

fn vec3(v: [f64; 3]) -> Vec3 {
    Vec3::from_array(v.map(|x| x as f32))
}

pub fn camera_position(camera: &Camera) -> Vec3 {
    vec3(camera.position())
}

/// Vertical (= horizontal, the image is square) field of view: 2 atan(18 / focal length).
pub fn camera_fov(camera: &Camera) -> f32 {
    2.0 * (0.5 * SENSOR_WIDTH_MM / camera.focal_length as f32).atan()
}

/// World to clip space of a camera (wgpu conventions: NDC y up, depth in [0, 1]).
pub fn camera_view_proj(camera: &Camera) -> Mat4 {
    let view = glam::camera::rh::view::look_at_mat4(camera_position(camera), Vec3::ZERO, Vec3::Z);
    let proj = glam::camera::rh::proj::directx::perspective(camera_fov(camera), 1.0, CAMERA_NEAR, CAMERA_FAR);
    proj * view
}

/// The object's rotation for a latent: extrinsic x-y-z Euler angles, R = Rz Ry Rx.
pub fn object_rotation(latent: &dataset::Latent) -> Mat3 {
    let m = dataset::rotation::matrix_from_euler_xyz(latent.rotation);
    // `m` is row-major; glam takes columns.
    Mat3::from_cols_array_2d(&[0, 1, 2].map(|c| [0, 1, 2].map(|r| m[r][c] as f32)))
}

/// Object to world: scale, then the translation in the object's frame followed by the rotation
/// (3DIEBench-T: R T(t) S(s), the centre lands at R t), or the rotation followed by a world
/// translation (T(t) R S(s)).
pub fn object_transform(f: &ViewFactors) -> Mat4 {
    let r = Mat4::from_mat3(object_rotation(&f.latent));
    let t = Mat4::from_translation(vec3(f.translation));
    let s = Mat4::from_scale(Vec3::splat(f.scale as f32));
    match f.translation_frame {
        TranslationFrame::Object => r * t * s,
        TranslationFrame::World => t * r * s,
    }
}

/// The spot light's shadow-map frustum: from the light towards the object, fitted to its bounding
/// sphere (`radius` about `centre`), since only the object casts a shadow. Receivers beyond the
/// far plane are compared at depth 1 by the shader.
pub struct ShadowFrustum {
    /// World to clip space (wgpu conventions).
    pub view_proj: Mat4,
    pub near: f32,
    pub far: f32,
    /// tan of half the field of view: a length L at distance z spans L / (2 z tan) of the map.
    pub tan_half_fov: f32,
}

pub fn shadow_frustum(light_position: Vec3, centre: Vec3, radius: f32) -> ShadowFrustum {
    let to_centre = centre - light_position;
    let distance = to_centre.length().max(1e-3);
    let r = (radius * SHADOW_FIT_MARGIN).clamp(1e-3, 0.9 * distance);
    let forward = to_centre / distance;
    // Any up that is not parallel to the view direction will do.
    let up = if forward.cross(Vec3::Y).length_squared() > 1e-6 { Vec3::Y } else { Vec3::X };
    let view = glam::camera::rh::view::look_at_mat4(light_position, centre, up);
    let half_fov = (r / distance).asin();
    let (near, far) = (distance - r, distance + r);
    let proj = glam::camera::rh::proj::directx::perspective(2.0 * half_fov, 1.0, near, far);
    ShadowFrustum { view_proj: proj * view, near, far, tan_half_fov: half_fov.tan() }
}

/// Radiant intensity (W/sr) of a spot of `power` watts inside its cone, before its colour.
pub fn spot_intensity(power: f32) -> f32 {
    power / (4.0 * PI)
}

/// Per-view uniform block (WGSL `View`), 256-byte aligned slots in one buffer.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct ViewUniform {
    pub view_proj: [[f32; 4]; 4],
    pub model: [[f32; 4]; 4],
    pub light_view_proj: [[f32; 4]; 4],
    /// xyz: spot position; w: the cone's half angle where the blend's smoothstep is half way.
    pub light_position: [f32; 4],
    /// xyz: unit spot axis (towards the origin); w: the spot's radius.
    pub spot_axis: [f32; 4],
    /// rgb: spot colour times its intensity (W/sr) times the exposure; w: 1 / shadow map size.
    pub spot_radiance: [f32; 4],
    /// rgb: the floor's linear albedo; w: the object's bounding radius (not read by the shader).
    pub floor_albedo: [f32; 4],
    /// xyz: camera position; w: the sun's irradiance on a surface facing it x exposure.
    pub eye: [f32; 4],
    /// xyz: the object's bounding-sphere centre in the world.
    pub object_centre: [f32; 4],
    /// The shadow frustum's near and far planes, tan of its half field of view, and the spot's
    /// radius in shadow-map units at unit distance (radius / (2 tan)).
    pub shadow_params: [f32; 4],
}

/// Per-frame constants (WGSL `Globals`).
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct GlobalsUniform {
    /// x: unused; y: sin of the sun's angular radius; z: the world's radiance x exposure; w:
    /// floor-bounce factor.
    pub sun: [f32; 4],
}

impl GlobalsUniform {
    pub fn reference() -> Self {
        Self { sun: [0.0, (0.5 * SUN_ANGULAR_DIAMETER).sin(), WORLD_RADIANCE * EXPOSURE, FLOOR_BOUNCE] }
    }
}

impl ViewUniform {
    /// The uniforms of one view; `object_radius` bounds the unscaled mesh about its centre and
    /// `shadow_map_size` is the shadow map's side in texels.
    pub fn new(f: &ViewFactors, object_radius: f32, shadow_map_size: u32) -> Self {
        let light = vec3(f.latent.light_position());
        let cos_half = (0.5 * f.spot_cone_angle as f32).cos();
        // Cycles' smoothstep runs over (1 - cos_half) * blend in cosine inside the cone's rim.
        let edge_angle = (cos_half + 0.5 * (1.0 - cos_half) * SPOT_BLEND).min(1.0).acos();
        let sun = f.sun_strength as f32 * sun_disc_mean_cosine(SUN_ANGULAR_DIAMETER);
        let light_rgb = vec3(f.light_rgb());
        let floor_rgb = vec3(f.floor_rgb());
        let centre = vec3(f.object_centre());
        let radius = object_radius * f.scale as f32;
        let shadow = shadow_frustum(light, centre, radius);
        Self {
            view_proj: camera_view_proj(&f.camera).to_cols_array_2d(),
            model: object_transform(f).to_cols_array_2d(),
            light_view_proj: shadow.view_proj.to_cols_array_2d(),
            light_position: light.extend(edge_angle).to_array(),
            spot_axis: (-light.normalize_or(Vec3::Z)).extend(SPOT_RADIUS).to_array(),
            spot_radiance: (light_rgb * spot_intensity(f.spot_power as f32) * EXPOSURE)
                .extend(1.0 / shadow_map_size as f32)
                .to_array(),
            floor_albedo: floor_rgb.extend(radius).to_array(),
            eye: camera_position(&f.camera).extend(sun * EXPOSURE).to_array(),
            object_centre: centre.extend(0.0).to_array(),
            shadow_params: [
                shadow.near,
                shadow.far,
                shadow.tan_half_fov,
                SPOT_RADIUS / (2.0 * shadow.tan_half_fov),
            ],
        }
    }
}

/// Projects a world point with a camera to pixel coordinates (x right, y down) of an image `size`
/// pixels wide; `None` behind the camera.
pub fn project_to_pixel(p: Vec3, camera: &Camera, size: u32) -> Option<[f32; 2]> {
    let clip = camera_view_proj(camera) * p.extend(1.0);
    if clip.w <= 0.0 {
        return None;
    }
    let ndc = clip / clip.w;
    let s = size as f32;
    Some([(ndc.x + 1.0) * 0.5 * s, (1.0 - ndc.y) * 0.5 * s])
}

// Keep the shader's dynamic-offset slots honest.
const _: () = assert!(std::mem::size_of::<ViewUniform>() as u64 <= super::pipelines::VIEW_STRIDE);
const _: () = assert!(std::mem::size_of::<GlobalsUniform>().is_multiple_of(16));
