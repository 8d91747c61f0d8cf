// The UNet's own kernels for the CUDA backend: everything cuDNN (convolutions) and cuBLAS(Lt) (GEMMs) do not do.
// Activations are channels-last (NHWC images, [B, L, C] tokens); storage is fp32, fp16 or bf16, math is fp32.
// Each kernel is written once as a template and exported per storage type as <name>_f32 / _f16 / _bf16.
// CPU twins: src/FastIF/Backends/Cpu (the reference backend); tests/FastIF.Tests/Cuda/CudaBackendParityTests.cs holds them to it.
#include "fastif_math.cuh"

// Type code 0 = f32, 1 = f16, 2 = bf16 (FastIF.Backends.Cuda.CudaDType).
FASTIF_DEVICE float ld_any(const void* p, fastif_index i, int type) {
    if (type == 0) return ((const float*)p)[i];
    if (type == 1) return ld((const h16*)p + i);
    return ld((const b16*)p + i);
}

FASTIF_DEVICE void st_any(void* p, fastif_index i, int type, float v) {
    if (type == 0) ((float*)p)[i] = v;
    else if (type == 1) st((h16*)p + i, v);
    else st((b16*)p + i, v);
}

// Layout and type conversion in one pass: out is contiguous [d0, d1, d2, d3]; element (i0..i3) comes from
// src[i0*s0 + i1*s1 + i2*s2 + i3*s3]. NCHW<->NHWC, conv weights OIHW->OHWI and plain casts are all this.
extern "C" __global__ void fastif_convert4d(const void* __restrict__ src, int srcType, void* __restrict__ dst, int dstType,
                                            fastif_index d0, fastif_index d1, fastif_index d2, fastif_index d3,
                                            fastif_index s0, fastif_index s1, fastif_index s2, fastif_index s3) {
    fastif_index n = d0 * d1 * d2 * d3;
    FASTIF_FOR_EACH(i, n) {
        fastif_index r = i;
        fastif_index i3 = r % d3; r /= d3;
        fastif_index i2 = r % d2; r /= d2;
        fastif_index i1 = r % d1; r /= d1;
        st_any(dst, i, dstType, ld_any(src, r * s0 + i1 * s1 + i2 * s2 + i3 * s3, srcType));
    }
}

// LayerNorm over the last axis: one block per row.
template <typename T>
FASTIF_DEVICE void layernorm(const T* __restrict__ x, const T* __restrict__ gamma, const T* __restrict__ beta,
                             T* __restrict__ y, int width, float eps) {
    __shared__ float scratch[32];
    const T* xr = x + (fastif_index)blockIdx.x * width;
    T* yr = y + (fastif_index)blockIdx.x * width;
    float s = 0.0f;
    for (int i = threadIdx.x; i < width; i += blockDim.x) s += ld(xr + i);
    float mean = block_sum(s, scratch) / (float)width;
    float q = 0.0f;
    for (int i = threadIdx.x; i < width; i += blockDim.x) { float d = ld(xr + i) - mean; q += d * d; }
    float rstd = rsqrtf(block_sum(q, scratch) / (float)width + eps);
    for (int i = threadIdx.x; i < width; i += blockDim.x)
        st(yr + i, (ld(xr + i) - mean) * rstd * ld(gamma + i) + ld(beta + i));
}

// y = a + b[i % nb] (b the same size as a, or a's trailing block broadcast over its leading axes). The equal-size case
// (the attention's residual) skips the remainder: a 64-bit one per element costs more than the add.
template <typename T>
FASTIF_DEVICE void add(const T* __restrict__ a, const T* __restrict__ b, T* __restrict__ y, fastif_index n, fastif_index nb) {
    if (nb == n) {
        FASTIF_FOR_EACH(i, n) st(y + i, ld(a + i) + ld(b + i));
    } else {
        FASTIF_FOR_EACH(i, n) st(y + i, ld(a + i) + ld(b + i % nb));
    }
}

// In place is allowed (x == y): each element is read before it is written, by the same thread.
template <typename T>
FASTIF_DEVICE void gelu(const T* x, T* y, fastif_index n, int approx) {
    FASTIF_FOR_EACH(i, n) { float v = ld(x + i); st(y + i, approx ? gelu_tanh(v) : gelu_erf(v)); }
}

