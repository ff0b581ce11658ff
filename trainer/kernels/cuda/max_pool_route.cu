// Max-pool backward in one pass: each output element finds the first maximum of its window
// (scan order, as PyTorch's kernels and ops/pool.rs) and adds its gradient there. Windows overlap
// when kernel > stride, so the adds are atomic; dx must be zeroed first.
extern "C" __global__ void max_pool_route_f32(
    const float* __restrict__ x, const float* __restrict__ dy, float* __restrict__ dx,
    unsigned long long outputs, int h, int w, int oh, int ow, int k, int s, int p)
{
    unsigned long long i = (unsigned long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= outputs) return;
    int ox = (int)(i % ow);
    int oy = (int)((i / ow) % oh);
    unsigned long long plane = i / ((unsigned long long)oh * ow);
    const float* xp = x + plane * h * w;
    int y0 = oy * s - p, x0 = ox * s - p;
    int r0 = max(y0, 0), r1 = min(y0 + k, h), c0 = max(x0, 0), c1 = min(x0 + k, w);
    int best = r0 * w + c0;
    float best_value = xp[best];
    for (int r = r0; r < r1; ++r) {
        for (int c = c0; c < c1; ++c) {
            float v = xp[r * w + c];
            if (v > best_value) { best_value = v; best = r * w + c; }
        }
    }
    atomicAdd(dx + plane * h * w + best, dy[i]);
}
