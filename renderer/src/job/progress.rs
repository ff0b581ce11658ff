//! The progress bar: images/s and ETA.

use indicatif::{ProgressBar, ProgressStyle};

pub fn bar(total: u64) -> ProgressBar {
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} images  {per_sec}  ETA {eta}  {msg}")
            .expect("valid template"),
    );
    bar
}
