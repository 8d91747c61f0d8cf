// Storage types of templated kernels (exported per type as _f32 / _f16 / _bf16): fp16 and bf16 as distinct structs so
// overloads pick the conversion; ld/st convert to and from fp32, in which all math is done.
#pragma once
#include "fastif_types.cuh"

struct h16 { unsigned short b; };
struct b16 { unsigned short b; };

FASTIF_DEVICE float ld(const float* p) { return *p; }
FASTIF_DEVICE float ld(const h16* p) { return fastif_f16_to_f32(p->b); }
FASTIF_DEVICE float ld(const b16* p) { return fastif_bf16_to_f32(p->b); }
FASTIF_DEVICE void st(float* p, float v) { *p = v; }
FASTIF_DEVICE void st(h16* p, float v) { p->b = fastif_f32_to_f16(v); }
FASTIF_DEVICE void st(b16* p, float v) { p->b = fastif_f32_to_bf16(v); }
