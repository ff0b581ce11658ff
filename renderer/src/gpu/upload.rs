//! Mesh upload: vertex/index buffers, textures (with a mip chain), one bind group per material.

use wgpu::util::DeviceExt;

use crate::mesh::{Mesh, Texture, Vertex};

use super::pipelines::MaterialUniform;

/// A mesh on the device. Dropping it frees its buffers and textures.
pub struct GpuMesh {
    /// Vertex and index buffers, each within the adapter's largest buffer: one part unless the
    /// mesh is larger than that (a flat-shaded mesh of about 2.8 M triangles on 256 MiB).
    pub(super) parts: Vec<GpuPart>,
    /// One bind group per submesh of the mesh, in its order.
    pub(super) materials: Vec<wgpu::BindGroup>,
    /// Radius of the bounding sphere about the origin (for the floor's soft contact shadow).
    pub(super) radius: f32,
    triangles: usize,
}

/// One vertex buffer and its index buffer, drawn as (index range, submesh) runs.
pub(super) struct GpuPart {
    pub vertices: wgpu::Buffer,
    pub indices: wgpu::Buffer,
    pub index_count: u32,
    pub draws: Vec<(std::ops::Range<u32>, usize)>,
}

impl GpuMesh {
    pub fn triangle_count(&self) -> usize {
        self.triangles
    }

    /// How many vertex buffers the mesh took.
    pub fn parts(&self) -> usize {
        self.parts.len()
    }
}

/// A piece of a mesh for one vertex and one index buffer: its own vertices, indices into them,
/// and (index range, submesh) runs in the mesh's draw order.
#[derive(Debug, PartialEq)]
pub(super) struct Piece {
    pub vertices: Vec<Vertex>,
    pub indices: Vec<u32>,
    pub draws: Vec<(std::ops::Range<u32>, usize)>,
}

/// Most triangles a part may hold so that its vertex buffer (at most three vertices a triangle)
/// and index buffer both fit in `max_buffer_size` bytes.
pub(super) fn triangles_per_part(max_buffer_size: u64) -> usize {
    (max_buffer_size / (3 * std::mem::size_of::<Vertex>() as u64)).max(1) as usize
}

/// Whether the mesh's own buffers fit as they are (then it is uploaded unchanged).
fn fits_whole(mesh: &Mesh, max_buffer_size: u64) -> bool {
    let bytes = |n: usize, each: usize| (n as u64).saturating_mul(each as u64);
    bytes(mesh.vertices.len(), std::mem::size_of::<Vertex>()) <= max_buffer_size
        && bytes(mesh.indices.len(), 4) <= max_buffer_size
}

/// Splits a mesh into pieces of at most `max_triangles` triangles, keeping the draw order.
pub(super) fn split(mesh: &Mesh, max_triangles: usize) -> Vec<Piece> {
    let mut pieces = Vec::new();
    let mut piece = Piece { vertices: Vec::new(), indices: Vec::new(), draws: Vec::new() };
    // Vertex index in the current piece, per mesh vertex (u32::MAX: not yet in it).
    let mut remap = vec![u32::MAX; mesh.vertices.len()];
    let mut touched = Vec::new();
    for (submesh, s) in mesh.submeshes.iter().enumerate() {
        let first = s.first_index as usize;
        for t in mesh.indices[first..first + s.index_count as usize].chunks_exact(3) {
            if piece.indices.len() / 3 == max_triangles {
                for &v in &touched {
                    remap[v as usize] = u32::MAX;
                }
                touched.clear();
                pieces.push(std::mem::replace(
                    &mut piece,
                    Piece { vertices: Vec::new(), indices: Vec::new(), draws: Vec::new() },
                ));
            }
            let start = piece.indices.len() as u32;
            match piece.draws.last_mut() {
                Some((range, m)) if *m == submesh && range.end == start => range.end += 3,
                _ => piece.draws.push((start..start + 3, submesh)),
            }
            for &v in t {
                if remap[v as usize] == u32::MAX {
                    remap[v as usize] = piece.vertices.len() as u32;
                    piece.vertices.push(mesh.vertices[v as usize]);
                    touched.push(v);
                }
                piece.indices.push(remap[v as usize]);
            }
        }
    }
    if !piece.indices.is_empty() {
        pieces.push(piece);
    }
    pieces
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
    max_buffer_size: u64,
) -> anyhow::Result<GpuMesh> {
    anyhow::ensure!(!mesh.indices.is_empty(), "{}: nothing to draw", mesh.source.display());
    let parts = if fits_whole(mesh, max_buffer_size) {
        let draws = mesh
            .submeshes
            .iter()
            .enumerate()
            .map(|(k, s)| (s.first_index..s.first_index + s.index_count, k))
            .collect();
        vec![part(device, &mesh.vertices, &mesh.indices, draws)]
    } else {
        split(mesh, triangles_per_part(max_buffer_size))
            .into_iter()
            .map(|p| part(device, &p.vertices, &p.indices, p.draws))
            .collect()
    };
    let textures: Vec<wgpu::TextureView> =
        mesh.textures.iter().map(|t| upload_texture(device, queue, t)).collect();
    let materials = mesh
        .submeshes
        .iter()
        .map(|s| {
            let material = &mesh.materials[s.material];
            let (base, view) = match material.texture {
                // A map_Kd texture replaces Kd entirely.
                Some(t) => ([1.0; 3], &textures[t]),
                None => (material.base_colour, shared.white),
            };
            material_bind_group(
                device,
                shared,
                view,
                MaterialUniform {
                    base_colour: [base[0], base[1], base[2], 1.0],
                    params: [material.specular, material.roughness, 0.0, 0.0],
                },
            )
        })
        .collect();
    let radius = mesh
        .vertices
        .iter()
        .map(|v| v.position.iter().map(|c| c * c).sum::<f32>())
        .fold(0.0f32, f32::max)
        .sqrt();
    Ok(GpuMesh { parts, materials, radius, triangles: mesh.triangle_count() })
}

