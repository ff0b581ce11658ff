//! A grouped bar chart as PNG, drawn with `image` and a built-in 5x7 bitmap font (no font files,
//! no system dependencies).

use std::path::Path;

use anyhow::{Context, Result};
use image::{Rgb, RgbImage};

/// One group of bars (one metric): a title and one value per series (None: not measured).
pub struct Group {
    pub title: String,
    pub values: Vec<Option<f64>>,
}

const PALETTE: [[u8; 3]; 6] =
    [[70, 110, 200], [220, 110, 50], [80, 170, 90], [190, 70, 150], [120, 120, 120], [200, 180, 40]];
const WHITE: Rgb<u8> = Rgb([255, 255, 255]);
const INK: Rgb<u8> = Rgb([30, 30, 30]);
const GRID: Rgb<u8> = Rgb([220, 220, 220]);

/// Draws `groups` of bars for `series` (legend names) on a [0, 1] axis; negative values are drawn
/// as empty bars with their value printed, so nothing is hidden.
pub fn bar_chart(title: &str, series: &[String], groups: &[Group], path: &Path) -> Result<()> {
    let (width, height) = (220 * groups.len().max(1) as u32 + 120, 460u32);
    let mut img = RgbImage::from_pixel(width, height, WHITE);
    let (left, right, top, bottom) = (70i64, width as i64 - 20, 60i64, height as i64 - 90);
    let y_of = |v: f64| bottom - ((v.clamp(0.0, 1.0)) * (bottom - top) as f64).round() as i64;
    pixfont::draw(&mut img, title, left, 15, 2, INK);
    for tick in 0..=4 {
        let v = tick as f64 / 4.0;
        let y = y_of(v);
        hline(&mut img, left, right, y, if tick == 0 { INK } else { GRID });
        pixfont::draw(&mut img, &format!("{v:.2}"), 10, y - 7, 2, INK);
    }
    let group_width = (right - left) / groups.len().max(1) as i64;
    let bar_width = ((group_width - 40) / series.len().max(1) as i64).max(4);
    for (g, group) in groups.iter().enumerate() {
        let x0 = left + g as i64 * group_width + 20;
        for (s, value) in group.values.iter().enumerate() {
            let colour = Rgb(PALETTE[s % PALETTE.len()]);
            let bx = x0 + s as i64 * bar_width;
            let label = match value {
                Some(v) => {
                    fill(&mut img, bx + 2, y_of(*v), bx + bar_width - 2, bottom, colour);
                    format!("{v:.2}")
                }
                None => "-".to_string(),
            };
            let label_y = value.map_or(bottom, &y_of) - 18;
            pixfont::draw(&mut img, &label, bx + 2, label_y, 2, INK);
        }
        pixfont::draw(&mut img, &group.title, x0, bottom + 12, 2, INK);
    }
    let mut lx = left;
    for (s, name) in series.iter().enumerate() {
        fill(&mut img, lx, height as i64 - 40, lx + 16, height as i64 - 24, Rgb(PALETTE[s % PALETTE.len()]));
        pixfont::draw(&mut img, name, lx + 22, height as i64 - 39, 2, INK);
        lx += 22 + 12 * name.len() as i64 + 30;
    }
    let mut bytes = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut bytes), image::ImageFormat::Png)
        .context("encoding the chart")?;
    dataset::atomic::write_bytes(path, &bytes).with_context(|| format!("{}: cannot write", path.display()))
}

fn put(img: &mut RgbImage, x: i64, y: i64, c: Rgb<u8>) {
    if x >= 0 && y >= 0 && (x as u32) < img.width() && (y as u32) < img.height() {
        img.put_pixel(x as u32, y as u32, c);
    }
}

fn fill(img: &mut RgbImage, x0: i64, y0: i64, x1: i64, y1: i64, c: Rgb<u8>) {
    for y in y0.min(y1)..y0.max(y1) {
        for x in x0.min(x1)..x0.max(x1) {
            put(img, x, y, c);
        }
    }
}

fn hline(img: &mut RgbImage, x0: i64, x1: i64, y: i64, c: Rgb<u8>) {
    fill(img, x0, y, x1, y + 1, c);
}
