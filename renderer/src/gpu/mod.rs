//! The wgpu scene renderer: the reference scene of SPEC section 3 (see [`scene`]), headless.
//!
//! Per view: a depth-only pass from the spot light (shadow map fitted to the object, which alone
//! casts), then the object and the floor into an sRGB target, anti-aliased ([`Antialias`]: FXAA by
//! default, 4x MSAA or 2x2 supersampling on request), copied to a readback buffer.
//! `render_views` records up to [`RenderOptions::views_per_submit`] views per submission and keeps
//! two submissions in flight (double-buffered readback), so the device renders the next views
//! while the CPU unpacks the previous ones. Every target and buffer is made once and reused.

mod device;
mod encode;
pub mod filmic;
mod pipelines;
pub mod scene;
mod targets;
mod upload;

use std::collections::VecDeque;
use std::sync::mpsc;

use anyhow::Context;
use wgpu::util::DeviceExt;

use crate::mesh::{Mesh, Vertex};

use dataset::factors::ViewFactors;
pub use encode::{encode_depth_png, encode_jpeg, encode_mask_png, JPEG_QUALITY};
use pipelines::{MaterialUniform, Pipelines, VIEW_STRIDE};
use scene::{GlobalsUniform, ViewUniform};
pub use targets::Antialias;
use targets::Targets;
pub use upload::GpuMesh;

/// Longest wait for one submission (`views_per_submit` views): a device that hangs fails the
/// object instead of the job. Ten views of a `MAX_TRIANGLES` mesh take under two minutes.
pub const SUBMIT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(600);

#[derive(Clone, Debug)]
pub struct RenderOptions {
    /// Width and height of the images, in pixels.
    pub image_size: u32,
    /// Also return the object's coverage mask (0/255) per view.
    pub mask: bool,
    /// FXAA by default: on lavapipe 4x MSAA costs about 1 us per triangle more, which doubles the
    /// cost of a 20k-triangle mesh and keeps the throughput target out of reach on 2 cores.
    pub antialias: Antialias,
    /// Side of the spot light's shadow map, in texels. The map is fitted to the object, so 512
    /// gives several texels per image pixel at 256 px.
    pub shadow_map_size: u32,
    /// wgpu backends as a comma list ("vulkan", "gl", ...); `None`: `WGPU_BACKEND` or any.
    pub backend: Option<String>,
    /// Views recorded per submission; two submissions are in flight at once.
    pub views_per_submit: usize,
    /// Also return each pixel's distance to the camera ([`Frame::depth`]).
    pub depth: bool,
}

impl Default for RenderOptions {
    fn default() -> Self {
        Self {
            image_size: 256,
            mask: false,
            antialias: Antialias::Fxaa,
            shadow_map_size: 512,
            backend: None,
            views_per_submit: 10,
            depth: false,
        }
    }
}

/// One rendered view: RGB8 rows top to bottom (`size * size * 3`), the mask when asked for
/// (`size * size`, 255 where the object covers at least half the pixel, else 0), and the depth
/// when asked for (`size * size`, millimetres from the camera centre at the pixel's centre,
/// rounded, 0 where nothing was drawn, 65535 for 65.535 m and beyond).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    pub rgb: Vec<u8>,
    pub mask: Option<Vec<u8>>,
    pub depth: Option<Vec<u16>>,
    /// Pixels the object covers at all (alpha above 0): 0 means it drew nothing in this view.
    pub covered: usize,
}

pub struct Renderer {
    opts: RenderOptions,
    adapter: wgpu::Adapter,
    device: wgpu::Device,
    queue: wgpu::Queue,
    pipelines: Pipelines,
    targets: Targets,
    globals: wgpu::Buffer,
    views: wgpu::Buffer,
    view_capacity: usize,
    view_bind_group: wgpu::BindGroup,
    shadow_bind_group: wgpu::BindGroup,
    floor_vertices: wgpu::Buffer,
    floor_indices: wgpu::Buffer,
    floor_material: wgpu::BindGroup,
    albedo_sampler: wgpu::Sampler,
    white: wgpu::TextureView,
    readback: [wgpu::Buffer; 2],
    padded_row: u32,
    /// With `--depth`: the distance frames' readback, as `readback`.
    distance_readback: Option<[wgpu::Buffer; 2]>,
}

