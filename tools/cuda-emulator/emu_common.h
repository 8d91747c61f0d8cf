// FastIF's CUDA emulator: a CPU stand-in for libcuda, NVRTC, cuBLAS(Lt) and cuDNN, loaded in their place when
// FASTIF_CUDA_EMULATOR names it, so that the CUDA backend's host code and FastIF's own kernels run (slowly, on one CPU
// thread) where no GPU exists. It is a test instrument, not a backend: no timing it produces means anything.
//
// Conventions shared by every emu_*.cpp:
//   * "Device" memory is host memory: a CUdeviceptr is a plain pointer, dereferenceable by the emulator.
//   * Work runs on the calling thread, in order. While a stream is being captured into a graph, work queued on it is
//     recorded instead (emu::enqueue) and runs at each graph launch; so every library call that would queue GPU work
//     must go through emu::enqueue, capturing its arguments by value (host-side scalars such as alpha/beta are read at
//     call time, as the real libraries do in host pointer mode).
//   * Anything the emulator does not implement fails loudly: emu::unsupported prints the API and what was asked, and the
//     call returns an error status. Never a silent approximation.
#pragma once
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>

namespace emu {

// Runs `op` now, or records it when `stream` (a CUstream; null is the legacy default stream) is capturing.
void enqueue(void* stream, std::function<void()> op);

// Prints "fastif cuda emulator: <api>: <what>" to stderr (once per distinct message).
void unsupported(const char* api, const std::string& what);

// IEEE binary16 and bfloat16 <-> fp32, round to nearest even; NaN stays NaN.
inline float bits_float(uint32_t u) { float f; std::memcpy(&f, &u, 4); return f; }
inline uint32_t float_bits(float f) { uint32_t u; std::memcpy(&u, &f, 4); return u; }

inline float half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1Fu, man = h & 0x3FFu;
    if (exp == 0x1F) return bits_float(sign | 0x7F800000u | (man << 13));
    if (exp == 0) {
        if (man == 0) return bits_float(sign);
        float f = (float)man * (1.0f / 16777216.0f);  // man * 2^-24
        return (h & 0x8000u) ? -f : f;
    }
    return bits_float(sign | ((exp + 112) << 23) | (man << 13));
}

inline uint16_t float_to_half(float f) {
    uint32_t u = float_bits(f), sign = (u >> 16) & 0x8000u, a = u & 0x7FFFFFFFu;
    if (a > 0x7F800000u) return (uint16_t)(sign | 0x7E00u | ((a >> 13) & 0x3FFu));  // NaN, quiet
    if (a >= 0x477FF000u) return (uint16_t)(sign | 0x7C00u);                           // rounds to inf
    if (a < 0x38800000u) {                                                             // subnormal or zero
        float v = bits_float(a) * 16777216.0f;                                         // exact: scale by 2^24
        uint32_t m = (uint32_t)v; float r = v - (float)m;
        if (r > 0.5f || (r == 0.5f && (m & 1u))) m++;
        return (uint16_t)(sign | m);
    }
    uint32_t e = ((a >> 23) - 112) << 10, m = (a >> 13) & 0x3FFu, rest = a & 0x1FFFu;
    uint32_t h = e | m;
    if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) h++;
    return (uint16_t)(sign | h);
}

inline float bf16_to_float(uint16_t b) { return bits_float((uint32_t)b << 16); }

inline uint16_t float_to_bf16(float f) {
    uint32_t u = float_bits(f);
    if ((u & 0x7FFFFFFFu) > 0x7F800000u) return (uint16_t)((u >> 16) | 0x40u);
    return (uint16_t)((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
}

}  // namespace emu
