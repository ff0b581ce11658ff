//! Bind group layouts and render pipelines of the scene (WGSL in `shaders/`).

use std::num::NonZeroU64;

use crate::mesh::Vertex;

use super::scene::{GlobalsUniform, ViewUniform};

pub const COLOUR_FORMAT: wgpu::TextureFormat = wgpu::TextureFormat::Rgba8UnormSrgb;
pub const DEPTH_FORMAT: wgpu::TextureFormat = wgpu::TextureFormat::Depth32Float;
pub const SHADOW_FORMAT: wgpu::TextureFormat = wgpu::TextureFormat::Depth32Float;
/// The distance pass's target: millimetres from the camera, 0 where nothing was drawn (an integer
/// format: R32Float is not renderable at the downlevel limits the renderer asks for).
pub const DISTANCE_FORMAT: wgpu::TextureFormat = wgpu::TextureFormat::R32Uint;
/// Dynamic-offset stride of the per-view uniforms: twice the WebGPU minimum alignment, since a
/// view's uniforms (camera, object transform, shadow matrix, lights) take 288 bytes.
pub const VIEW_STRIDE: u64 = 512;

const SCENE_WGSL: &str = include_str!("../../../shaders/scene.wgsl");
const DOWNSAMPLE_WGSL: &str = include_str!("../../../shaders/downsample.wgsl");
const FXAA_WGSL: &str = include_str!("../../../shaders/fxaa.wgsl");

/// Material uniform (WGSL `Material`).
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct MaterialUniform {
    pub base_colour: [f32; 4],
    pub params: [f32; 4],
}

pub struct Pipelines {
    /// Group 0 of every scene pass: globals + the view's slot (dynamic offset).
    pub view_layout: wgpu::BindGroupLayout,
    /// Group 1 of the object pass: material uniform, albedo texture, sampler.
    pub material_layout: wgpu::BindGroupLayout,
    /// Group 2 of the main pass: the spot's shadow map and its comparison sampler.
    pub shadow_layout: wgpu::BindGroupLayout,
    /// Group 0 of the supersampling resolve: the large target.
    pub downsample_layout: wgpu::BindGroupLayout,
    /// Group 0 of the FXAA pass: the scene and a bilinear sampler.
    pub fxaa_layout: wgpu::BindGroupLayout,
    pub shadow: wgpu::RenderPipeline,
    pub object: wgpu::RenderPipeline,
    pub floor: wgpu::RenderPipeline,
    pub downsample: wgpu::RenderPipeline,
    pub fxaa: wgpu::RenderPipeline,
    /// `--depth`: the object and the floor writing their distance to the camera.
    pub distance_object: wgpu::RenderPipeline,
    pub distance_floor: wgpu::RenderPipeline,
}

fn uniform_entry(binding: u32, dynamic: bool, min_size: u64) -> wgpu::BindGroupLayoutEntry {
    wgpu::BindGroupLayoutEntry {
        binding,
        visibility: wgpu::ShaderStages::VERTEX_FRAGMENT,
        ty: wgpu::BindingType::Buffer {
            ty: wgpu::BufferBindingType::Uniform,
            has_dynamic_offset: dynamic,
            min_binding_size: NonZeroU64::new(min_size),
        },
        count: None,
    }
}

fn texture_entry(binding: u32, sample_type: wgpu::TextureSampleType) -> wgpu::BindGroupLayoutEntry {
    wgpu::BindGroupLayoutEntry {
        binding,
        visibility: wgpu::ShaderStages::FRAGMENT,
        ty: wgpu::BindingType::Texture {
            sample_type,
            view_dimension: wgpu::TextureViewDimension::D2,
            multisampled: false,
        },
        count: None,
    }
}

fn sampler_entry(binding: u32, kind: wgpu::SamplerBindingType) -> wgpu::BindGroupLayoutEntry {
    wgpu::BindGroupLayoutEntry {
        binding,
        visibility: wgpu::ShaderStages::FRAGMENT,
        ty: wgpu::BindingType::Sampler(kind),
        count: None,
    }
}

const VERTEX_ATTRIBUTES: [wgpu::VertexAttribute; 3] =
    wgpu::vertex_attr_array![0 => Float32x3, 1 => Float32x3, 2 => Float32x2];

fn vertex_layout() -> wgpu::VertexBufferLayout<'static> {
    wgpu::VertexBufferLayout {
        array_stride: std::mem::size_of::<Vertex>() as u64,
        step_mode: wgpu::VertexStepMode::Vertex,
        attributes: &VERTEX_ATTRIBUTES,
    }
}

fn depth_state(format: wgpu::TextureFormat, bias: wgpu::DepthBiasState) -> wgpu::DepthStencilState {
    wgpu::DepthStencilState {
        format,
        depth_write_enabled: Some(true),
        depth_compare: Some(wgpu::CompareFunction::LessEqual),
        stencil: wgpu::StencilState::default(),
        bias,
    }
}

