//! Mesh upload: vertex/index buffers, textures (with a mip chain), one bind group per material.

use wgpu::util::DeviceExt;

use crate::mesh::{Mesh, Texture};

use super::pipelines::MaterialUniform;

/// A mesh on the device. Dropping it frees its buffers and textures.
pub struct GpuMesh {
    pub(super) vertices: wgpu::Buffer,
    pub(super) indices: wgpu::Buffer,
    /// (index range, material bind group) per draw.
    pub(super) draws: Vec<(std::ops::Range<u32>, wgpu::BindGroup)>,
    /// Radius of the bounding sphere about the origin (for the floor's soft contact shadow).
    pub(super) radius: f32,
    triangles: usize,
}

impl GpuMesh {
    pub fn triangle_count(&self) -> usize {
        self.triangles
    }
}

/// Shared pieces every material bind group uses.
pub(super) struct MaterialResources<'a> {
    pub layout: &'a wgpu::BindGroupLayout,
    pub sampler: &'a wgpu::Sampler,
    pub white: &'a wgpu::TextureView,
}

pub(super) fn upload(
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    shared: &MaterialResources,
    mesh: &Mesh,
) -> anyhow::Result<GpuMesh> {
    anyhow::ensure!(!mesh.indices.is_empty(), "{}: nothing to draw", mesh.source.display());
    let vertices = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: Some("mesh vertices"),
        contents: bytemuck::cast_slice(&mesh.vertices),
        usage: wgpu::BufferUsages::VERTEX,
    });
    let indices = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: Some("mesh indices"),
        contents: bytemuck::cast_slice(&mesh.indices),
        usage: wgpu::BufferUsages::INDEX,
    });
    let textures: Vec<wgpu::TextureView> =
        mesh.textures.iter().map(|t| upload_texture(device, queue, t)).collect();
    let draws = mesh
        .submeshes
        .iter()
        .map(|s| {
            let material = &mesh.materials[s.material];
            let (base, view) = match material.texture {
                // A map_Kd texture replaces Kd entirely.
                Some(t) => ([1.0; 3], &textures[t]),
                None => (material.base_colour, shared.white),
            };
            let bind_group = material_bind_group(
                device,
                shared,
                view,
                MaterialUniform {
                    base_colour: [base[0], base[1], base[2], 1.0],
                    params: [material.specular, material.roughness, 0.0, 0.0],
                },
            );
            (s.first_index..s.first_index + s.index_count, bind_group)
        })
        .collect();
    let radius = mesh
        .vertices
        .iter()
        .map(|v| v.position.iter().map(|c| c * c).sum::<f32>())
        .fold(0.0f32, f32::max)
        .sqrt();
    Ok(GpuMesh { vertices, indices, draws, radius, triangles: mesh.triangle_count() })
}

pub(super) fn material_bind_group(
    device: &wgpu::Device,
    shared: &MaterialResources,
    texture: &wgpu::TextureView,
    uniform: MaterialUniform,
) -> wgpu::BindGroup {
    let buffer = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: Some("material"),
        contents: bytemuck::bytes_of(&uniform),
        usage: wgpu::BufferUsages::UNIFORM,
    });
    device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: Some("material"),
        layout: shared.layout,
        entries: &[
            wgpu::BindGroupEntry { binding: 0, resource: buffer.as_entire_binding() },
            wgpu::BindGroupEntry { binding: 1, resource: wgpu::BindingResource::TextureView(texture) },
            wgpu::BindGroupEntry { binding: 2, resource: wgpu::BindingResource::Sampler(shared.sampler) },
        ],
    })
}

/// An sRGB texture with its full mip chain (box-filtered on the CPU), so that large textures
/// minified to a few pixels do not alias.
pub(super) fn upload_texture(device: &wgpu::Device, queue: &wgpu::Queue, t: &Texture) -> wgpu::TextureView {
    let levels = mip_chain(t.width, t.height, &t.rgba);
    let mut data = Vec::with_capacity(levels.iter().map(|l| l.2.len()).sum());
    for l in &levels {
        data.extend_from_slice(&l.2);
    }
    let texture = device.create_texture_with_data(
        queue,
        &wgpu::TextureDescriptor {
            label: Some("albedo"),
            size: wgpu::Extent3d { width: t.width, height: t.height, depth_or_array_layers: 1 },
            mip_level_count: levels.len() as u32,
            sample_count: 1,
            dimension: wgpu::TextureDimension::D2,
            format: wgpu::TextureFormat::Rgba8UnormSrgb,
            usage: wgpu::TextureUsages::TEXTURE_BINDING | wgpu::TextureUsages::COPY_DST,
            view_formats: &[],
        },
        wgpu::util::TextureDataOrder::LayerMajor,
        &data,
    );
    texture.create_view(&wgpu::TextureViewDescriptor::default())
}

/// Levels (width, height, rgba) from the full image down to 1x1, each the 2x2 average of the
/// one above (edge texels repeat for odd sizes).
fn mip_chain(width: u32, height: u32, rgba: &[u8]) -> Vec<(u32, u32, Vec<u8>)> {
    let mut levels = vec![(width, height, rgba.to_vec())];
    while let Some(&(w, h, ref src)) = levels.last() {
        if w == 1 && h == 1 {
            break;
        }
        let (nw, nh) = ((w / 2).max(1), (h / 2).max(1));
        let mut dst = vec![0u8; (nw * nh * 4) as usize];
        for y in 0..nh {
            let (y0, y1) = ((2 * y).min(h - 1), (2 * y + 1).min(h - 1));
            for x in 0..nw {
                let (x0, x1) = ((2 * x).min(w - 1), (2 * x + 1).min(w - 1));
                for c in 0..4 {
                    let at = |xx: u32, yy: u32| src[((yy * w + xx) * 4 + c) as usize] as u32;
                    let sum = at(x0, y0) + at(x1, y0) + at(x0, y1) + at(x1, y1);
                    dst[((y * nw + x) * 4 + c) as usize] = ((sum + 2) / 4) as u8;
                }
            }
        }
        levels.push((nw, nh, dst));
    }
    levels
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mip_chain_goes_down_to_one_texel() {
        let levels = mip_chain(5, 2, &[100u8; 5 * 2 * 4]);
        let sizes: Vec<_> = levels.iter().map(|l| (l.0, l.1)).collect();
        assert_eq!(sizes, [(5, 2), (2, 1), (1, 1)]);
        assert!(levels.iter().all(|l| l.2.iter().all(|&b| b == 100)));
    }
}
