//! Render targets, made once per renderer and reused for every view (memory stays flat).

use super::pipelines::{Pipelines, COLOUR_FORMAT, DEPTH_FORMAT, DISTANCE_FORMAT, SHADOW_FORMAT};

/// How edges are anti-aliased.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Antialias {
    /// No anti-aliasing (tests of raw geometry).
    None,
    /// 4x multisampling, resolved in linear space: the best edges, but on lavapipe its cost grows
    /// with the triangle count.
    Msaa4,
    /// Render at twice the size and average 2x2 blocks.
    Ssaa2,
    /// Post-process edge blending (FXAA) of the single-sampled scene (default): a fixed cost per
    /// pixel, so the cheapest for meshes with many small triangles; textures a little softer.
    Fxaa,
}

impl Antialias {
    pub fn samples(self) -> u32 {
        if self == Antialias::Msaa4 {
            4
        } else {
            1
        }
    }

    pub fn scale(self) -> u32 {
        if self == Antialias::Ssaa2 {
            2
        } else {
            1
        }
    }
}

impl std::str::FromStr for Antialias {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> anyhow::Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "none" | "off" => Ok(Self::None),
            "msaa" | "msaa4" => Ok(Self::Msaa4),
            "ssaa" | "ssaa2" => Ok(Self::Ssaa2),
            "fxaa" => Ok(Self::Fxaa),
            _ => anyhow::bail!("unknown anti-aliasing '{s}' (none, msaa4, ssaa2, fxaa)"),
        }
    }
}

pub struct Targets {
    /// Where the scene is drawn: multisampled and/or supersampled.
    pub scene_colour: wgpu::TextureView,
    pub scene_depth: wgpu::TextureView,
    /// Final image, `size` x `size`, single-sampled: the MSAA resolve target or the downsample output.
    pub output: wgpu::Texture,
    pub output_view: wgpu::TextureView,
    /// For supersampling and FXAA: bind group reading `scene_colour` in the post pass.
    pub post: Option<wgpu::BindGroup>,
    pub shadow_view: wgpu::TextureView,
    pub shadow_size: u32,
    /// With `--depth`: the distance pass's target and its depth buffer, single-sampled.
    pub distance: Option<DistanceTargets>,
}

pub struct DistanceTargets {
    pub colour: wgpu::Texture,
    pub colour_view: wgpu::TextureView,
    pub depth_view: wgpu::TextureView,
}

fn texture(
    device: &wgpu::Device,
    label: &str,
    size: u32,
    samples: u32,
    format: wgpu::TextureFormat,
    usage: wgpu::TextureUsages,
) -> wgpu::Texture {
    device.create_texture(&wgpu::TextureDescriptor {
        label: Some(label),
        size: wgpu::Extent3d { width: size, height: size, depth_or_array_layers: 1 },
        mip_level_count: 1,
        sample_count: samples,
        dimension: wgpu::TextureDimension::D2,
        format,
        usage,
        view_formats: &[],
    })
}

impl Targets {
    pub fn new(
        device: &wgpu::Device,
        pipelines: &Pipelines,
        size: u32,
        antialias: Antialias,
        shadow_size: u32,
        with_distance: bool,
    ) -> Self {
        let view = |t: &wgpu::Texture| t.create_view(&wgpu::TextureViewDescriptor::default());
        let scene_size = size * antialias.scale();
        let samples = antialias.samples();
        let attach = wgpu::TextureUsages::RENDER_ATTACHMENT;
        let output =
            texture(device, "output", size, 1, COLOUR_FORMAT, attach | wgpu::TextureUsages::COPY_SRC);
        let output_view = view(&output);
        let (scene_colour, post) = match antialias {
            Antialias::None => (output_view.clone(), None),
            Antialias::Msaa4 => {
                (view(&texture(device, "msaa colour", size, samples, COLOUR_FORMAT, attach)), None)
            }
            Antialias::Ssaa2 | Antialias::Fxaa => {
                let scene = view(&texture(
                    device,
                    "scene colour",
                    scene_size,
                    1,
                    COLOUR_FORMAT,
                    attach | wgpu::TextureUsages::TEXTURE_BINDING,
                ));
                let bind_group = if antialias == Antialias::Ssaa2 {
                    device.create_bind_group(&wgpu::BindGroupDescriptor {
                        label: Some("downsample"),
                        layout: &pipelines.downsample_layout,
                        entries: &[wgpu::BindGroupEntry {
                            binding: 0,
                            resource: wgpu::BindingResource::TextureView(&scene),
                        }],
                    })
                } else {
                    let sampler = device.create_sampler(&wgpu::SamplerDescriptor {
                        label: Some("fxaa"),
                        mag_filter: wgpu::FilterMode::Linear,
                        min_filter: wgpu::FilterMode::Linear,
                        ..Default::default()
                    });
                    device.create_bind_group(&wgpu::BindGroupDescriptor {
                        label: Some("fxaa"),
                        layout: &pipelines.fxaa_layout,
                        entries: &[
                            wgpu::BindGroupEntry {
                                binding: 0,
                                resource: wgpu::BindingResource::TextureView(&scene),
                            },
                            wgpu::BindGroupEntry {
                                binding: 1,
                                resource: wgpu::BindingResource::Sampler(&sampler),
                            },
                        ],
                    })
                };
                (scene, Some(bind_group))
            }
        };
        let scene_depth = view(&texture(device, "depth", scene_size, samples, DEPTH_FORMAT, attach));
        let shadow = texture(
            device,
            "shadow map",
            shadow_size,
            1,
            SHADOW_FORMAT,
            attach | wgpu::TextureUsages::TEXTURE_BINDING,
        );
        let distance = with_distance.then(|| {
            let colour =
                texture(device, "distance", size, 1, DISTANCE_FORMAT, attach | wgpu::TextureUsages::COPY_SRC);
            DistanceTargets {
                colour_view: view(&colour),
                colour,
                depth_view: view(&texture(device, "distance depth", size, 1, DEPTH_FORMAT, attach)),
            }
        });
        Self {
            scene_colour,
            scene_depth,
            output,
            output_view,
            post,
            shadow_view: view(&shadow),
            shadow_size,
            distance,
        }
    }

    /// The MSAA resolve target, when the scene is multisampled.
    pub fn resolve_target(&self, antialias: Antialias) -> Option<&wgpu::TextureView> {
        (antialias == Antialias::Msaa4).then_some(&self.output_view)
    }
}