/// A submission whose readback is not yet unpacked.
struct InFlight {
    first_view: usize,
    count: usize,
    slot: usize,
    submission: wgpu::SubmissionIndex,
    mapped: mpsc::Receiver<Result<(), wgpu::BufferAsyncError>>,
    mapped_distance: Option<mpsc::Receiver<Result<(), wgpu::BufferAsyncError>>>,
}

impl Renderer {
    pub fn new(mut opts: RenderOptions) -> anyhow::Result<Self> {
        anyhow::ensure!(
            dataset::config::IMAGE_SIZES.contains(&opts.image_size),
            "image size {} out of range",
            opts.image_size
        );
        anyhow::ensure!(opts.shadow_map_size >= 64, "shadow map size {} too small", opts.shadow_map_size);
        let (adapter, device, queue) = device::open(opts.backend.as_deref())?;
        opts.views_per_submit = fit_to_limits(&opts, &device.limits(), &device::describe(&adapter))?;
        let pipelines = Pipelines::new(&device, opts.antialias.samples());
        let targets = Targets::new(
            &device,
            &pipelines,
            opts.image_size,
            opts.antialias,
            opts.shadow_map_size,
            opts.depth,
        );

        let globals = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("globals"),
            contents: bytemuck::bytes_of(&GlobalsUniform::reference()),
            usage: wgpu::BufferUsages::UNIFORM,
        });
        let view_capacity = 64;
        let views = view_buffer(&device, view_capacity);
        let view_bind_group = view_bind_group(&device, &pipelines, &globals, &views);

        let shadow_sampler = device.create_sampler(&wgpu::SamplerDescriptor {
            label: Some("shadow"),
            mag_filter: wgpu::FilterMode::Linear,
            min_filter: wgpu::FilterMode::Linear,
            compare: Some(wgpu::CompareFunction::LessEqual),
            ..Default::default()
        });
        let shadow_bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("shadow map"),
            layout: &pipelines.shadow_layout,
            entries: &[
                wgpu::BindGroupEntry {
                    binding: 0,
                    resource: wgpu::BindingResource::TextureView(&targets.shadow_view),
                },
                wgpu::BindGroupEntry {
                    binding: 1,
                    resource: wgpu::BindingResource::Sampler(&shadow_sampler),
                },
            ],
        });

        let albedo_sampler = device.create_sampler(&wgpu::SamplerDescriptor {
            label: Some("albedo"),
            address_mode_u: wgpu::AddressMode::Repeat,
            address_mode_v: wgpu::AddressMode::Repeat,
            mag_filter: wgpu::FilterMode::Linear,
            min_filter: wgpu::FilterMode::Linear,
            mipmap_filter: wgpu::MipmapFilterMode::Linear,
            ..Default::default()
        });
        let white_texture =
            crate::mesh::Texture { path: "<white>".into(), width: 1, height: 1, rgba: vec![255; 4] };
        let white = upload::upload_texture(&device, &queue, &white_texture);
        let shared = upload::MaterialResources {
            layout: &pipelines.material_layout,
            sampler: &albedo_sampler,
            white: &white,
        };
        let floor_material = upload::material_bind_group(
            &device,
            &shared,
            &white,
            MaterialUniform { base_colour: [1.0; 4], params: [0.5, 0.5, 0.0, 0.0] },
        );
        let (floor_vertices, floor_indices) = floor_buffers(&device);

        // RGBA8 and R32Uint rows are both 4 bytes a pixel: one row pitch serves both readbacks.
        let padded_row = padded_row(opts.image_size);
        let slot_bytes = padded_row as u64 * opts.image_size as u64 * opts.views_per_submit as u64;
        let readback_pair = |label| {
            [0, 1].map(|_| {
                device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some(label),
                    size: slot_bytes,
                    usage: wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::MAP_READ,
                    mapped_at_creation: false,
                })
            })
        };
        let readback = readback_pair("readback");
        let distance_readback = opts.depth.then(|| readback_pair("distance readback"));

        Ok(Self {
            opts,
            adapter,
            device,
            queue,
            pipelines,
            targets,
            globals,
            views,
            view_capacity,
            view_bind_group,
            shadow_bind_group,
            floor_vertices,
            floor_indices,
            floor_material,
            albedo_sampler,
            white,
            readback,
            padded_row,
            distance_readback,
        })
    }

    pub fn options(&self) -> &RenderOptions {
        &self.opts
    }

    /// The adapter in words: name, backend, device type, driver.
    pub fn adapter_info(&self) -> String {
        device::describe(&self.adapter)
    }

    pub fn upload(&mut self, mesh: &Mesh) -> anyhow::Result<GpuMesh> {
        self.upload_within(mesh, self.device.limits().max_buffer_size)
    }

    /// [`Renderer::upload`] with buffers of at most `max_buffer_size` bytes (tests draw a small
    /// mesh split into parts, as a mesh larger than the adapter's largest buffer is).
    pub fn upload_within(&mut self, mesh: &Mesh, max_buffer_size: u64) -> anyhow::Result<GpuMesh> {
        let max_buffer_size = max_buffer_size.min(self.device.limits().max_buffer_size);
        let shared = upload::MaterialResources {
            layout: &self.pipelines.material_layout,
            sampler: &self.albedo_sampler,
            white: &self.white,
        };
        upload::upload(&self.device, &self.queue, &shared, mesh, max_buffer_size)
    }

    /// One object's views from its mesh, with every wgpu validation and out-of-memory error of
    /// the upload and the draws caught as this object's error (the default handler panics).
    pub fn render_object(&mut self, mesh: &Mesh, latents: &[ViewFactors]) -> anyhow::Result<Vec<Frame>> {
        let validation = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let memory = self.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let result = self
            .upload(mesh)
            .context("cannot upload")
            .and_then(|gpu_mesh| self.render_views(&gpu_mesh, latents).context("cannot render"));
        // Scopes pop in reverse order of their pushes.
        let memory = pollster::block_on(memory.pop());
        let validation = pollster::block_on(validation.pop());
        if let Some(e) = memory.or(validation) {
            anyhow::bail!("the graphics device refused this mesh: {}", first_line(&e.to_string()));
        }
        result
    }

    /// All views of one object, submitted together so frames overlap; RGB8 rows top-to-bottom.
    pub fn render_views(&mut self, mesh: &GpuMesh, latents: &[ViewFactors]) -> anyhow::Result<Vec<Frame>> {
        if latents.is_empty() {
            return Ok(Vec::new());
        }
        self.write_views(mesh, latents);
        let per_submit = self.opts.views_per_submit.max(1);
        let mut frames = Vec::with_capacity(latents.len());
        let mut in_flight: VecDeque<InFlight> = VecDeque::new();
        for (chunk, first_view) in (0..latents.len()).step_by(per_submit).enumerate() {
            if in_flight.len() == self.readback.len() {
                let done = in_flight.pop_front().expect("non-empty");
                self.unpack(done, &mut frames)?;
            }
            let count = per_submit.min(latents.len() - first_view);
            in_flight.push_back(self.submit(mesh, first_view, count, chunk % self.readback.len()));
        }
        while let Some(done) = in_flight.pop_front() {
            self.unpack(done, &mut frames)?;
        }
        Ok(frames)
    }

    /// Writes every view's uniforms into its slot (the buffer grows, never shrinks).
    fn write_views(&mut self, mesh: &GpuMesh, latents: &[ViewFactors]) {
        if latents.len() > self.view_capacity {
            self.view_capacity = latents.len().next_power_of_two();
            self.views = view_buffer(&self.device, self.view_capacity);
            self.view_bind_group = view_bind_group(&self.device, &self.pipelines, &self.globals, &self.views);
        }
        let mut bytes = vec![0u8; latents.len() * VIEW_STRIDE as usize];
        for (latent, slot) in latents.iter().zip(bytes.chunks_exact_mut(VIEW_STRIDE as usize)) {
            let u = ViewUniform::new(latent, mesh.radius, self.targets.shadow_size);
            slot[..std::mem::size_of::<ViewUniform>()].copy_from_slice(bytemuck::bytes_of(&u));
        }
        self.queue.write_buffer(&self.views, 0, &bytes);
    }

    fn submit(&self, mesh: &GpuMesh, first_view: usize, count: usize, slot: usize) -> InFlight {
        let mut encoder =
            self.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("views") });
        for k in 0..count {
            self.record_view(&mut encoder, mesh, first_view + k, k, slot);
        }
        let submission = self.queue.submit([encoder.finish()]);
        let bytes = self.frame_bytes() * count as u64;
        let map = |buffer: &wgpu::Buffer| {
            let (tx, mapped) = mpsc::channel();
            buffer.slice(..bytes).map_async(wgpu::MapMode::Read, move |r| {
                let _ = tx.send(r);
            });
            mapped
        };
        let mapped = map(&self.readback[slot]);
        let mapped_distance = self.distance_readback.as_ref().map(|pair| map(&pair[slot]));
        InFlight { first_view, count, slot, submission, mapped, mapped_distance }
    }

    fn frame_bytes(&self) -> u64 {
        self.padded_row as u64 * self.opts.image_size as u64
    }

    fn record_view(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        mesh: &GpuMesh,
        view: usize,
        k: usize,
        slot: usize,
    ) {
        let offset = [(view as u64 * VIEW_STRIDE) as u32];
        let t = &self.targets;
        {
            let mut pass = encoder.begin_render_pass(&wgpu::RenderPassDescriptor {
                label: Some("shadow"),
                depth_stencil_attachment: Some(wgpu::RenderPassDepthStencilAttachment {
                    view: &t.shadow_view,
                    depth_ops: Some(wgpu::Operations {
                        load: wgpu::LoadOp::Clear(1.0),
                        store: wgpu::StoreOp::Store,
                    }),
                    stencil_ops: None,
                }),
                ..Default::default()
            });
            pass.set_pipeline(&self.pipelines.shadow);
            pass.set_bind_group(0, &self.view_bind_group, &offset);
            draw_whole(&mut pass, mesh);
        }
        {
            let msaa = self.opts.antialias == Antialias::Msaa4;
            let mut pass = encoder.begin_render_pass(&wgpu::RenderPassDescriptor {
                label: Some("scene"),
                color_attachments: &[Some(wgpu::RenderPassColorAttachment {
                    view: &t.scene_colour,
                    depth_slice: None,
                    resolve_target: t.resolve_target(self.opts.antialias),
                    ops: wgpu::Operations {
                        load: wgpu::LoadOp::Clear(wgpu::Color::BLACK),
                        store: if msaa { wgpu::StoreOp::Discard } else { wgpu::StoreOp::Store },
                    },
                })],
                depth_stencil_attachment: Some(wgpu::RenderPassDepthStencilAttachment {
                    view: &t.scene_depth,
                    depth_ops: Some(wgpu::Operations {
                        load: wgpu::LoadOp::Clear(1.0),
                        store: wgpu::StoreOp::Discard,
                    }),
                    stencil_ops: None,
                }),
                ..Default::default()
            });
            pass.set_bind_group(0, &self.view_bind_group, &offset);
            pass.set_bind_group(2, &self.shadow_bind_group, &[]);
            // Object first: the floor behind it then fails the depth test before shading.
            pass.set_pipeline(&self.pipelines.object);
            for part in &mesh.parts {
                pass.set_vertex_buffer(0, part.vertices.slice(..));
                pass.set_index_buffer(part.indices.slice(..), wgpu::IndexFormat::Uint32);
                for (range, submesh) in &part.draws {
                    pass.set_bind_group(1, &mesh.materials[*submesh], &[]);
                    pass.draw_indexed(range.clone(), 0, 0..1);
                }
            }
            pass.set_pipeline(&self.pipelines.floor);
            pass.set_bind_group(1, &self.floor_material, &[]);
            pass.set_vertex_buffer(0, self.floor_vertices.slice(..));
            pass.set_index_buffer(self.floor_indices.slice(..), wgpu::IndexFormat::Uint16);
            pass.draw_indexed(0..6, 0, 0..1);
        }
        if let Some(post) = &t.post {
            let mut pass = encoder.begin_render_pass(&wgpu::RenderPassDescriptor {
                label: Some("post"),
                color_attachments: &[Some(wgpu::RenderPassColorAttachment {
                    view: &t.output_view,
                    depth_slice: None,
                    resolve_target: None,
                    ops: wgpu::Operations {
                        load: wgpu::LoadOp::Clear(wgpu::Color::BLACK),
                        store: wgpu::StoreOp::Store,
                    },
                })],
                ..Default::default()
            });
            let pipeline = if self.opts.antialias == Antialias::Fxaa {
                &self.pipelines.fxaa
            } else {
                &self.pipelines.downsample
            };
            pass.set_pipeline(pipeline);
            pass.set_bind_group(0, post, &[]);
            pass.draw(0..3, 0..1);
        }
        if let (Some(d), Some(readback)) = (&t.distance, &self.distance_readback) {
            self.record_distance(encoder, mesh, &offset, d);
            self.copy_to_readback(encoder, &d.colour, &readback[slot], k);
        }
        self.copy_to_readback(encoder, &t.output, &self.readback[slot], k);
    }

    /// The distance pass: object and floor, depth-tested, writing metres to the camera.
    fn record_distance(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        mesh: &GpuMesh,
        offset: &[u32],
        d: &targets::DistanceTargets,
    ) {
        let mut pass = encoder.begin_render_pass(&wgpu::RenderPassDescriptor {
            label: Some("distance"),
            color_attachments: &[Some(wgpu::RenderPassColorAttachment {
                view: &d.colour_view,
                depth_slice: None,
                resolve_target: None,
                ops: wgpu::Operations {
                    load: wgpu::LoadOp::Clear(wgpu::Color::BLACK),
                    store: wgpu::StoreOp::Store,
                },
            })],
            depth_stencil_attachment: Some(wgpu::RenderPassDepthStencilAttachment {
                view: &d.depth_view,
                depth_ops: Some(wgpu::Operations {
                    load: wgpu::LoadOp::Clear(1.0),
                    store: wgpu::StoreOp::Discard,
                }),
                stencil_ops: None,
            }),
            ..Default::default()
        });
        pass.set_bind_group(0, &self.view_bind_group, offset);
        pass.set_pipeline(&self.pipelines.distance_object);
        draw_whole(&mut pass, mesh);
        pass.set_pipeline(&self.pipelines.distance_floor);
        pass.set_vertex_buffer(0, self.floor_vertices.slice(..));
        pass.set_index_buffer(self.floor_indices.slice(..), wgpu::IndexFormat::Uint16);
        pass.draw_indexed(0..6, 0, 0..1);
    }

    /// Copies a `size` x `size` 4-byte-per-pixel texture into frame `k` of a readback buffer.
    fn copy_to_readback(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        texture: &wgpu::Texture,
        buffer: &wgpu::Buffer,
        k: usize,
    ) {
        let size = self.opts.image_size;
        encoder.copy_texture_to_buffer(
            wgpu::TexelCopyTextureInfo {
                texture,
                mip_level: 0,
                origin: wgpu::Origin3d::ZERO,
                aspect: wgpu::TextureAspect::All,
            },
            wgpu::TexelCopyBufferInfo {
                buffer,
                layout: wgpu::TexelCopyBufferLayout {
                    offset: k as u64 * self.frame_bytes(),
                    bytes_per_row: Some(self.padded_row),
                    rows_per_image: Some(size),
                },
            },
            wgpu::Extent3d { width: size, height: size, depth_or_array_layers: 1 },
        );
    }

    /// Waits for a submission, converts its RGBA rows into frames, unmaps its buffer.
    fn unpack(&self, done: InFlight, frames: &mut Vec<Frame>) -> anyhow::Result<()> {
        debug_assert_eq!(frames.len(), done.first_view);
        self.device
            .poll(wgpu::PollType::Wait {
                submission_index: Some(done.submission),
                timeout: Some(SUBMIT_TIMEOUT),
            })
            .with_context(|| {
                format!("the graphics device failed or took over {} s rendering", SUBMIT_TIMEOUT.as_secs())
            })?;
        done.mapped.recv().context("readback was dropped")?.context("cannot map the readback buffer")?;
        let bytes = self.frame_bytes() * done.count as u64;
        let buffer = &self.readback[done.slot];
        {
            let raw = buffer
                .slice(..bytes)
                .get_mapped_range()
                .map_err(|e| anyhow::anyhow!("cannot read the readback buffer: {e}"))?;
            for frame in raw.chunks_exact(self.frame_bytes() as usize) {
                frames.push(self.to_frame(frame));
            }
        }
        buffer.unmap();
        if let (Some(mapped), Some(pair)) = (done.mapped_distance, &self.distance_readback) {
            mapped
                .recv()
                .context("distance readback was dropped")?
                .context("cannot map the distance readback")?;
            let buffer = &pair[done.slot];
            {
                let raw = buffer
                    .slice(..bytes)
                    .get_mapped_range()
                    .map_err(|e| anyhow::anyhow!("cannot read the distance readback: {e}"))?;
                let first = frames.len() - done.count;
                for (frame, raw) in
                    frames[first..].iter_mut().zip(raw.chunks_exact(self.frame_bytes() as usize))
                {
                    frame.depth = Some(self.to_millimetres(raw));
                }
            }
            buffer.unmap();
        }
        Ok(())
    }

    /// R32Uint rows (millimetres) to u16, saturating.
    fn to_millimetres(&self, raw: &[u8]) -> Vec<u16> {
        let size = self.opts.image_size as usize;
        let mut out = Vec::with_capacity(size * size);
        for row in raw.chunks_exact(self.padded_row as usize) {
            for px in row[..size * 4].chunks_exact(4) {
                let mm = u32::from_le_bytes([px[0], px[1], px[2], px[3]]);
                out.push(mm.min(u16::MAX as u32) as u16);
            }
        }
        out
    }

    fn to_frame(&self, raw: &[u8]) -> Frame {
        let size = self.opts.image_size as usize;
        let mut rgb = Vec::with_capacity(size * size * 3);
        let mut mask = self.opts.mask.then(|| Vec::with_capacity(size * size));
        let mut covered = 0;
        for row in raw.chunks_exact(self.padded_row as usize) {
            for px in row[..size * 4].chunks_exact(4) {
                rgb.extend_from_slice(&px[..3]);
                covered += usize::from(px[3] > 0);
                if let Some(m) = mask.as_mut() {
                    // Alpha is the object's coverage after the resolve.
                    m.push(if px[3] >= 128 { 255 } else { 0 });
                }
            }
        }
        Frame { rgb, mask, depth: None, covered }
    }
}