// Sample and coordinates of pixel `row` of a [B, oh, ow] image: two 32-bit divisions, once per pixel (the host keeps
// pixel counts under 2^31).
struct Pixel {
    unsigned b, y, x;
};

FASTIF_DEVICE Pixel pixel_of(unsigned row, unsigned oh, unsigned ow) {
    Pixel p;
    unsigned q = row / ow;
    p.x = row - q * ow;
    p.b = q / oh;
    p.y = q - p.b * oh;
    return p;
}

// The convolution epilogue cuDNN's plain forward lacks: y = (y + bias[c] + residual) * scale, in place, channels last.
// With `upsampled` the residual is [B, h/2, w/2, C] read through nearest x2 (h, w: the output's sizes), never
// materialised at full resolution. Blocks take pixel rows, threads the channels of a row: coalesced, and the only
// index arithmetic is per row.
template <typename T>
FASTIF_DEVICE void bias_residual(T* __restrict__ y, const T* __restrict__ bias, const T* __restrict__ residual,
                                 fastif_index rows, int channels, float scale, int h, int w, int upsampled) {
    for (fastif_index row = blockIdx.x; row < rows; row += gridDim.x) {
        fastif_index rrow = row;
        if (upsampled) {
            Pixel o = pixel_of((unsigned)row, h, w);
            rrow = ((fastif_index)o.b * (h / 2) + o.y / 2) * (w / 2) + o.x / 2;
        }
        T* yr = y + row * channels;
        const T* rr = residual ? residual + rrow * channels : 0;
        for (int c = threadIdx.x; c < channels; c += blockDim.x) {
            float v = ld(yr + c);
            if (bias) v += ld(bias + c);
            if (rr) v += ld(rr + c);
            st(yr + c, v * scale);
        }
    }
}

// The resampling kernels below take a block per output pixel (looping over pixels beyond the grid) and a thread per
// channel: loads and stores are coalesced along channels and the pixel's coordinates are decoded once per pixel in
// 32-bit arithmetic (the host keeps pixel counts under 2^31), never per element.

// 2x2 average pooling, NHWC; h, w are the input's sizes.
template <typename T>
FASTIF_DEVICE void avgpool2(const T* __restrict__ x, T* __restrict__ y, int batch, int h, int w, int c) {
    unsigned oh = h / 2, ow = w / 2, rows = (unsigned)batch * oh * ow;
    for (unsigned row = blockIdx.x; row < rows; row += gridDim.x) {
        Pixel o = pixel_of(row, oh, ow);
        const T* p = x + (((fastif_index)o.b * h + 2 * o.y) * w + 2 * o.x) * c;
        const T* p2 = p + (fastif_index)w * c;
        T* yr = y + (fastif_index)row * c;
        for (int ch = threadIdx.x; ch < c; ch += blockDim.x)
            st(yr + ch, (ld(p + ch) + ld(p + c + ch) + ld(p2 + ch) + ld(p2 + c + ch)) * 0.25f);
    }
}

// Nearest-neighbour x2 upsampling, NHWC; h, w are the input's sizes.
template <typename T>
FASTIF_DEVICE void upsample2(const T* __restrict__ x, T* __restrict__ y, int batch, int h, int w, int c) {
    unsigned oh = 2 * h, ow = 2 * w, rows = (unsigned)batch * oh * ow;
    for (unsigned row = blockIdx.x; row < rows; row += gridDim.x) {
        Pixel o = pixel_of(row, oh, ow);
        const T* src = x + (((fastif_index)o.b * h + o.y / 2) * w + o.x / 2) * c;
        T* yr = y + (fastif_index)row * c;
        for (int ch = threadIdx.x; ch < c; ch += blockDim.x) yr[ch] = src[ch];
    }
}

// The four phase planes of a x2 sub-pixel convolution, NHWC [B, H+1, W+1, 4C] with channel p*C + ch for phase
// p = 2a + e, interleaved into [B, 2H, 2W, C]: out(2i+a, 2j+e) = phases(i+a, j+e, p). h, w are the low-res sizes.
template <typename T>
FASTIF_DEVICE void shuffle_phases2(const T* __restrict__ x, T* __restrict__ y, int batch, int h, int w, int c) {
    unsigned oh = 2 * h, ow = 2 * w, rows = (unsigned)batch * oh * ow;
    for (unsigned row = blockIdx.x; row < rows; row += gridDim.x) {
        Pixel o = pixel_of(row, oh, ow);
        unsigned a = o.y & 1, e = o.x & 1;
        const T* src = x + (((fastif_index)o.b * (h + 1) + (o.y >> 1) + a) * (w + 1) + (o.x >> 1) + e) * (4 * (fastif_index)c)
                       + (2 * a + e) * c;
        T* yr = y + (fastif_index)row * c;
        for (int ch = threadIdx.x; ch < c; ch += blockDim.x) yr[ch] = src[ch];
    }
}

