//! One module per class: each turns a stream of random draws into a [`Model`].
//!
//! Frame (right-handed, as ShapeNet's OBJ files): Y up, the object's front towards +Z, so +X is on
//! the right of a viewer who faces the front.
//! Sizes are in rough metres; the writer normalises to a unit diagonal. Every class adds at least
//! one part that breaks its 180-degree rotational symmetries (a handle, a tail fin, a drawer, a
//! single armrest...) so that the pose can be read from the image.

mod airplane;
mod bench;
mod bottle;
mod bowl;
mod car;
mod chair;
mod guitar;
mod lamp;
mod mug;
mod rifle;
mod sofa;
mod table;

use crate::model::{hsv, Model};
use crate::rng::Rng;
use crate::texture::Pattern;

/// A class's generator.
pub type Builder = fn(&mut Rng) -> Model;

/// The generator of the class called `name`.
pub fn builder(name: &str) -> Option<Builder> {
    Some(match name {
        "airplane" => airplane::build,
        "bench" => bench::build,
        "bottle" => bottle::build,
        "bowl" => bowl::build,
        "car" => car::build,
        "chair" => chair::build,
        "guitar" => guitar::build,
        "lamp" => lamp::build,
        "mug" => mug::build,
        "rifle" => rifle::build,
        "sofa" => sofa::build,
        "table" => table::build,
        _ => return None,
    })
}

/// A saturated paint colour of any hue.
fn paint(rng: &mut Rng) -> [f32; 3] {
    let h = rng.unit();
    hsv(h, rng.range(0.55, 0.9), rng.range(0.45, 0.9))
}

/// A muted fabric colour.
fn fabric(rng: &mut Rng) -> [f32; 3] {
    let h = rng.unit();
    hsv(h, rng.range(0.15, 0.6), rng.range(0.3, 0.8))
}

/// A grey metal (dark to light).
fn metal(rng: &mut Rng) -> [f32; 3] {
    let v = rng.range(0.15, 0.75);
    hsv(0.6, 0.05, v)
}

/// A wood colour pair and a grain texture.
fn wood(rng: &mut Rng) -> Pattern {
    let h = rng.range(0.05, 0.1);
    let v = rng.range(0.45, 0.85);
    Pattern::Wood {
        light: hsv(h, rng.range(0.35, 0.6), v),
        dark: hsv(h, 0.7, v * 0.55),
        rings: rng.range(4.0, 10.0),
        seed: (rng.unit() * 1e6) as u32,
    }
}

/// Two contrasting colours for stripes and checks.
fn two_tone(rng: &mut Rng) -> ([f32; 3], [f32; 3]) {
    let h = rng.unit();
    (
        hsv(h, rng.range(0.5, 0.9), rng.range(0.5, 0.9)),
        hsv(h + rng.range(0.3, 0.7), rng.range(0.0, 0.6), rng.range(0.6, 1.0)),
    )
}

fn deg(d: f32) -> f32 {
    d.to_radians()
}
