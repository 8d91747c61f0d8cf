// Element type conversions between fp32, fp16 and bf16 (16-bit types as raw bits).
#include "fastif_types.cuh"

extern "C" __global__ void fastif_convert_f32_to_f16(const float* __restrict__ src, fastif_f16* __restrict__ dst, fastif_index n) {
    FASTIF_FOR_EACH(i, n) dst[i] = fastif_f32_to_f16(src[i]);
}

extern "C" __global__ void fastif_convert_f16_to_f32(const fastif_f16* __restrict__ src, float* __restrict__ dst, fastif_index n) {
    FASTIF_FOR_EACH(i, n) dst[i] = fastif_f16_to_f32(src[i]);
}

extern "C" __global__ void fastif_convert_f32_to_bf16(const float* __restrict__ src, fastif_bf16* __restrict__ dst, fastif_index n) {
    FASTIF_FOR_EACH(i, n) dst[i] = fastif_f32_to_bf16(src[i]);
}

extern "C" __global__ void fastif_convert_bf16_to_f32(const fastif_bf16* __restrict__ src, float* __restrict__ dst, fastif_index n) {
    FASTIF_FOR_EACH(i, n) dst[i] = fastif_bf16_to_f32(src[i]);
}

extern "C" __global__ void fastif_convert_f16_to_bf16(const fastif_f16* __restrict__ src, fastif_bf16* __restrict__ dst, fastif_index n) {
    FASTIF_FOR_EACH(i, n) dst[i] = fastif_f32_to_bf16(fastif_f16_to_f32(src[i]));
}

extern "C" __global__ void fastif_convert_bf16_to_f16(const fastif_bf16* __restrict__ src, fastif_f16* __restrict__ dst, fastif_index n) {
    FASTIF_FOR_EACH(i, n) dst[i] = fastif_f32_to_f16(fastif_bf16_to_f32(src[i]));
}
