//! With the `cuda` feature: compiles cuda/*.cu to PTX with nvcc (scripts/setup-cuda.sh
//! installs it), for the compute capability in CUDA_COMPUTE_CAP (default 90: H100/H200). The
//! driver compiles the PTX for the card it runs on at start.
use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-changed=cuda");
    println!("cargo::rerun-if-env-changed=CUDA_COMPUTE_CAP");
    if std::env::var_os("CARGO_FEATURE_CUDA").is_none() {
        return;
    }
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    let cap = std::env::var("CUDA_COMPUTE_CAP").unwrap_or_else(|_| "90".into());
    let nvcc = std::env::var("CUDA_HOME").map(|h| format!("{h}/bin/nvcc")).unwrap_or_else(|_| "nvcc".into());
    // One kernel file today; each is compiled the same way.
    const KERNELS: &[&str] = &["max_pool_route"];
    for name in KERNELS {
        let src = format!("cuda/{name}.cu");
        let ptx = out.join(format!("{name}.ptx"));
        let status = Command::new(&nvcc)
            .args(["--ptx", "-O3", &format!("-arch=compute_{cap}"), &src, "-o"])
            .arg(&ptx)
            .status()
            .unwrap_or_else(|e| {
                panic!("cannot run {nvcc} (source .cuda-env from scripts/setup-cuda.sh): {e}")
            });
        assert!(status.success(), "nvcc failed on {src}");
    }
}
