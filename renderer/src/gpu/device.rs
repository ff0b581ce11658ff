//! Headless wgpu instance, adapter and device.

use anyhow::Context;

/// Opens a device without any window. `backend` is a comma list as `WGPU_BACKEND` takes it
/// ("vulkan", "gl", "metal", "dx12"); `None` uses `WGPU_BACKEND` or every backend.
/// `WGPU_ADAPTER_NAME` (a substring of the adapter's name) picks among several adapters.
pub fn open(backend: Option<&str>) -> anyhow::Result<(wgpu::Adapter, wgpu::Device, wgpu::Queue)> {
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle_from_env();
    if let Some(list) = backend {
        desc.backends = wgpu::Backends::from_comma_list(list);
    }
    let backends = desc.backends;
    let instance = wgpu::Instance::new(desc);
    let adapter = pollster::block_on(pick_adapter(&instance, backends)).with_context(|| {
        format!("no graphics adapter found (backends {backends:?}); on Linux install a Vulkan driver, e.g. `apt-get install mesa-vulkan-drivers libvulkan1` for lavapipe")
    })?;
    let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
        label: Some("renderer"),
        required_features: wgpu::Features::empty(),
        // Modest limits (3 bind groups, small uniforms) so GL and older devices qualify too.
        required_limits: wgpu::Limits::downlevel_defaults().using_resolution(adapter.limits()),
        experimental_features: wgpu::ExperimentalFeatures::disabled(),
        memory_hints: wgpu::MemoryHints::Performance,
        trace: wgpu::Trace::Off,
    }))
    .context("cannot open the graphics device")?;
    Ok((adapter, device, queue))
}

async fn pick_adapter(instance: &wgpu::Instance, backends: wgpu::Backends) -> Option<wgpu::Adapter> {
    if let Ok(name) = std::env::var("WGPU_ADAPTER_NAME") {
        let name = name.to_lowercase();
        let adapters = instance.enumerate_adapters(backends).await;
        return adapters.into_iter().find(|a| a.get_info().name.to_lowercase().contains(&name));
    }
    instance
        .request_adapter(&wgpu::RequestAdapterOptions {
            power_preference: wgpu::PowerPreference::HighPerformance,
            force_fallback_adapter: false,
            compatible_surface: None,
            ..Default::default()
        })
        .await
        .ok()
}

/// "name (backend, device type, driver info)".
pub fn describe(adapter: &wgpu::Adapter) -> String {
    let info = adapter.get_info();
    format!(
        "{} ({:?}, {:?}, {} {})",
        info.name, info.backend, info.device_type, info.driver, info.driver_info
    )
}
