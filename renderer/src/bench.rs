//! Throughput benchmark: `render bench`.
//!
//! Renders objects of 50 views (the dataset's shape of work) cycling over the two golden-test
//! fixtures and a generated 20,000-triangle torus knot, all loaded from OBJ files written to a
//! temporary ShapeNet-layout tree. Like a real run, [`DEVICES`] render threads (one renderer each)
//! take objects in turn and hand each object's frames to a writer thread that encodes the JPEGs
//! in parallel (rayon) and writes them, with their latents, atomically to a temporary folder, so
//! rendering, encoding and writing overlap. Reports images/s per run (wall clock from the first
//! mesh load to the last file written), the median, and the process CPU time per image, which is
//! the number to compare on a machine shared with other work.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Instant;

use anyhow::Context;
use rayon::prelude::*;

use crate::gpu::{encode_jpeg, RenderOptions, Renderer};
use crate::mesh::load_obj;

/// Views per object, as in 3DIEBench.
const VIEWS_PER_OBJECT: usize = 50;
/// Renderers (devices) working in parallel: lavapipe runs vertex work and setup of a device on
/// one thread, so a second device keeps both cores busy on meshes with many triangles.
pub const DEVICES: usize = 2;
/// Triangles of the generated mesh: the upper end of what the target covers.
pub const GENERATED_TRIANGLES: usize = 20_000;

const FIXTURES: [(&str, &str, &[u8]); 5] = [
    (
        "90000001/textured_box/models/model_normalized.obj",
        "obj",
        include_bytes!("../../tests/fixtures/meshes/90000001/textured_box/models/model_normalized.obj"),
    ),
    (
        "90000001/textured_box/models/model_normalized.mtl",
        "mtl",
        include_bytes!("../../tests/fixtures/meshes/90000001/textured_box/models/model_normalized.mtl"),
    ),
    (
        "90000001/textured_box/images/texture0.png",
        "png",
        include_bytes!("../../tests/fixtures/meshes/90000001/textured_box/images/texture0.png"),
    ),
    (
        "90000002/table/models/model_normalized.obj",
        "obj",
        include_bytes!("../../tests/fixtures/meshes/90000002/table/models/model_normalized.obj"),
    ),
    (
        "90000002/table/models/model_normalized.mtl",
        "mtl",
        include_bytes!("../../tests/fixtures/meshes/90000002/table/models/model_normalized.mtl"),
    ),
];

/// Benchmark result, printed by `render bench`.
#[derive(Clone, Debug)]
pub struct BenchReport {
    pub adapter: String,
    /// Devices (renderers) rendering objects in parallel, each on its own thread.
    pub devices: usize,
    pub image_size: u32,
    pub antialias: crate::gpu::Antialias,
    pub shadow_map_size: u32,
    pub output: Output,
    pub views: usize,
    /// (mesh name, triangles) of the meshes cycled over.
    pub meshes: Vec<(String, usize)>,
    /// Images per second of each run.
    pub runs: Vec<f64>,
    /// Process CPU time (user + system, all threads) per image of each run, in ms: the cost
    /// that does not depend on what else the machine is doing.
    pub cpu_ms_per_image: Vec<f64>,
    /// Per mesh: wall time of `render_views` per image, in ms, over all runs.
    pub render_ms_per_image: Vec<f64>,
}

impl BenchReport {
    pub fn median(&self) -> f64 {
        let mut v = self.runs.clone();
        v.sort_by(f64::total_cmp);
        match v.len() {
            0 => 0.0,
            n if n % 2 == 1 => v[n / 2],
            n => 0.5 * (v[n / 2 - 1] + v[n / 2]),
        }
    }
}

impl fmt::Display for BenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "adapter: {} x {}", self.adapter, self.devices)?;
        let meshes: Vec<String> = self.meshes.iter().map(|(n, t)| format!("{n} ({t} triangles)")).collect();
        writeln!(f, "meshes: {}", meshes.join(", "))?;
        writeln!(
            f,
            "{} views per run at {}x{}, {}x{} shadow map, anti-aliasing {:?}, output {:?}",
            self.views,
            self.image_size,
            self.image_size,
            self.shadow_map_size,
            self.shadow_map_size,
            self.antialias,
            self.output
        )?;
        for (i, r) in self.runs.iter().enumerate() {
            writeln!(f, "run {}: {r:.1} images/s, {:.1} CPU ms/image", i + 1, self.cpu_ms_per_image[i])?;
        }
        for ((name, _), ms) in self.meshes.iter().zip(&self.render_ms_per_image) {
            writeln!(f, "render_views on {name}: {ms:.2} ms/image")?;
        }
        write!(f, "median: {:.1} images/s", self.median())
    }
}

