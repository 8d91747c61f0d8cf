// GroupNorm for the CUDA backend (CudaBackend.Ops.cs, CudaBackend.Concat.cs): plain, with a folded input bias, over a
// channel concatenation read in place, and with 2x2 average pooling of its output. Activations are channels-last,
// storage fp32, fp16 or bf16, statistics and math fp32. CPU twin: src/FastIF/Backends/Cpu/CpuBackend.Norms.cs; the way
// the work is cut: src/FastIF/Backends/Cuda/GroupNormPlan.cs (and its CPU emulation, GroupNormPlanTests).
#include "fastif_math.cuh"

// Where GroupNorm finds channel c of position p (p counts positions over the whole batch): one channels-last image.
// Other sources (ConcatSrc below) give the same kernel other storage without a second copy of it.
template <typename T>
struct ChannelsLastSrc {
    const T* __restrict__ x;
    int channels;
    FASTIF_DEVICE float operator()(fastif_index p, int c) const { return ld(x + p * channels + c); }
};

// A channels-last image plus a per-channel bias: the output of a convolution whose bias epilogue was folded into the
// GroupNorm that reads it (one pass over the image fewer).
template <typename T>
struct BiasedSrc {
    const T* __restrict__ x;
    const T* __restrict__ bias;
    int channels;
    FASTIF_DEVICE float operator()(fastif_index p, int c) const { return ld(x + p * channels + c) + ld(bias + c); }
};

// GroupNorm over channels-last data [B, S, C] (S = H*W or L) in two launches, so that every SM works even when
// B x groups is small (64 groups at IF-I-XL's B=2, against 132 SMs): each (sample, group) is cut into `chunks` runs of
// positions, a block per (sample, group, chunk).
//   partial: the run's element count, mean and sum of squared deviations from that mean (two passes over the run,
//            the second from cache: no cancellation), three floats per block;
//   apply:   every block merges its group's runs (Chan et al.'s pairwise update) and normalises its own run: affine,
//            FiLM (1+scale, shift), GELU.
// The input comes through a reader (ChannelsLastSrc, BiasedSrc or ConcatSrc); the output is channels-last.
// Threads walk a run's (position, channel) pairs in flat order, thread t taking flat indices t, t + blockDim.x, ...:
// the pair advances by a fixed (qs, rs) carry, so no element pays an integer division (one by a run-time divisor costs
// tens of instructions, more than the element's own work).
struct GroupWalk {
    int p, c, qs, rs, cpg;
};

FASTIF_DEVICE GroupWalk group_walk(int cpg) {
    GroupWalk w;
    w.p = threadIdx.x / cpg;
    w.c = threadIdx.x % cpg;
    w.qs = blockDim.x / cpg;
    w.rs = blockDim.x % cpg;
    w.cpg = cpg;
    return w;
}

FASTIF_DEVICE void group_next(GroupWalk& w) {
    w.p += w.qs;
    w.c += w.rs;
    if (w.c >= w.cpg) { w.c -= w.cpg; w.p++; }
}

// The block's place: sample b, group g (first channel c0 of cpg), and its run [q0, q1) of the `positions` positions.
struct GroupRun {
    int b, g, c0, cpg, q0, q1;
};

FASTIF_DEVICE GroupRun group_run(int positions, int channels, int groups, int chunks) {
    GroupRun r;
    int k = blockIdx.x % chunks, bg = blockIdx.x / chunks;
    r.b = bg / groups;
    r.g = bg % groups;
    r.cpg = channels / groups;
    r.c0 = r.g * r.cpg;
    r.q0 = (int)((unsigned)positions * k / chunks);  // the host keeps positions * chunks under 2^32
    r.q1 = (int)((unsigned)positions * (k + 1) / chunks);
    return r;
}

