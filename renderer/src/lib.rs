//! Headless wgpu renderer of 3DIEBench-style datasets.
//!
//! - [`mesh`]: ShapeNetCore v2 OBJ/MTL/texture loading and normalisation (CPU side).
//! - [`gpu`]: the wgpu scene renderer (camera, floor, sun, spot light with shadow map, AA).
//! - [`fidelity`]: comparison with Blender Cycles renders of the same scenes.
//! - [`job`]: dataset jobs: planning, sharding, resume, writing files and manifests.
//! - [`commands`]: what each `render` command does, callable from other programs.
//! - [`live`]: the renderer as a data source: views rendered on request, for the trainer.

pub mod bench;
pub mod cli;
pub mod commands;
pub mod fidelity;
pub mod gpu;
pub mod job;
pub mod live;
pub mod mesh;
pub mod preview;
pub mod verify;
