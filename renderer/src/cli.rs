//! Command-line interface of `render`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::job::Shard;

const EXAMPLES: &str = "\
Examples:
  # A dataset from the built-in procedural library (no ShapeNet needed):
  render --views 50 --out ./3diebench
  # The official 3DIEBench objects from ShapeNetCore v2:
  render --shapenet ./ShapeNetCore --objects train_images.npy --views 50 --out ./3diebench
  # Four machines, one quarter each (together: one run):
  render --shapenet ./ShapeNetCore --out ./3diebench --shard 2/4
  render merge ./3diebench   # once all four are done
  # Re-render an existing dataset's exact factors at 128 px, with masks:
  render --shapenet ./ShapeNetCore --from-latents ./3diebench --image-size 128 --mask --out ./3dieb-128
  # A preset (manifests/*.toml), and a controlled variant of an existing dataset:
  render --config manifests/3diebench-t.toml --out ./3diebench-t
  render --like ./3diebench --config manifests/3diebench-ood.toml --out ./3diebench-ood
  # The built-in library as a ShapeNet tree, a contact sheet, and the throughput benchmark:
  render synth --out ./synth-shapenet --per-class 20 --seed 0
  render preview --out contact_sheet.png
  render preview --config manifests/3diebench.toml --config manifests/so3.toml --out presets.png
  render bench --views 200 --runs 5
  render fidelity --side-by-side fidelity.png   # against bench/cycles (Blender Cycles)
  render verify ./3diebench
Re-running a command resumes it: complete views are skipped.";

#[derive(Parser, Debug)]
#[command(name = "render", version, about = "Render 3DIEBench-style datasets from ShapeNetCore v2 meshes", after_help = EXAMPLES, args_conflicts_with_subcommands = true, args_override_self = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub dataset: DatasetArgs,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Write the built-in procedural object library as a ShapeNetCore v2 tree.
    Synth(SynthArgs),
    /// Render a contact sheet (one PNG grid: rows of classes, several objects and views each).
    Preview(PreviewArgs),
    /// Measure rendering throughput (images/s, median of several runs) including JPEG writes.
    Bench(BenchArgs),
    /// Compare renders with a Cycles reference set (bench/cycles): PSNR, SSIM, colour error on
    /// the object and the floor, silhouette IoU, per image and overall.
    Fidelity(FidelityArgs),
    /// Decode every image, mask, depth map and latent of a dataset; list what is missing or
    /// damaged (exit status 1 if anything is).
    Verify {
        /// The dataset folder.
        dir: PathBuf,
    },
    /// Write the root manifests and split files of a job rendered with --shard I/N into DIR,
    /// from its shards/<i>-of-<n>.json (all N must be complete and from one job). Objects that
    /// failed under --keep-going are listed as failures, and the exit status is then non-zero.
    Merge {
        /// The dataset folder the shards rendered into.
        dir: PathBuf,
    },
}

