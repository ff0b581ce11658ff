//! The progress bar: images/s and ETA.

use indicatif::{ProgressBar, ProgressStyle};

/// Prints a line to stderr above the bar. Unlike `ProgressBar::println`, which drops the line
/// when stderr is not a terminal, this always prints: a batch job's log must get every warning.
pub fn report(bar: &ProgressBar, line: &str) {
    bar.suspend(|| eprintln!("{line}"));
}

pub fn bar(total: u64) -> ProgressBar {
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} images  {per_sec}  ETA {eta}  {msg}")
            .expect("valid template"),
    );
    bar
}