template <typename Src>
FASTIF_DEVICE void groupnorm_partial(Src src, float* __restrict__ partial, int spatial, int channels, int groups, int chunks) {
    __shared__ float scratch[32];
    GroupRun r = group_run(spatial, channels, groups, chunks);
    fastif_index p0 = (fastif_index)r.b * spatial + r.q0;
    int n = r.q1 - r.q0;
    float count = (float)n * (float)r.cpg, s = 0.0f, q = 0.0f;
    for (GroupWalk w = group_walk(r.cpg); w.p < n; group_next(w)) s += src(p0 + w.p, r.c0 + w.c);
    float mean = count > 0.0f ? block_sum(s, scratch) / count : 0.0f;
    for (GroupWalk w = group_walk(r.cpg); w.p < n; group_next(w)) {
        float d = src(p0 + w.p, r.c0 + w.c) - mean;
        q += d * d;
    }
    float m2 = block_sum(q, scratch);
    if (threadIdx.x == 0) {
        partial[3 * blockIdx.x] = count;
        partial[3 * blockIdx.x + 1] = mean;
        partial[3 * blockIdx.x + 2] = m2;
    }
}

// Merges the `chunks` partials of (sample, group) bg into its mean and 1/sqrt(var + eps) (biased variance).
FASTIF_DEVICE void groupnorm_merge(const float* __restrict__ partial, int bg, int chunks, float eps, float* mean_out, float* rstd_out) {
    float n = 0.0f, mean = 0.0f, m2 = 0.0f;
    for (int k = 0; k < chunks; k++) {
        const float* p = partial + 3 * (bg * chunks + k);
        float nk = p[0];
        if (nk == 0.0f) continue;
        float total = n + nk, d = p[1] - mean;
        mean += d * (nk / total);
        m2 += p[2] + d * d * (n * nk / total);
        n = total;
    }
    *mean_out = mean;
    *rstd_out = rsqrtf(m2 / n + eps);
}

template <typename T, typename Src>
FASTIF_DEVICE void groupnorm_apply(Src src, const float* __restrict__ partial, const T* __restrict__ gamma,
                                   const T* __restrict__ beta, const T* __restrict__ scaleShift, T* __restrict__ y,
                                   int spatial, int channels, int groups, int chunks, float eps, int gelu) {
    GroupRun r = group_run(spatial, channels, groups, chunks);
    float mean, rstd;
    groupnorm_merge(partial, blockIdx.x / chunks, chunks, eps, &mean, &rstd);
    fastif_index p0 = (fastif_index)r.b * spatial + r.q0;
    T* yb = y + p0 * channels + r.c0;
    const T* ss = scaleShift ? scaleShift + (fastif_index)r.b * 2 * channels : 0;
    for (GroupWalk w = group_walk(r.cpg); w.p < r.q1 - r.q0; group_next(w)) {
        int ch = r.c0 + w.c;
        float v = (src(p0 + w.p, ch) - mean) * rstd * ld(gamma + ch) + ld(beta + ch);
        if (ss) v = v * (1.0f + ld(ss + ch)) + ld(ss + channels + ch);
        if (gelu) v = gelu_erf(v);
        st(yb + (fastif_index)w.p * channels + w.c, v);
    }
}

