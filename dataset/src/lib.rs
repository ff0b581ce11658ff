//! The 3DIEBench dataset format, shared by the renderer and the trainer.
//!
//! Everything a file on disk means lives here: where files go ([`layout`]), what a latent holds
//! ([`latent`]), the rotation conventions ([`rotation`]), colours ([`colour`]), how factors are
//! drawn ([`factors`]), the split manifests ([`manifest`]), the object-level split ([`split`]),
//! the rich per-image manifest ([`records`]), atomic writes ([`atomic`]) and confined, bounded
//! reads of user-named files ([`input`]).

pub mod atomic;
pub mod colour;
pub mod config;
pub mod factors;
pub mod fuzz;
pub mod input;
pub mod integrity;
pub mod latent;
pub mod layout;
pub mod lock;
pub mod manifest;
pub mod npy;
pub mod pair;
pub mod pixels;
pub mod records;
pub mod rotation;
pub mod split;
pub mod views;

pub use latent::Latent;
pub use layout::ObjectKey;

/// Version of the generator that wrote a dataset; recorded in its manifest. 0.2: factor
/// configurations and one keyed stream per factor (the same seed gives other values than 0.1).
pub const GENERATOR_VERSION: &str = concat!("iebench-rs ", env!("CARGO_PKG_VERSION"));

/// The git commit the generator was built from ("unknown" outside a git checkout).
pub const GENERATOR_COMMIT: &str = env!("IEBENCH_GIT_COMMIT");
