//! Image comparison metrics of the fidelity report: PSNR, SSIM, mean colour error inside and
//! outside the object, silhouette IoU. Images are RGB8 rows, masks one byte per pixel.

/// Peak signal-to-noise ratio over all pixels and channels, in dB (`f64::INFINITY` when equal).
pub fn psnr(a: &[u8], b: &[u8]) -> f64 {
    assert_eq!(a.len(), b.len());
    let sse: f64 = a.iter().zip(b).map(|(&x, &y)| (x as f64 - y as f64).powi(2)).sum();
    let mse = sse / a.len() as f64;
    10.0 * (255.0f64 * 255.0 / mse).log10()
}

/// Mean structural similarity (Wang et al. 2004: 11x11 Gaussian window, sigma 1.5, K1 0.01,
/// K2 0.03, over pixels whose window fits in the image), averaged over the three channels, as
/// scikit-image's `structural_similarity(..., channel_axis=-1, gaussian_weights=True)`.
pub fn ssim(a: &[u8], b: &[u8], size: usize) -> f64 {
    assert_eq!(a.len(), size * size * 3);
    (0..3)
        .map(|c| {
            let x: Vec<f64> = a.iter().skip(c).step_by(3).map(|&v| v as f64).collect();
            let y: Vec<f64> = b.iter().skip(c).step_by(3).map(|&v| v as f64).collect();
            ssim_channel(&x, &y, size)
        })
        .sum::<f64>()
        / 3.0
}

const SSIM_RADIUS: usize = 5;

fn gaussian_window() -> [f64; 2 * SSIM_RADIUS + 1] {
    let mut w = [0.0; 2 * SSIM_RADIUS + 1];
    for (i, v) in w.iter_mut().enumerate() {
        let d = i as f64 - SSIM_RADIUS as f64;
        *v = (-d * d / (2.0 * 1.5 * 1.5)).exp();
    }
    let sum: f64 = w.iter().sum();
    w.map(|v| v / sum)
}

/// Separable Gaussian blur, valid region only: (size - 10)^2 values.
fn blur(v: &[f64], size: usize) -> Vec<f64> {
    let w = gaussian_window();
    let inner = size - 2 * SSIM_RADIUS;
    let mut rows = vec![0.0; size * inner];
    for y in 0..size {
        for x in 0..inner {
            rows[y * inner + x] = w.iter().enumerate().map(|(k, wk)| wk * v[y * size + x + k]).sum();
        }
    }
    let mut out = vec![0.0; inner * inner];
    for y in 0..inner {
        for x in 0..inner {
            out[y * inner + x] = w.iter().enumerate().map(|(k, wk)| wk * rows[(y + k) * inner + x]).sum();
        }
    }
    out
}

fn ssim_channel(x: &[f64], y: &[f64], size: usize) -> f64 {
    let (c1, c2) = ((0.01f64 * 255.0).powi(2), (0.03f64 * 255.0).powi(2));
    let product = |p: &[f64], q: &[f64]| p.iter().zip(q).map(|(a, b)| a * b).collect::<Vec<_>>();
    let (mx, my) = (blur(x, size), blur(y, size));
    let (sxx, syy, sxy) =
        (blur(&product(x, x), size), blur(&product(y, y), size), blur(&product(x, y), size));
    let n = mx.len();
    (0..n)
        .map(|i| {
            let (vx, vy, cxy) = (sxx[i] - mx[i] * mx[i], syy[i] - my[i] * my[i], sxy[i] - mx[i] * my[i]);
            ((2.0 * mx[i] * my[i] + c1) * (2.0 * cxy + c2))
                / ((mx[i] * mx[i] + my[i] * my[i] + c1) * (vx + vy + c2))
        })
        .sum::<f64>()
        / n as f64
}

/// Mean absolute channel difference (0-255 scale) over the pixels where `inside(i)` holds; `None`
/// when there are none.
pub fn mean_error(a: &[u8], b: &[u8], inside: impl Fn(usize) -> bool) -> Option<f64> {
    let (mut sum, mut count) = (0.0, 0usize);
    for (i, (pa, pb)) in a.chunks_exact(3).zip(b.chunks_exact(3)).enumerate() {
        if inside(i) {
            sum += pa.iter().zip(pb).map(|(&x, &y)| x.abs_diff(y) as f64).sum::<f64>() / 3.0;
            count += 1;
        }
    }
    (count > 0).then(|| sum / count as f64)
}

/// Intersection over union of two masks (a pixel is in when its byte is at least 128); 1 when
/// both are empty.
pub fn iou(a: &[u8], b: &[u8]) -> f64 {
    let (mut both, mut either) = (0usize, 0usize);
    for (&x, &y) in a.iter().zip(b) {
        both += (x >= 128 && y >= 128) as usize;
        either += (x >= 128 || y >= 128) as usize;
    }
    if either == 0 {
        1.0
    } else {
        both as f64 / either as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp(size: usize, offset: u8) -> Vec<u8> {
        (0..size * size * 3).map(|i| ((i / 3 % size * 4) as u8).saturating_add(offset)).collect()
    }

    #[test]
    fn psnr_of_a_uniform_offset() {
        let a = vec![100u8; 300];
        let b = vec![110u8; 300];
        // MSE 100: 10 log10(65025 / 100) = 28.13 dB.
        assert!((psnr(&a, &b) - 28.131).abs() < 1e-3);
        assert!(psnr(&a, &a).is_infinite());
    }

    #[test]
    fn ssim_is_one_for_equal_images_and_drops_with_noise() {
        let a = ramp(32, 0);
        assert!((ssim(&a, &a, 32) - 1.0).abs() < 1e-12);
        let noisy: Vec<u8> =
            a.iter().enumerate().map(|(i, &v)| if i % 7 == 0 { v.saturating_add(40) } else { v }).collect();
        let s = ssim(&a, &noisy, 32);
        assert!(s < 0.9 && s > 0.0, "{s}");
    }

    #[test]
    fn region_errors_and_iou() {
        let a = [0u8, 0, 0, 10, 10, 10];
        let b = [3u8, 3, 3, 10, 10, 10];
        assert_eq!(mean_error(&a, &b, |i| i == 0), Some(3.0));
        assert_eq!(mean_error(&a, &b, |i| i == 1), Some(0.0));
        assert_eq!(mean_error(&a, &b, |_| false), None);
        assert_eq!(iou(&[255, 255, 0, 0], &[255, 0, 255, 0]), 1.0 / 3.0);
        assert_eq!(iou(&[0, 0], &[0, 0]), 1.0);
    }
}