/// Every triangle of the mesh with the pipeline and bind groups already set (shadow, distance).
fn draw_whole(pass: &mut wgpu::RenderPass, mesh: &GpuMesh) {
    for part in &mesh.parts {
        pass.set_vertex_buffer(0, part.vertices.slice(..));
        pass.set_index_buffer(part.indices.slice(..), wgpu::IndexFormat::Uint32);
        pass.draw_indexed(0..part.index_count, 0, 0..1);
    }
}

/// wgpu's messages run to many lines of context; the first says what went wrong.
fn first_line(message: &str) -> String {
    let line = message.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("unknown error");
    dataset::input::readable(line, 300)
}

fn padded_row(size: u32) -> u32 {
    (size * 4).div_ceil(wgpu::COPY_BYTES_PER_ROW_ALIGNMENT) * wgpu::COPY_BYTES_PER_ROW_ALIGNMENT
}

/// Views per submission that the adapter's limits allow (fewer than asked when a readback slot
/// would exceed its largest buffer), or one clear error when even one image does not fit.
fn fit_to_limits(opts: &RenderOptions, limits: &wgpu::Limits, adapter: &str) -> anyhow::Result<usize> {
    let scene_size = opts.image_size * opts.antialias.scale();
    if scene_size > limits.max_texture_dimension_2d || opts.shadow_map_size > limits.max_texture_dimension_2d
    {
        anyhow::bail!(
            "image size {} ({} px drawn with {:?}) is larger than this adapter's largest texture, {} px ({adapter})",
            opts.image_size,
            scene_size,
            opts.antialias,
            limits.max_texture_dimension_2d
        );
    }
    let frame = padded_row(opts.image_size) as u64 * opts.image_size as u64;
    let fit = (limits.max_buffer_size / frame) as usize;
    if fit == 0 {
        let largest = ((limits.max_buffer_size as f64 / 4.0).sqrt() as u64) & !63;
        anyhow::bail!(
            "image size {} needs a {} MB readback buffer; this adapter allows {} MB (largest image size about {largest} px; {adapter})",
            opts.image_size,
            frame / 1_000_000,
            limits.max_buffer_size / 1_000_000
        );
    }
    Ok(opts.views_per_submit.clamp(1, fit))
}

