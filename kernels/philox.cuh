// Philox4x32-10 and Box-Muller in NoiseMath's arithmetic: the device half of FastIF.Sampling.PhiloxNoise, shared by the
// noise kernel and the fused step kernels. Every double operation is an explicit round-to-nearest intrinsic, so the
// compiler cannot contract a*b+c into an FMA the CPU does not do (and the FMAs the CPU does are __fma_rn here). Library
// log/sin/cos are not used: their last bits differ between platforms.
#pragma once
#include "fastif_types.cuh"

__device__ __constant__ double fastif_log_coef[12] = {
    0.043478260869565216, 0.047619047619047616, 0.05263157894736842, 0.058823529411764705, 0.06666666666666667,
    0.07692307692307693, 0.09090909090909091, 0.1111111111111111, 0.14285714285714285, 0.2, 0.3333333333333333, 1.0};
__device__ __constant__ double fastif_sin_coef[12] = {
    -3.868170170630684e-23, 1.9572941063391263e-20, -8.22063524662433e-18, 2.8114572543455206e-15, -7.647163731819816e-13,
    1.6059043836821613e-10, -2.505210838544172e-08, 2.7557319223985893e-06, -0.0001984126984126984, 0.008333333333333333,
    -0.16666666666666666, 1.0};
__device__ __constant__ double fastif_cos_coef[12] = {
    -8.896791392450574e-22, 4.110317623312165e-19, -1.5619206968586225e-16, 4.779477332387385e-14, -1.1470745597729725e-11,
    2.08767569878681e-09, -2.755731922398589e-07, 2.48015873015873e-05, -0.001388888888888889, 0.041666666666666664, -0.5, 1.0};

// ln((r + 1) / 2^32): NoiseMath.LogUniform.
__device__ double fastif_log_uniform(unsigned int r) {
    unsigned long long m = (unsigned long long)r + 1ull;
    int e = 63 - __clzll((long long)m);
    double f = __ddiv_rn((double)m, (double)(1ull << e));
    if (f > 1.4142135623730951) { f = __dmul_rn(f, 0.5); e++; }
    double s = __ddiv_rn(__dadd_rn(f, -1.0), __dadd_rn(f, 1.0));
    double z = __dmul_rn(s, s);
    double p = fastif_log_coef[0];
    for (int k = 1; k < 12; k++) p = __fma_rn(p, z, fastif_log_coef[k]);
    double lnf = __dmul_rn(__dmul_rn(2.0, s), p);
    return __fma_rn((double)(e - 32), 0.6931471805599453, lnf);
}

// (r * cos, r * sin) of NoiseMath.BoxMuller for draws a (radius) and b (angle).
__device__ void fastif_box_muller(unsigned int a, unsigned int b, float* first, float* second) {
    double rad = __dsqrt_rn(__dmul_rn(-2.0, fastif_log_uniform(a)));
    unsigned int q = b >> 30;
    // pi/2 / 2^30, folded exactly (a power-of-two division).
    double x = __dmul_rn((double)(b & 0x3FFFFFFFu), 1.5707963267948966 / 1073741824.0);
    double x2 = __dmul_rn(x, x);
    double ps = fastif_sin_coef[0], pc = fastif_cos_coef[0];
    for (int k = 1; k < 12; k++) { ps = __fma_rn(ps, x2, fastif_sin_coef[k]); pc = __fma_rn(pc, x2, fastif_cos_coef[k]); }
    double s = __dmul_rn(x, ps), c = pc, sn, cs;
    if (q == 0) { sn = s; cs = c; } else if (q == 1) { sn = c; cs = -s; } else if (q == 2) { sn = -s; cs = -c; } else { sn = -c; cs = s; }
    *first = __double2float_rn(__dmul_rn(rad, cs));
    *second = __double2float_rn(__dmul_rn(rad, sn));
}

// Philox4x32-10 (Salmon et al., SC'11), as PhiloxNoise.Philox: counter (block lo, block hi, draw lo, draw hi), key = seed.
__device__ void fastif_philox(unsigned long long seed, unsigned long long draw, unsigned long long block, unsigned int out[4]) {
    unsigned int c0 = (unsigned int)block, c1 = (unsigned int)(block >> 32), c2 = (unsigned int)draw, c3 = (unsigned int)(draw >> 32);
    unsigned int k0 = (unsigned int)seed, k1 = (unsigned int)(seed >> 32);
    for (int round = 0; round < 10; round++) {
        unsigned int hi0 = __umulhi(0xD2511F53u, c0), lo0 = 0xD2511F53u * c0;
        unsigned int hi1 = __umulhi(0xCD9E8D57u, c2), lo1 = 0xCD9E8D57u * c2;
        unsigned int n0 = hi1 ^ c1 ^ k0, n1 = lo1, n2 = hi0 ^ c3 ^ k1, n3 = lo0;
        c0 = n0; c1 = n1; c2 = n2; c3 = n3;
        k0 += 0x9E3779B9u; k1 += 0xBB67AE85u;
    }
    out[0] = c0; out[1] = c1; out[2] = c2; out[3] = c3;
}

// Values 4*blk .. 4*blk+3 of draw `draw` of the stream of `seed` (one Philox block, two Box-Muller pairs).
__device__ void fastif_philox_block(unsigned long long seed, unsigned long long draw, unsigned long long blk, float out[4]) {
    unsigned int r[4];
    fastif_philox(seed, draw, blk, r);
    fastif_box_muller(r[0], r[1], &out[0], &out[1]);
    fastif_box_muller(r[2], r[3], &out[2], &out[3]);
}