/// Renders `views` views per run, `runs` times, and reports images/s (printing each run).
///
/// Environment knobs for experiments (defaults: the production settings):
/// `BENCH_AA` (none, msaa4, ssaa2), `BENCH_SHADOW` (shadow map side), `BENCH_PER_SUBMIT`
/// (views per submission), `BENCH_OUTPUT` (files, jpeg: encode only, discard: render only),
/// `BENCH_MESHES` (keep the meshes whose name contains it: textured_box, table, torus_knot),
/// `BENCH_DEVICES` (renderers in parallel, default [`DEVICES`]).
/// Mesa's own knobs apply too, e.g. `LP_NUM_THREADS` (lavapipe rasteriser threads).
pub fn run_bench(views: usize, runs: usize, image_size: u32) -> anyhow::Result<BenchReport> {
    let env = |k: &str| std::env::var(k).ok();
    let mut opts = RenderOptions { image_size, ..Default::default() };
    if let Some(v) = env("BENCH_AA") {
        opts.antialias = v.parse()?;
    }
    if let Some(v) = env("BENCH_SHADOW") {
        opts.shadow_map_size = v.parse().with_context(|| format!("BENCH_SHADOW={v}"))?;
    }
    if let Some(v) = env("BENCH_PER_SUBMIT") {
        opts.views_per_submit = v.parse().with_context(|| format!("BENCH_PER_SUBMIT={v}"))?;
    }
    let output = match env("BENCH_OUTPUT").as_deref() {
        None | Some("files") => Output::JpegFiles,
        Some("jpeg") => Output::JpegOnly,
        Some("discard") => Output::Discard,
        Some(other) => anyhow::bail!("BENCH_OUTPUT={other}: expected files, jpeg or discard"),
    };
    run_bench_with(opts, views, runs, output)
}

/// What a run does with its frames.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    /// Encode JPEGs (quality 95) and write them atomically with their latents (the real workload).
    JpegFiles,
    /// Encode JPEGs only, in memory.
    JpegOnly,
    /// Drop the frames: rendering alone.
    Discard,
}

/// [`run_bench`] with any renderer options (anti-aliasing, shadow map size, ...) and output.
pub fn run_bench_with(
    opts: RenderOptions,
    views: usize,
    runs: usize,
    output: Output,
) -> anyhow::Result<BenchReport> {
    anyhow::ensure!(views > 0 && runs > 0, "bench needs at least one view and one run");
    let (image_size, antialias, shadow_map_size) = (opts.image_size, opts.antialias, opts.shadow_map_size);
    let tree = TempDir::new("meshes")?;
    let mut objs = write_meshes(tree.path())?;
    // Experiments: BENCH_MESHES=torus_knot (a substring of the mesh names) keeps only those.
    if let Ok(filter) = std::env::var("BENCH_MESHES") {
        objs.retain(|p| mesh_name(p).contains(&filter));
        anyhow::ensure!(!objs.is_empty(), "BENCH_MESHES={filter} matches no bench mesh");
    }
    let devices =
        std::env::var("BENCH_DEVICES").ok().map(|v| v.parse::<usize>()).transpose()?.unwrap_or(DEVICES);
    let mut renderers =
        (0..devices.max(1)).map(|_| Renderer::new(opts.clone())).collect::<anyhow::Result<Vec<_>>>()?;
    let meshes = objs.iter().map(|p| load_obj(p)).collect::<anyhow::Result<Vec<_>>>()?;
    let mut report = BenchReport {
        adapter: renderers[0].adapter_info(),
        devices: renderers.len(),
        image_size,
        antialias,
        shadow_map_size,
        output,
        views,
        meshes: objs.iter().zip(&meshes).map(|(p, m)| (mesh_name(p), m.triangle_count())).collect(),
        runs: Vec::new(),
        cpu_ms_per_image: Vec::new(),
        render_ms_per_image: Vec::new(),
    };
    let mut render_time = vec![(0.0f64, 0usize); objs.len()];
    eprintln!("adapter: {}", report.adapter);
    // Warm-up: pipelines compiled, buffers sized.
    for renderer in &mut renderers {
        let gpu = renderer.upload(&meshes[0])?;
        renderer.render_views(&gpu, &latents(0, 4))?;
    }
    for run in 0..runs {
        let out = TempDir::new("out")?;
        let start = Instant::now();
        let cpu_start = process_cpu_seconds();
        let written =
            render_and_write(&mut renderers, &objs, views, image_size, out.path(), output, &mut render_time)?;
        let wall = start.elapsed().as_secs_f64();
        let cpu_ms = (process_cpu_seconds() - cpu_start) * 1e3 / written as f64;
        let rate = written as f64 / wall;
        eprintln!(
            "run {}: {written} images in {wall:.2} s: {rate:.1} images/s, {cpu_ms:.1} CPU ms/image",
            run + 1
        );
        report.runs.push(rate);
        report.cpu_ms_per_image.push(cpu_ms);
    }
    report.render_ms_per_image = render_time.iter().map(|&(t, n)| 1e3 * t / n.max(1) as f64).collect();
    Ok(report)
}