// The apply of a downsampler's norm1: GroupNorm (affine, activation) of [B, h, w, C] then 2x2 average pooling into
// [B, h/2, w/2, C], without the full-resolution output; the runs are of pooled positions. Each pooled value averages
// four normalised, activated fp32 values, rounded once; one 32-bit division per pooled value (four inputs).
template <typename T>
FASTIF_DEVICE void groupnorm_pool2_apply(const T* __restrict__ x, const float* __restrict__ partial, const T* __restrict__ gamma,
                                         const T* __restrict__ beta, T* __restrict__ y, int h, int w, int channels, int groups,
                                         int chunks, float eps, int gelu) {
    int oh = h / 2, ow = w / 2;
    GroupRun r = group_run(oh * ow, channels, groups, chunks);
    float mean, rstd;
    groupnorm_merge(partial, blockIdx.x / chunks, chunks, eps, &mean, &rstd);
    fastif_index p0 = (fastif_index)r.b * h * w;
    T* yb = y + (fastif_index)r.b * oh * ow * channels + r.c0;
    for (GroupWalk wk = group_walk(r.cpg); wk.p < r.q1 - r.q0; group_next(wk)) {
        int ch = r.c0 + wk.c, q = r.q0 + wk.p;
        int oy = q / ow, ox = q - oy * ow;
        float a = rstd * ld(gamma + ch), o = ld(beta + ch) - mean * a, sum = 0.0f;
        for (int k = 0; k < 4; k++) {
            fastif_index pix = p0 + (fastif_index)(2 * oy + (k >> 1)) * w + 2 * ox + (k & 1);
            float v = ld(x + pix * channels + ch) * a + o;
            sum += gelu ? gelu_erf(v) : v;
        }
        st(yb + (fastif_index)q * channels + wk.c, sum * 0.25f);
    }
}

// The channel concatenation [a, b] of two channels-last images (rows of ca and cb channels), never written: a group
// may straddle the boundary, each element is read from the side its channel lies in.
template <typename T>
struct ConcatSrc {
    const T* __restrict__ a;
    const T* __restrict__ b;
    int ca, cb;
    FASTIF_DEVICE float operator()(fastif_index p, int c) const { return c < ca ? ld(a + p * ca + c) : ld(b + p * cb + (c - ca)); }
};

#define FASTIF_EXPORT(SFX, T) \
extern "C" __global__ void fastif_groupnorm_partial_##SFX(const T* x, const T* inBias, float* partial, int spatial, int channels, \
    int groups, int chunks) { \
    if (inBias) groupnorm_partial(BiasedSrc<T>{x, inBias, channels}, partial, spatial, channels, groups, chunks); \
    else groupnorm_partial(ChannelsLastSrc<T>{x, channels}, partial, spatial, channels, groups, chunks); } \
extern "C" __global__ void fastif_groupnorm_apply_##SFX(const T* x, const T* inBias, const float* partial, const T* gamma, \
    const T* beta, const T* scaleShift, T* y, int spatial, int channels, int groups, int chunks, float eps, int gelu_) { \
    if (inBias) groupnorm_apply<T>(BiasedSrc<T>{x, inBias, channels}, partial, gamma, beta, scaleShift, y, spatial, channels, \
        groups, chunks, eps, gelu_); \
    else groupnorm_apply<T>(ChannelsLastSrc<T>{x, channels}, partial, gamma, beta, scaleShift, y, spatial, channels, groups, \
        chunks, eps, gelu_); } \
extern "C" __global__ void fastif_groupnorm_pool2_apply_##SFX(const T* x, const float* partial, const T* gamma, const T* beta, \
    T* y, int h, int w, int channels, int groups, int chunks, float eps, int gelu) \
    { groupnorm_pool2_apply<T>(x, partial, gamma, beta, y, h, w, channels, groups, chunks, eps, gelu); } \
extern "C" __global__ void fastif_groupnorm_concat_partial_##SFX(const T* a, const T* b, float* partial, int spatial, int ca, \
    int cb, int groups, int chunks) { groupnorm_partial(ConcatSrc<T>{a, b, ca, cb}, partial, spatial, ca + cb, groups, chunks); } \
extern "C" __global__ void fastif_groupnorm_concat_apply_##SFX(const T* a, const T* b, const float* partial, const T* gamma, \
    const T* beta, T* y, int spatial, int ca, int cb, int groups, int chunks, float eps, int gelu_) \
    { groupnorm_apply<T>(ConcatSrc<T>{a, b, ca, cb}, partial, gamma, beta, (const T*)0, y, spatial, ca + cb, groups, chunks, eps, gelu_); }

FASTIF_EXPORT(f32, float)
FASTIF_EXPORT(f16, h16)
FASTIF_EXPORT(bf16, b16)