// Concatenation along the last axis: rows of [ca] then [cb] (channel concat of NHWC images).
template <typename T>
FASTIF_DEVICE void concat_last(const T* __restrict__ a, const T* __restrict__ b, T* __restrict__ y,
                               fastif_index rows, int ca, int cb) {
    int cy = ca + cb;
    FASTIF_FOR_EACH(i, rows * cy) {
        fastif_index r = i / cy;
        int c = (int)(i % cy);
        y[i] = c < ca ? a[r * ca + c] : b[r * cb + (c - ca)];
    }
}

// Concatenation along the token axis: [B, la, C] ; [B, lb, C].
template <typename T>
FASTIF_DEVICE void concat_rows(const T* __restrict__ a, const T* __restrict__ b, T* __restrict__ y,
                               int batch, int la, int lb, int c) {
    int ly = la + lb;
    FASTIF_FOR_EACH(i, (fastif_index)batch * ly * c) {
        int ch = (int)(i % c);
        fastif_index r = i / c;
        int t = (int)(r % ly), bi = (int)(r / ly);
        y[i] = t < la ? a[((fastif_index)bi * la + t) * c + ch] : b[((fastif_index)bi * lb + (t - la)) * c + ch];
    }
}

// Mean over tokens: [B, L, C] -> [B, 1, C].
template <typename T>
FASTIF_DEVICE void mean_tokens(const T* __restrict__ x, T* __restrict__ y, int batch, int l, int c) {
    FASTIF_FOR_EACH(i, (fastif_index)batch * c) {
        int ch = (int)(i % c);
        fastif_index bi = i / c;
        float s = 0.0f;
        for (int t = 0; t < l; t++) s += ld(x + (bi * l + t) * c + ch);
        st(y + i, s / (float)l);
    }
}

// Timestep features, diffusers' float32 op order (see CpuBackend.Sinusoid): t is fp32 [B], y is [B, dim].
template <typename T>
FASTIF_DEVICE void sinusoid(const float* __restrict__ t, T* __restrict__ y, int batch, int dim, int flip, float shift) {
    int half = dim / 2;
    FASTIF_FOR_EACH(i, (fastif_index)batch * half) {
        int k = (int)(i % half), b = (int)(i / half);
        float exponent = -9.210340371976184f * (float)k / ((float)half - shift);
        float arg = t[b] * expf(exponent);
        float s = sinf(arg), co = cosf(arg);
        st(y + (fastif_index)b * dim + k, flip ? co : s);
        st(y + (fastif_index)b * dim + half + k, flip ? s : co);
    }
}

// Row softmax of fp32 scores (already scaled) into the storage type: one block per row.
// One block per row of fp32 scores; `bias` (null, or one fp32 row of `width` per score row) is added first: T5's
// position bias and key mask. The row is re-read rather than cached: widths reach a few thousand keys.
template <typename T>
FASTIF_DEVICE void softmax_rows(const float* __restrict__ s, const float* __restrict__ bias, T* __restrict__ p, int width) {
    __shared__ float scratch[32];
    const float* sr = s + (fastif_index)blockIdx.x * width;
    const float* br = bias ? bias + (fastif_index)blockIdx.x * width : 0;
    T* pr = p + (fastif_index)blockIdx.x * width;
    float m = -3.402823466e38f;
    for (int i = threadIdx.x; i < width; i += blockDim.x) m = fmaxf(m, sr[i] + (br ? br[i] : 0.0f));
    m = block_max(m, scratch);
    float z = 0.0f;
    for (int i = threadIdx.x; i < width; i += blockDim.x) z += expf(sr[i] + (br ? br[i] : 0.0f) - m);
    float inv = 1.0f / block_sum(z, scratch);
    for (int i = threadIdx.x; i < width; i += blockDim.x) st(pr + i, expf(sr[i] + (br ? br[i] : 0.0f) - m) * inv);
}

