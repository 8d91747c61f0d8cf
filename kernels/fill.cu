// Buffer fills.
#include "fastif_types.cuh"

extern "C" __global__ void fastif_fill_f32(float* __restrict__ dst, float value, fastif_index n) {
    FASTIF_FOR_EACH(i, n) dst[i] = value;
}

// Fills 16-bit elements (fp16 or bf16 bit patterns).
extern "C" __global__ void fastif_fill_u16(unsigned short* __restrict__ dst, unsigned short value, fastif_index n) {
    FASTIF_FOR_EACH(i, n) dst[i] = value;
}

// dst[i] = start + i * step (test patterns, position ids).
extern "C" __global__ void fastif_iota_f32(float* __restrict__ dst, float start, float step, fastif_index n) {
    FASTIF_FOR_EACH(i, n) dst[i] = start + (float)i * step;
}