#[derive(Args, Debug)]
pub struct DatasetArgs {
    /// ShapeNetCore v2 folder. Default: the built-in procedural library (generated under --library).
    #[arg(long)]
    pub shapenet: Option<PathBuf>,
    /// Output dataset folder (official 3DIEBench layout).
    #[arg(long, default_value = "./3diebench")]
    pub out: PathBuf,
    /// Factor configuration (TOML; presets in manifests/). Default: the 3DIEBench reference.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Render a controlled variant of the dataset DIR: its objects, split, seed, views and
    /// configuration, with --config's changes on top.
    #[arg(long, value_name = "DIR")]
    pub like: Option<PathBuf>,
    /// Views per object [config: dataset.views; reference 50].
    #[arg(long)]
    pub views: Option<usize>,
    /// Seed of the factor generator and of the object-level split [config: dataset.seed; 0].
    #[arg(long)]
    pub seed: Option<u64>,
    /// Image width and height in pixels [config: dataset.image_size; 256].
    #[arg(long)]
    pub image_size: Option<u32>,
    /// JPEG quality, 1-100 [config: dataset.jpeg_quality; 95].
    #[arg(long)]
    pub jpeg_quality: Option<u8>,
    /// Objects to render: lines `synset/object_id`, or an official `*_images.npy` manifest.
    #[arg(long)]
    pub objects: Option<PathBuf>,
    /// Render the I-th of N deterministic parts of the objects (0-based), e.g. 0/4; with N > 1
    /// only shards/<I>-of-<N>.json is written as manifest (then `render merge`).
    #[arg(long, default_value = "0/1")]
    pub shard: Shard,
    /// Re-render every view whose latent_<k>.npy exists under DIR, with exactly those factors.
    #[arg(long, value_name = "DIR")]
    pub from_latents: Option<PathBuf>,
    /// Also write mask_<k>.png (object coverage, 0/255).
    #[arg(long)]
    pub mask: bool,
    /// Also write depth_<k>.png: 16-bit PNG, millimetres from the camera centre (Blender's
    /// distance pass), 0 where nothing was drawn.
    #[arg(long)]
    pub depth: bool,
    /// Continue past objects that fail to load; list them in the manifest and exit non-zero.
    #[arg(long)]
    pub keep_going: bool,
    /// Fraction of each class's objects in the val split [config: dataset.val_fraction; 0.2].
    #[arg(long)]
    pub val_fraction: Option<f64>,
    /// Anti-aliasing: fxaa (default; the fastest on lavapipe), msaa4, ssaa2 or none.
    #[arg(long)]
    pub antialias: Option<crate::gpu::Antialias>,
    /// Renderers drawing objects in parallel (each is one wgpu device).
    #[arg(long, default_value_t = 2)]
    pub renderers: usize,
    /// Where the built-in library is generated when --shapenet is not given.
    #[arg(long, default_value = "./synth-shapenet")]
    pub library: PathBuf,
    /// Objects per class of the built-in library [20].
    #[arg(long)]
    pub per_class: Option<usize>,
    /// Seed that picks the built-in library's objects (independent of --seed, so the same
    /// objects can be rendered under other factors) [0].
    #[arg(long)]
    pub library_seed: Option<u64>,
}

#[derive(Args, Debug)]
pub struct SynthArgs {
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long, default_value_t = 20)]
    pub per_class: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

#[derive(Args, Debug)]
pub struct PreviewArgs {
    /// Output PNG.
    #[arg(long, default_value = "contact_sheet.png")]
    pub out: PathBuf,
    /// Library folder (generated there if missing).
    #[arg(long, default_value = "./synth-shapenet")]
    pub library: PathBuf,
    /// Objects per class shown.
    #[arg(long, default_value_t = 4)]
    pub per_class: usize,
    /// Views per object shown.
    #[arg(long, default_value_t = 2)]
    pub views: usize,
    #[arg(long, default_value_t = 128)]
    pub image_size: u32,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Factor configurations to compare: one row per file (the same objects under each), instead
    /// of one row per class; --per-class is then the number of classes shown.
    #[arg(long = "config", value_name = "FILE")]
    pub configs: Vec<PathBuf>,
}

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Views rendered per run.
    #[arg(long, default_value_t = 200)]
    pub views: usize,
    /// Timed runs (the median is reported).
    #[arg(long, default_value_t = 5)]
    pub runs: usize,
    #[arg(long, default_value_t = 256)]
    pub image_size: u32,
}

#[derive(Args, Debug)]
pub struct FidelityArgs {
    /// The reference set's scenes (written by bench/cycles/regenerate.sh).
    #[arg(long, default_value = "bench/cycles/scenes.json")]
    pub scenes: PathBuf,
    /// Blender's images (<name>.png, <name>_mask.png). Default: images/ next to --scenes.
    #[arg(long)]
    pub images: Option<PathBuf>,
    #[arg(long, default_value = "fxaa")]
    pub antialias: crate::gpu::Antialias,
    /// Write Cycles | ours | difference x4 of the --view scenes to this PNG.
    #[arg(long, value_name = "PNG")]
    pub side_by_side: Option<PathBuf>,
    /// Scenes shown by --side-by-side (repeatable) [default: the first view of each mesh].
    #[arg(long = "view", value_name = "NAME")]
    pub views: Vec<String>,
}