// T5's LayerNorm: one block per row, y = x * rsqrt(mean(x^2) + eps) * gamma, statistics in fp32.
template <typename T>
FASTIF_DEVICE void rmsnorm(const T* __restrict__ x, const T* __restrict__ gamma, T* __restrict__ y, int width, float eps) {
    __shared__ float scratch[32];
    const T* xr = x + (fastif_index)blockIdx.x * width;
    T* yr = y + (fastif_index)blockIdx.x * width;
    float sq = 0.0f;
    for (int i = threadIdx.x; i < width; i += blockDim.x) { float v = ld(xr + i); sq += v * v; }
    float rstd = rsqrtf(block_sum(sq, scratch) / width + eps);
    for (int i = threadIdx.x; i < width; i += blockDim.x) st(yr + i, ld(xr + i) * rstd * ld(gamma + i));
}

// act(a) * b; act: 0 none, 1 exact-erf GELU, 2 tanh GELU (FastIF.Backends.Activation). T5's gated GELU in one pass.
template <typename T>
FASTIF_DEVICE void mul(const T* __restrict__ a, const T* __restrict__ b, T* __restrict__ y, fastif_index n, int act) {
    FASTIF_FOR_EACH(i, n) {
        float v = ld(a + i);
        if (act == 1) v = gelu_erf(v);
        else if (act == 2) v = gelu_tanh(v);
        st(y + i, v * ld(b + i));
    }
}

#define FASTIF_EXPORT(SFX, T) \
extern "C" __global__ void fastif_layernorm_##SFX(const T* x, const T* gamma, const T* beta, T* y, int width, float eps) \
    { layernorm<T>(x, gamma, beta, y, width, eps); } \
extern "C" __global__ void fastif_add_bcast_##SFX(const T* a, const T* b, T* y, fastif_index n, fastif_index nb) { add<T>(a, b, y, n, nb); } \
extern "C" __global__ void fastif_gelu_##SFX(const T* x, T* y, fastif_index n, int approx) { gelu<T>(x, y, n, approx); } \
extern "C" __global__ void fastif_rmsnorm_##SFX(const T* x, const T* gamma, T* y, int width, float eps) { rmsnorm<T>(x, gamma, y, width, eps); } \
extern "C" __global__ void fastif_mul_##SFX(const T* a, const T* b, T* y, fastif_index n, int act) { mul<T>(a, b, y, n, act); } \
extern "C" __global__ void fastif_bias_residual_##SFX(T* y, const T* bias, const T* residual, fastif_index rows, int channels, \
    float scale, int h, int w, int upsampled) { bias_residual<T>(y, bias, residual, rows, channels, scale, h, w, upsampled); } \
extern "C" __global__ void fastif_avgpool2_##SFX(const T* x, T* y, int batch, int h, int w, int c) { avgpool2<T>(x, y, batch, h, w, c); } \
extern "C" __global__ void fastif_upsample2_##SFX(const T* x, T* y, int batch, int h, int w, int c) { upsample2<T>(x, y, batch, h, w, c); } \
extern "C" __global__ void fastif_shuffle_phases2_##SFX(const T* x, T* y, int batch, int h, int w, int c) \
    { shuffle_phases2<T>(x, y, batch, h, w, c); } \
extern "C" __global__ void fastif_concat_last_##SFX(const T* a, const T* b, T* y, fastif_index rows, int ca, int cb) \
    { concat_last<T>(a, b, y, rows, ca, cb); } \
extern "C" __global__ void fastif_concat_rows_##SFX(const T* a, const T* b, T* y, int batch, int la, int lb, int c) \
    { concat_rows<T>(a, b, y, batch, la, lb, c); } \
extern "C" __global__ void fastif_mean_tokens_##SFX(const T* x, T* y, int batch, int l, int c) { mean_tokens<T>(x, y, batch, l, c); } \
extern "C" __global__ void fastif_sinusoid_##SFX(const float* t, T* y, int batch, int dim, int flip, float shift) \
    { sinusoid<T>(t, y, batch, dim, flip, shift); } \
extern "C" __global__ void fastif_softmax_rows_##SFX(const float* s, const float* bias, T* p, int width) { softmax_rows<T>(s, bias, p, width); }

FASTIF_EXPORT(f32, float)
FASTIF_EXPORT(f16, h16)
FASTIF_EXPORT(bf16, b16)