/// User + system CPU time of this process so far (Linux `/proc`; 0 elsewhere).
fn process_cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else { return 0.0 };
    // Fields after the parenthesised command name; utime and stime are the 14th and 15th overall.
    let Some(rest) = stat.rsplit(')').next() else { return 0.0 };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    // Linux reports in USER_HZ, which is 100 on every mainstream configuration.
    (ticks(11) + ticks(12)) / 100.0
}

fn mesh_name(obj: &Path) -> String {
    let comps: Vec<String> = obj
        .components()
        .rev()
        .skip(2)
        .take(2)
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    comps.into_iter().rev().collect::<Vec<_>>().join("/")
}

/// Deterministic spread of factors for object `object`.
fn latents(object: usize, count: usize) -> Vec<dataset::factors::ViewFactors> {
    let key = dataset::ObjectKey::new("bench", &format!("object{object}")).expect("valid key");
    (0..count).map(|v| dataset::factors::reference_view(0, &key, v)).collect()
}

/// One run: objects of [`VIEWS_PER_OBJECT`] views until `views` images are written.
fn render_and_write(
    renderers: &mut [Renderer],
    objs: &[PathBuf],
    views: usize,
    size: u32,
    out: &Path,
    output: Output,
    render_time: &mut [(f64, usize)],
) -> anyhow::Result<usize> {
    let (tx, rx) =
        mpsc::sync_channel::<(usize, Vec<dataset::factors::ViewFactors>, Vec<crate::gpu::Frame>)>(1);
    let out_dir = out.to_path_buf();
    let writer = std::thread::spawn(move || -> anyhow::Result<usize> {
        let mut written = 0;
        for (object, latents, frames) in rx {
            let dir = out_dir.join(format!("object{object}"));
            std::fs::create_dir_all(&dir)?;
            frames.par_iter().zip(&latents).enumerate().try_for_each(
                |(k, (frame, latent))| match output {
                    Output::JpegFiles => {
                        dataset::atomic::write_bytes(
                            &dir.join(format!("image_{k}.jpg")),
                            &encode_jpeg(&frame.rgb, size, crate::gpu::JPEG_QUALITY),
                        )?;
                        latent.latent.write(&dir.join(format!("latent_{k}.npy")))
                    }
                    Output::JpegOnly => {
                        std::hint::black_box(encode_jpeg(&frame.rgb, size, crate::gpu::JPEG_QUALITY));
                        Ok(())
                    }
                    Output::Discard => Ok(()),
                },
            )?;
            written += frames.len();
        }
        Ok(written)
    });
    // Objects of VIEWS_PER_OBJECT views (the last may be short), dealt round-robin to the devices.
    let objects: Vec<(usize, usize)> = (0..views.div_ceil(VIEWS_PER_OBJECT))
        .map(|o| (o, VIEWS_PER_OBJECT.min(views - o * VIEWS_PER_OBJECT)))
        .collect();
    let devices = renderers.len();
    let times = std::thread::scope(|scope| {
        let handles: Vec<_> = renderers
            .iter_mut()
            .enumerate()
            .map(|(d, renderer)| {
                let tx = tx.clone();
                let objects = &objects;
                scope.spawn(move || -> anyhow::Result<Vec<(f64, usize)>> {
                    let mut times = vec![(0.0f64, 0usize); objs.len()];
                    for &(object, count) in objects.iter().skip(d).step_by(devices) {
                        let which = object % objs.len();
                        let mesh = load_obj(&objs[which])?;
                        let gpu = renderer.upload(&mesh)?;
                        let latents = latents(object, count);
                        let started = Instant::now();
                        let frames = renderer.render_views(&gpu, &latents)?;
                        times[which].0 += started.elapsed().as_secs_f64();
                        times[which].1 += count;
                        if tx.send((object, latents, frames)).is_err() {
                            break; // the writer failed; its error is reported below
                        }
                    }
                    Ok(times)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().map_err(|_| anyhow::anyhow!("a render thread panicked"))?)
            .collect::<anyhow::Result<Vec<_>>>()
    });
    drop(tx);
    let written = writer.join().map_err(|_| anyhow::anyhow!("the writer thread panicked"))??;
    for per_device in times? {
        for (total, (t, n)) in render_time.iter_mut().zip(per_device) {
            total.0 += t;
            total.1 += n;
        }
    }
    Ok(written)
}

/// Writes the fixtures and the generated mesh as a ShapeNet-layout tree; returns their OBJs.
fn write_meshes(root: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut objs = Vec::new();
    for (rel, kind, bytes) in FIXTURES {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().expect("has a folder"))?;
        std::fs::write(&path, bytes).with_context(|| format!("cannot write {}", path.display()))?;
        if kind == "obj" {
            objs.push(path);
        }
    }
    let knot = root.join("90000003/torus_knot/models/model_normalized.obj");
    std::fs::create_dir_all(knot.parent().expect("has a folder"))?;
    std::fs::write(&knot, torus_knot_obj(GENERATED_TRIANGLES))?;
    std::fs::write(knot.with_extension("mtl"), "newmtl knot\nKd 0.55 0.55 0.5\nKs 0.5 0.5 0.5\nNs 100\n")?;
    objs.push(knot);
    Ok(objs)
}

/// A (2, 3) torus knot tube with smooth normals as OBJ text, about `triangles` triangles.
pub fn torus_knot_obj(triangles: usize) -> String {
    use std::f64::consts::TAU;
    use std::fmt::Write;
    let around = 16usize;
    let along = (triangles / (2 * around)).max(3);
    let tube = 0.25;
    let curve = |t: f64| {
        let (p, q) = (2.0, 3.0);
        let r = 1.0 + 0.5 * (q * t).cos();
        [r * (p * t).cos(), r * (p * t).sin(), 0.5 * (q * t).sin()]
    };
    let mut s = String::from("# generated (2,3) torus knot\nmtllib model_normalized.mtl\no knot\n");
    let mut normals = Vec::new();
    for i in 0..along {
        let t = TAU * i as f64 / along as f64;
        let c = curve(t);
        let d = curve(t + 1e-4);
        let tangent = normalize(sub(d, c));
        // A frame around the tangent: any vector not parallel to it.
        let side = normalize(cross(tangent, [0.0, 0.0, 1.0]));
        let up = cross(side, tangent);
        for j in 0..around {
            let a = TAU * j as f64 / around as f64;
            let n = [0, 1, 2].map(|k| side[k] * a.cos() + up[k] * a.sin());
            let p = [0, 1, 2].map(|k| c[k] + tube * n[k]);
            let _ = writeln!(s, "v {:.6} {:.6} {:.6}", p[0], p[1], p[2]);
            normals.push(n);
        }
    }
    for n in &normals {
        let _ = writeln!(s, "vn {:.6} {:.6} {:.6}", n[0], n[1], n[2]);
    }
    s.push_str("usemtl knot\n");
    for i in 0..along {
        for j in 0..around {
            let idx = |i: usize, j: usize| (i % along) * around + (j % around) + 1;
            let (a, b, c, d) = (idx(i, j), idx(i + 1, j), idx(i + 1, j + 1), idx(i, j + 1));
            let _ = writeln!(s, "f {a}//{a} {b}//{b} {c}//{c}\nf {a}//{a} {c}//{c} {d}//{d}");
        }
    }
    s
}

/// A folder under the system's temporary folder, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(what: &str) -> anyhow::Result<Self> {
        let path = std::env::temp_dir().join(format!("render-bench-{}-{what}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).with_context(|| format!("cannot make {}", path.display()))?;
        Ok(Self(path))
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn sub(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

fn cross(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]]
}

fn normalize(v: [f64; 3]) -> [f64; 3] {
    let l = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt();
    v.map(|c| c / l)
}