fn part(
    device: &wgpu::Device,
    vertices: &[Vertex],
    indices: &[u32],
    draws: Vec<(std::ops::Range<u32>, usize)>,
) -> GpuPart {
    let vertex_buffer = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: Some("mesh vertices"),
        contents: bytemuck::cast_slice(vertices),
        usage: wgpu::BufferUsages::VERTEX,
    });
    let index_buffer = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: Some("mesh indices"),
        contents: bytemuck::cast_slice(indices),
        usage: wgpu::BufferUsages::INDEX,
    });
    GpuPart { vertices: vertex_buffer, indices: index_buffer, index_count: indices.len() as u32, draws }
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

    /// A mesh of `n` flat triangles over two materials (the first half, then the second).
    fn strip(n: usize) -> Mesh {
        let triangles: Vec<[[f32; 3]; 3]> = (0..n)
            .map(|i| [[i as f32, 0.0, 0.0], [i as f32 + 1.0, 0.0, 0.0], [i as f32, 1.0, 0.0]])
            .collect();
        let mut mesh = Mesh::from_triangles(&triangles, crate::mesh::Material::default());
        let half = (n / 2 * 3) as u32;
        mesh.materials.push(crate::mesh::Material::default());
        mesh.submeshes = vec![
            crate::mesh::Submesh { material: 0, first_index: 0, index_count: half },
            crate::mesh::Submesh { material: 1, first_index: half, index_count: n as u32 * 3 - half },
        ];
        mesh
    }

    #[test]
    fn large_meshes_split_into_parts_that_fit_and_keep_every_triangle_in_order() {
        // Issue case 4: 2.8 M flat triangles need 268 MB of vertices, over a 256 MiB buffer.
        assert_eq!(triangles_per_part(256 << 20), 2_796_202);
        let mesh = strip(8);
        assert!(fits_whole(&mesh, 1 << 20) && !fits_whole(&mesh, 100));
        let pieces = split(&mesh, 3);
        assert_eq!(pieces.iter().map(|p| p.indices.len() / 3).collect::<Vec<_>>(), [3, 3, 2]);
        // The middle piece holds triangles of both submeshes: two runs.
        assert_eq!(pieces[1].draws, [(0..3, 0), (3..9, 1)]);
        let mut triangles = Vec::new();
        for p in &pieces {
            assert!(p.vertices.len() * std::mem::size_of::<Vertex>() <= 3 * 3 * 32);
            for (range, _) in &p.draws {
                for t in p.indices[range.start as usize..range.end as usize].chunks_exact(3) {
                    triangles.push(t.iter().map(|&i| p.vertices[i as usize].position).collect::<Vec<_>>());
                }
            }
        }
        let want: Vec<Vec<[f32; 3]>> = mesh
            .indices
            .chunks_exact(3)
            .map(|t| t.iter().map(|&i| mesh.vertices[i as usize].position).collect())
            .collect();
        assert_eq!(triangles, want);
    }

    #[test]
    fn mip_chain_goes_down_to_one_texel() {
        let levels = mip_chain(5, 2, &[100u8; 5 * 2 * 4]);
        let sizes: Vec<_> = levels.iter().map(|l| (l.0, l.1)).collect();
        assert_eq!(sizes, [(5, 2), (2, 1), (1, 1)]);
        assert!(levels.iter().all(|l| l.2.iter().all(|&b| b == 100)));
    }
}