fn view_buffer(device: &wgpu::Device, capacity: usize) -> wgpu::Buffer {
    device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("views"),
        size: capacity as u64 * VIEW_STRIDE,
        usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    })
}

fn view_bind_group(
    device: &wgpu::Device,
    pipelines: &Pipelines,
    globals: &wgpu::Buffer,
    views: &wgpu::Buffer,
) -> wgpu::BindGroup {
    device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: Some("view"),
        layout: &pipelines.view_layout,
        entries: &[
            wgpu::BindGroupEntry { binding: 0, resource: globals.as_entire_binding() },
            wgpu::BindGroupEntry {
                binding: 1,
                resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                    buffer: views,
                    offset: 0,
                    size: wgpu::BufferSize::new(std::mem::size_of::<ViewUniform>() as u64),
                }),
            },
        ],
    })
}

/// The floor: a square at z = -1 wide enough to fill the view.
fn floor_buffers(device: &wgpu::Device) -> (wgpu::Buffer, wgpu::Buffer) {
    let h = scene::FLOOR_HALF_SIZE;
    let corner =
        |x: f32, y: f32| Vertex { position: [x, y, scene::FLOOR_Z], normal: [0.0, 0.0, 1.0], uv: [0.0; 2] };
    let vertices = [corner(-h, -h), corner(h, -h), corner(h, h), corner(-h, h)];
    let indices: [u16; 6] = [0, 1, 2, 0, 2, 3];
    let v = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: Some("floor vertices"),
        contents: bytemuck::cast_slice(&vertices),
        usage: wgpu::BufferUsages::VERTEX,
    });
    let i = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: Some("floor indices"),
        contents: bytemuck::cast_slice(&indices),
        usage: wgpu::BufferUsages::INDEX,
    });
    (v, i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_images_read_back_fewer_views_at_a_time_or_fail_with_one_clear_line() {
        let limits =
            wgpu::Limits { max_buffer_size: 256 << 20, max_texture_dimension_2d: 8192, ..Default::default() };
        let opts = |image_size| RenderOptions { image_size, ..Default::default() };
        assert_eq!(fit_to_limits(&opts(256), &limits, "test").unwrap(), 10);
        // 3000 px: 36 MB a frame, so 7 frames per 256 MiB readback slot instead of 10.
        assert_eq!(fit_to_limits(&opts(3000), &limits, "test").unwrap(), 7);
        let e = fit_to_limits(
            &opts(8192),
            &wgpu::Limits { max_buffer_size: 200 << 20, ..limits.clone() },
            "test",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("image size 8192 needs a 268 MB readback buffer; this adapter allows 209 MB"),
            "{e}"
        );
        let ssaa = RenderOptions { antialias: Antialias::Ssaa2, ..opts(5000) };
        let e = fit_to_limits(&ssaa, &limits, "test").unwrap_err().to_string();
        assert!(e.contains("larger than this adapter's largest texture, 8192 px"), "{e}");
    }
}
