// Elementwise arithmetic; 16-bit variants compute in fp32.
#include "fastif_types.cuh"

extern "C" __global__ void fastif_add_f32(const float* __restrict__ a, const float* __restrict__ b, float* __restrict__ out, fastif_index n) {
    FASTIF_FOR_EACH(i, n) out[i] = a[i] + b[i];
}

// y = alpha * x + y
extern "C" __global__ void fastif_scale_add_f32(const float* __restrict__ x, float* __restrict__ y, float alpha, fastif_index n) {
    FASTIF_FOR_EACH(i, n) y[i] = fmaf(alpha, x[i], y[i]);
}

extern "C" __global__ void fastif_add_f16(const fastif_f16* __restrict__ a, const fastif_f16* __restrict__ b, fastif_f16* __restrict__ out, fastif_index n) {
    FASTIF_FOR_EACH(i, n) out[i] = fastif_f32_to_f16(fastif_f16_to_f32(a[i]) + fastif_f16_to_f32(b[i]));
}

extern "C" __global__ void fastif_scale_add_f16(const fastif_f16* __restrict__ x, fastif_f16* __restrict__ y, float alpha, fastif_index n) {
    FASTIF_FOR_EACH(i, n) y[i] = fastif_f32_to_f16(fmaf(alpha, fastif_f16_to_f32(x[i]), fastif_f16_to_f32(y[i])));
}

extern "C" __global__ void fastif_add_bf16(const fastif_bf16* __restrict__ a, const fastif_bf16* __restrict__ b, fastif_bf16* __restrict__ out, fastif_index n) {
    FASTIF_FOR_EACH(i, n) out[i] = fastif_f32_to_bf16(fastif_bf16_to_f32(a[i]) + fastif_bf16_to_f32(b[i]));
}
