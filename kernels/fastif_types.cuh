// FastIF device-side scalar helpers. No CUDA headers: NVRTC 11.8 through 13 and nvcc all accept this file.
// fp16 and bf16 values are stored as their raw 16-bit patterns (unsigned short); conversions use PTX cvt.
#pragma once

typedef unsigned short fastif_f16;   // IEEE binary16 bits
typedef unsigned short fastif_bf16;  // bfloat16 bits (upper half of an fp32)
typedef long long fastif_index;

#define FASTIF_DEVICE __device__ __forceinline__

#ifdef FASTIF_EMULATION
// FastIF's CUDA emulator compiles kernels as host C++ (tools/cuda-emulator): the same conversions, without PTX.
FASTIF_DEVICE unsigned int fastif_float_bits(float f) { return emu::float_bits(f); }
FASTIF_DEVICE float fastif_bits_float(unsigned int u) { return emu::bits_float(u); }
FASTIF_DEVICE fastif_f16 fastif_f32_to_f16(float f) { return emu::float_to_half(f); }
FASTIF_DEVICE float fastif_f16_to_f32(fastif_f16 h) { return emu::half_to_float(h); }
#else
FASTIF_DEVICE unsigned int fastif_float_bits(float f) {
    unsigned int u;
    asm("mov.b32 %0, %1;" : "=r"(u) : "f"(f));
    return u;
}

FASTIF_DEVICE float fastif_bits_float(unsigned int u) {
    float f;
    asm("mov.b32 %0, %1;" : "=f"(f) : "r"(u));
    return f;
}

// fp32 -> fp16, round to nearest even (cvt.rn), overflow to inf, NaN stays NaN.
FASTIF_DEVICE fastif_f16 fastif_f32_to_f16(float f) {
    unsigned short h;
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(f));
    return h;
}

FASTIF_DEVICE float fastif_f16_to_f32(fastif_f16 h) {
    float f;
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h));
    return f;
}
#endif

// fp32 -> bf16, round to nearest even; NaN is kept quiet (same rule as DTypeConvert.FloatToBFloat16).
FASTIF_DEVICE fastif_bf16 fastif_f32_to_bf16(float f) {
    unsigned int u = fastif_float_bits(f);
    if ((u & 0x7FFFFFFFu) > 0x7F800000u) return (fastif_bf16)((u >> 16) | 0x40u);
    unsigned int rounding = 0x7FFFu + ((u >> 16) & 1u);
    return (fastif_bf16)((u + rounding) >> 16);
}

FASTIF_DEVICE float fastif_bf16_to_f32(fastif_bf16 b) {
    return fastif_bits_float(((unsigned int)b) << 16);
}

// Grid-stride loop over [0, n).
#define FASTIF_FOR_EACH(i, n) \
    for (fastif_index i = (fastif_index)blockIdx.x * blockDim.x + threadIdx.x; i < (n); \
         i += (fastif_index)blockDim.x * gridDim.x)