impl Pipelines {
    pub fn new(device: &wgpu::Device, samples: u32) -> Self {
        let view_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("view"),
            entries: &[
                uniform_entry(0, false, std::mem::size_of::<GlobalsUniform>() as u64),
                uniform_entry(1, true, std::mem::size_of::<ViewUniform>() as u64),
            ],
        });
        let material_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("material"),
            entries: &[
                uniform_entry(0, false, std::mem::size_of::<MaterialUniform>() as u64),
                texture_entry(1, wgpu::TextureSampleType::Float { filterable: true }),
                sampler_entry(2, wgpu::SamplerBindingType::Filtering),
            ],
        });
        let shadow_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("shadow map"),
            entries: &[
                texture_entry(0, wgpu::TextureSampleType::Depth),
                sampler_entry(1, wgpu::SamplerBindingType::Comparison),
            ],
        });
        let downsample_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("downsample"),
            entries: &[texture_entry(0, wgpu::TextureSampleType::Float { filterable: false })],
        });

        let fxaa_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("fxaa"),
            entries: &[
                texture_entry(0, wgpu::TextureSampleType::Float { filterable: true }),
                sampler_entry(1, wgpu::SamplerBindingType::Filtering),
            ],
        });

        let scene = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("scene.wgsl"),
            source: wgpu::ShaderSource::Wgsl(SCENE_WGSL.into()),
        });
        let downsample_module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("downsample.wgsl"),
            source: wgpu::ShaderSource::Wgsl(DOWNSAMPLE_WGSL.into()),
        });

        let layout = |label, groups: &[Option<&wgpu::BindGroupLayout>]| {
            device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
                label: Some(label),
                bind_group_layouts: groups,
                immediate_size: 0,
            })
        };
        let shadow_pipeline_layout = layout("shadow", &[Some(&view_layout)]);
        let main_layout = layout("main", &[Some(&view_layout), Some(&material_layout), Some(&shadow_layout)]);
        let downsample_pipeline_layout = layout("downsample", &[Some(&downsample_layout)]);

        // Shading is two-sided (ShapeNet windings are inconsistent): no culling anywhere.
        let primitive = wgpu::PrimitiveState { cull_mode: None, ..Default::default() };
        let multisample = wgpu::MultisampleState { count: samples, ..Default::default() };
        let colour_target = [Some(wgpu::ColorTargetState {
            format: COLOUR_FORMAT,
            blend: None,
            write_mask: wgpu::ColorWrites::ALL,
        })];
        let buffers = [Some(vertex_layout())];

        let shadow = device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
            label: Some("shadow"),
            layout: Some(&shadow_pipeline_layout),
            vertex: wgpu::VertexState {
                module: &scene,
                entry_point: Some("vs_shadow"),
                compilation_options: Default::default(),
                buffers: &buffers,
            },
            primitive,
            // Slope-scaled bias against acne on surfaces lit at grazing angles.
            depth_stencil: Some(depth_state(
                SHADOW_FORMAT,
                wgpu::DepthBiasState { constant: 2, slope_scale: 2.0, clamp: 0.0 },
            )),
            multisample: wgpu::MultisampleState::default(),
            fragment: None,
            multiview_mask: None,
            cache: None,
        });
        let scene_pipeline = |label,
                              layout: &wgpu::PipelineLayout,
                              vs,
                              fs,
                              targets: &[Option<wgpu::ColorTargetState>],
                              multisample| {
            device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
                label: Some(label),
                layout: Some(layout),
                vertex: wgpu::VertexState {
                    module: &scene,
                    entry_point: Some(vs),
                    compilation_options: Default::default(),
                    buffers: &buffers,
                },
                primitive,
                depth_stencil: Some(depth_state(DEPTH_FORMAT, wgpu::DepthBiasState::default())),
                multisample,
                fragment: Some(wgpu::FragmentState {
                    module: &scene,
                    entry_point: Some(fs),
                    compilation_options: Default::default(),
                    targets,
                }),
                multiview_mask: None,
                cache: None,
            })
        };
        let main = |label, vs, fs| scene_pipeline(label, &main_layout, vs, fs, &colour_target, multisample);
        let distance_target = [Some(wgpu::ColorTargetState {
            format: DISTANCE_FORMAT,
            blend: None,
            write_mask: wgpu::ColorWrites::ALL,
        })];
        // Single-sampled whatever the anti-aliasing: one distance per pixel centre.
        let distance = |label, vs| {
            let single = wgpu::MultisampleState::default();
            scene_pipeline(label, &shadow_pipeline_layout, vs, "fs_distance", &distance_target, single)
        };
        let distance_object = distance("distance object", "vs_object");
        let distance_floor = distance("distance floor", "vs_floor");
        let object = main("object", "vs_object", "fs_object");
        let floor = main("floor", "vs_floor", "fs_floor");
        let post = |label, layout: &wgpu::PipelineLayout, module: &wgpu::ShaderModule, fs, targets| {
            device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
                label: Some(label),
                layout: Some(layout),
                vertex: wgpu::VertexState {
                    module,
                    entry_point: Some("vs_fullscreen"),
                    compilation_options: Default::default(),
                    buffers: &[],
                },
                primitive: wgpu::PrimitiveState::default(),
                depth_stencil: None,
                multisample: wgpu::MultisampleState::default(),
                fragment: Some(wgpu::FragmentState {
                    module,
                    entry_point: Some(fs),
                    compilation_options: Default::default(),
                    targets,
                }),
                multiview_mask: None,
                cache: None,
            })
        };
        let fxaa_module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("fxaa.wgsl"),
            source: wgpu::ShaderSource::Wgsl(FXAA_WGSL.into()),
        });
        let downsample = post(
            "downsample",
            &downsample_pipeline_layout,
            &downsample_module,
            "fs_downsample",
            &colour_target,
        );
        let fxaa =
            post("fxaa", &layout("fxaa", &[Some(&fxaa_layout)]), &fxaa_module, "fs_fxaa", &colour_target);
        Self {
            view_layout,
            material_layout,
            shadow_layout,
            downsample_layout,
            fxaa_layout,
            shadow,
            object,
            floor,
            downsample,
            fxaa,
            distance_object,
            distance_floor,
        }
    }
}
