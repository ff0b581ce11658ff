//! Generates a library and reports its size and timing.
//!
//! `cargo run --release -p synth --example generate -- OUT [per_class] [seed]`

use std::time::Instant;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let out = std::path::PathBuf::from(args.get(1).map(String::as_str).unwrap_or("out/library"));
    let per_class: usize = args.get(2).map(|s| s.parse()).transpose()?.unwrap_or(20);
    let seed: u64 = args.get(3).map(|s| s.parse()).transpose()?.unwrap_or(0);
    let start = Instant::now();
    let keys = synth::generate_library(&out, per_class, seed)?;
    let took = start.elapsed();
    println!(
        "{} objects ({} classes x {per_class}) in {:.2} s -> {}",
        keys.len(),
        synth::classes().len(),
        took.as_secs_f64(),
        out.display()
    );
    // The same objects again, built and encoded in memory only: the cost without file writes.
    let start = Instant::now();
    let mut bytes = 0;
    for class in synth::classes() {
        for i in 0..per_class {
            let mut m = synth::build_object(class, i, seed)?;
            synth::obj_writer::normalise(&mut m);
            let f = synth::obj_writer::encode(&m, "x", "x")?;
            bytes += f.obj.len()
                + f.mtl.len()
                + f.json.len()
                + f.textures.iter().map(|t| t.1.len()).sum::<usize>();
        }
    }
    println!("build + encode only: {:.2} s, {:.1} MB", start.elapsed().as_secs_f64(), bytes as f64 / 1e6);
    println!("{:<10} {:>6} {:>6} {:>6}   textured", "class", "min", "median", "max");
    for class in synth::classes() {
        let mut tris = Vec::new();
        let mut textured = 0;
        for i in 0..per_class {
            let m = synth::build_object(class, i, seed)?;
            tris.push(m.triangle_count());
            textured += m.materials.iter().any(|m| m.texture.is_some()) as usize;
        }
        tris.sort_unstable();
        println!(
            "{:<10} {:>6} {:>6} {:>6}   {textured}/{per_class}",
            class.name,
            tris[0],
            tris[tris.len() / 2],
            tris[tris.len() - 1]
        );
    }
    Ok(())
}
