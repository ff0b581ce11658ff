//! Writes the procedural test dataset somewhere for benchmarks or manual runs:
//! `FIXTURE_OUT=/tmp/tiny3dieb FIXTURE_OBJECTS=20 FIXTURE_VIEWS=10 FIXTURE_SIZE=256 \
//!  cargo test -p trainer --test fixture -- --ignored`

mod common;

#[test]
#[ignore = "writes a dataset to $FIXTURE_OUT"]
fn write_fixture() {
    let out = std::env::var("FIXTURE_OUT").expect("set FIXTURE_OUT");
    let num = |k: &str, d: usize| std::env::var(k).ok().and_then(|v| v.parse().ok()).unwrap_or(d);
    let keys = common::make_dataset(
        std::path::Path::new(&out),
        num("FIXTURE_OBJECTS", 8),
        num("FIXTURE_VIEWS", 6),
        num("FIXTURE_SIZE", 64) as u32,
    );
    eprintln!("{} objects written to {out}", keys.len());
}
