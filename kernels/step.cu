// The fused sampling step: everything around the UNet call of one denoising step, reading the step's constants from a
// device table through a device counter so the whole step replays as one CUDA graph. CPU twin: FastIF.Sampling.
// CpuStepKernels (host arithmetic of Sampler/DdpmScheduler/Combiners/Masks). Every float operation the twin rounds
// separately is an explicit __f*_rn / __d*_rn intrinsic here, so no a*b+c is contracted into an FMA the CPU does not do.
#include "philox.cuh"
#include "fastif_storage.cuh"

// FastIF.Sampling.StepRow (96 bytes).
struct fastif_step_row {
    double x0_coef, xt_coef, min_log, max_log;
    long long noise_draw, before_draw, after_draw;
    float sqrt_ab, sqrt_1mab, fixed_std, t_value, before_sa, before_sb, after_sa, after_sb, threshold;
    int index;
};

// FastIF.Backends.Cuda.StepRunConstants: what stays fixed for a run (pointers as 64-bit integers).
struct fastif_step_run {
    unsigned long long seed, first_draw;
    unsigned long long recorded;                          // const float*: materialised draws, or 0 for Philox
    unsigned long long before_original, before_map;       // differential diffusion
    unsigned long long after_original, after_mask;       // inpainting
    unsigned long long nonfinite;                         // unsigned long long* [rows][2]
    unsigned long long counter;                           // int*: the current row
    unsigned long long rows;                              // const fastif_step_row*
    float ratio, clip, max_value, pad0;
    int batch, hw, steps, bound, learned, after, soft, pad1;
};

// The host structs (StepRow, StepRunConstants) declare the same fields in the same order with natural alignment;
// StepKernelContractTests pins their sizes and offsets to these numbers (NVRTC 11.8 has no constant offsetof).
static_assert(sizeof(fastif_step_row) == 96, "fastif_step_row must match FastIF.Sampling.StepRow");
static_assert(sizeof(fastif_step_run) == 128, "fastif_step_run must match StepRunConstants");

#define RUN_ROW(run) (((const fastif_step_row*)(run)->rows)[*(const int*)(run)->counter])

// The UNet's input/output in its storage type chosen at run time (CudaBackend.TypeCode: 0 fp32, 1 fp16, 2 bf16).
FASTIF_DEVICE float step_load(const void* p, int type, fastif_index i) {
    if (type == 0) return ld((const float*)p + i);
    if (type == 1) return ld((const h16*)p + i);
    return ld((const b16*)p + i);
}

FASTIF_DEVICE void step_store(void* p, int type, fastif_index i, float v) {
    if (type == 0) st((float*)p + i, v);
    else if (type == 1) st((h16*)p + i, v);
    else st((b16*)p + i, v);
}

FASTIF_DEVICE int step_finite(float v) { return (fastif_float_bits(v) & 0x7F800000u) != 0x7F800000u; }

FASTIF_DEVICE float step_clamp(float v, float lo, float hi) { return v < lo ? lo : v > hi ? hi : v; }

// sa*a + sb*b (DdpmScheduler.AddNoise, RePaint, differential diffusion).
FASTIF_DEVICE float step_mix(float sa, float a, float sb, float b) { return __fadd_rn(__fmul_rn(sa, a), __fmul_rn(sb, b)); }

// (1-m)*keep + m*paint (Masks.Blend).
FASTIF_DEVICE float step_blend(float m, float keep, float paint) { return __fadd_rn(__fmul_rn(__fsub_rn(1.0f, m), keep), __fmul_rn(m, paint)); }

// Values 4*blk..4*blk+3 of relative draw `draw` of a run (n values per draw).
FASTIF_DEVICE void step_draw(const fastif_step_run* run, long long draw, fastif_index n, fastif_index blk, float z[4]) {
    if (run->recorded) {
        const float* rec = (const float*)run->recorded + draw * n;
        for (int j = 0; j < 4; j++) z[j] = blk * 4 + j < n ? rec[blk * 4 + j] : 0.0f;
    } else {
        fastif_philox_block(run->seed, run->first_draw + (unsigned long long)draw, (unsigned long long)blk, z);
    }
}

// ts[0..n) = the current row's timestep.
extern "C" __global__ void fastif_step_timesteps(const fastif_step_run* run, float* ts, int n) {
    float t = RUN_ROW(run).t_value;
    FASTIF_FOR_EACH(i, n) ts[i] = t;
}

// Differential diffusion (DifferentialDiffusionConstraint.Reset): x reset toward the original noised to t.
extern "C" __global__ void fastif_step_before(const fastif_step_run* run, float* x) {
    const fastif_step_row row = RUN_ROW(run);
    if (row.before_draw < 0) return;
    const float* orig = (const float*)run->before_original;
    const float* map = (const float*)run->before_map;
    fastif_index hw = run->hw, n = (fastif_index)run->batch * 3 * hw;
    FASTIF_FOR_EACH(blk, (n + 3) / 4) {
        float z[4];
        step_draw(run, row.before_draw, n, blk, z);
        for (int j = 0; j < 4; j++) {
            fastif_index i = blk * 4 + j;
            if (i >= n) break;
            float noised = step_mix(row.before_sa, orig[i], row.before_sb, z[j]);
            if (row.index == 0) { x[i] = noised; continue; }
            float m = map[(i / (3 * hw)) * hw + i % hw];
            if (!run->soft) {
                if (m > row.threshold) x[i] = noised;
            } else {
                float w = step_clamp(__fmul_rn(__fsub_rn(m, row.threshold), (float)run->steps), 0.0f, 1.0f);
                x[i] = __fadd_rn(__fmul_rn(w, noised), __fmul_rn(__fsub_rn(1.0f, w), x[i]));
            }
        }
    }
}

// The UNet batch, channels last: image n = (half*K + c)*B + b sees component c's view of [x_b, cond_b].
extern "C" __global__ void fastif_step_assemble(const fastif_step_run* run, const float* x, const float* cond, const int* gather,
                                                const float* signs, void* out, int out_type, int components, int halves, int cin) {
    fastif_index hw = run->hw, batch = run->batch;
    fastif_index total = (fastif_index)halves * components * batch * hw * cin;
    FASTIF_FOR_EACH(idx, total) {
        int ch = (int)(idx % cin);
        fastif_index rest = idx / cin, p = rest % hw, img = rest / hw;
        fastif_index b = img % batch;
        int c = (int)((img / batch) % components);
        fastif_index g = gather[c * hw + p];
        float v = ch < 3 ? x[(b * 3 + ch) * hw + g] : cond[(b * 3 + ch - 3) * hw + g];
        step_store(out, out_type, idx, __fmul_rn(signs[c], v));
    }
}

// CFG mixing (noise channels; variance from the conditional half) of every component's UNet output mapped back through its
// inverse view; with `mean` the components' mean goes to dst [B,6,hw] (MeanCombiner), else each to est [K][B][6][hw].
// Counts the UNet output's non-finite values for the current row.
extern "C" __global__ void fastif_step_guide(const fastif_step_run* run, const void* out, int out_type, const int* scatter,
                                             const float* signs, float* dst, float guidance, int components, int halves, int mean) {
    fastif_index hw = run->hw, batch = run->batch;
    unsigned long long bad = 0;
    FASTIF_FOR_EACH(idx, batch * 6 * hw) {
        fastif_index p = idx % hw, b = idx / (6 * hw);
        int ch = (int)((idx / hw) % 6);
        float sum = 0.0f;
        for (int c = 0; c < components; c++) {
            fastif_index q = scatter[c * hw + p];
            float s = signs[c];
            fastif_index cond = ((fastif_index)(halves - 1) * components + c) * batch + b;
            float cv = step_load(out, out_type, (cond * hw + q) * 6 + ch);
            bad += !step_finite(cv);
            float e = __fmul_rn(s, cv);
            if (halves == 2) {
                float uv = step_load(out, out_type, (((fastif_index)c * batch + b) * hw + q) * 6 + ch);
                bad += !step_finite(uv);
                if (ch < 3) {
                    float u = __fmul_rn(s, uv);
                    e = __fadd_rn(u, __fmul_rn(guidance, __fsub_rn(e, u)));
                }
            }
            if (mean) sum = c == 0 ? e : __fadd_rn(sum, e);
            else dst[(((fastif_index)c * batch + b) * 6 + ch) * hw + p] = e;
        }
        if (mean) dst[idx] = components > 1 ? __fdiv_rn(sum, (float)components) : sum;
    }
    if (bad) atomicAdd((unsigned long long*)run->nonfinite + 2 * *(const int*)run->counter, bad);
}

FASTIF_DEVICE int step_reflect(int i, int n) { return i < 0 ? -i : i >= n ? 2 * n - 2 - i : i; }

// One pass of GaussianBlur.Apply over the noise channels of a [B,6,h,w] buffer: along rows (vertical = 0) or columns.
extern "C" __global__ void fastif_step_blur(const fastif_step_run* run, const float* src, float* dst, const float* taps, int radius,
                                            int h, int w, int vertical) {
    fastif_index hw = (fastif_index)h * w;
    FASTIF_FOR_EACH(idx, (fastif_index)run->batch * 3 * hw) {
        fastif_index plane = idx / hw, pix = idx % hw, off = ((plane / 3) * 6 + plane % 3) * hw;
        int y = (int)(pix / w), x = (int)(pix % w);
        float acc = 0.0f;
        for (int j = -radius; j <= radius; j++) {
            float v = vertical ? src[off + (fastif_index)step_reflect(y + j, h) * w + x] : src[off + (fastif_index)y * w + step_reflect(x + j, w)];
            acc = __fadd_rn(acc, __fmul_rn(taps[j + radius], v));
        }
        dst[off + pix] = acc;
    }
}

// The filter combiners (Combiners.LowHigh/ThreeBand/GrayColor) from est [K][B][6][hw] and the blurred noise channels a..d
// ([B,6,hw]); variance = mean of the components.
extern "C" __global__ void fastif_step_combine(const fastif_step_run* run, const float* est, const float* a, const float* bb,
                                               const float* c3, const float* d4, float* dst, int kind, int halve, int components) {
    fastif_index hw = run->hw, batch = run->batch, stride = batch * 6 * hw;
    FASTIF_FOR_EACH(idx, stride) {
        fastif_index p = idx % hw, b = idx / (6 * hw);
        int ch = (int)((idx / hw) % 6);
        if (ch >= 3) {
            float sum = 0.0f;
            for (int c = 0; c < components; c++) sum = __fadd_rn(sum, est[c * stride + idx]);
            dst[idx] = __fdiv_rn(sum, (float)components);
        } else if (kind == 1) {
            float r = __fadd_rn(a[idx], __fsub_rn(est[stride + idx], bb[idx]));
            dst[idx] = halve ? __fmul_rn(r, 0.5f) : r;
        } else if (kind == 2) {
            dst[idx] = __fadd_rn(__fadd_rn(a[idx], __fsub_rn(bb[idx], c3[idx])), __fsub_rn(est[2 * stride + idx], d4[idx]));
        } else {
            fastif_index base = b * 6 * hw + p;
            float g0 = __fdiv_rn(__fadd_rn(__fadd_rn(est[base], est[base + hw]), est[base + 2 * hw]), 3.0f);
            float g1 = __fdiv_rn(__fadd_rn(__fadd_rn(est[stride + base], est[stride + base + hw]), est[stride + base + 2 * hw]), 3.0f);
            dst[idx] = __fadd_rn(g0, __fsub_rn(est[stride + idx], g1));
        }
    }
}

// x0 = (x - sqrt(1-abar)*eps) / sqrt(abar), before any bound.
extern "C" __global__ void fastif_step_x0(const fastif_step_run* run, const float* model, const float* x, float* x0) {
    const fastif_step_row row = RUN_ROW(run);
    fastif_index per = 3 * (fastif_index)run->hw;
    FASTIF_FOR_EACH(i, (fastif_index)run->batch * per) {
        float eps = model[(i / per) * 2 * per + i % per];
        x0[i] = __fdiv_rn(__fsub_rn(x[i], __fmul_rn(row.sqrt_1mab, eps)), row.sqrt_ab);
    }
}

// Dynamic thresholding's scale per image (one block each): the ratio-quantile of |x0| with linear interpolation between
// the two order statistics around it, found exactly by MSB-first radix selection on the bits of |x0| (non-negative
// floats order as their bit patterns), then clamped to [1, max]. DdpmScheduler.ThresholdScale sorts; the result is equal.
extern "C" __global__ void fastif_step_quantile(const fastif_step_run* run, const float* x0, float* scale) {
    __shared__ unsigned int hist[256];
    __shared__ unsigned int sh_prefix, sh_k, sh_count, sh_min;
    fastif_index per = 3 * (fastif_index)run->hw;
    const float* v = x0 + (fastif_index)blockIdx.x * per;
    // DdpmScheduler: pos = ratio * (n - 1) in float, then widened.
    double pos = (double)__fmul_rn(run->ratio, (float)(per - 1));
    unsigned int lo = (unsigned int)floor(pos), hi = lo + 1 < per ? lo + 1 : (unsigned int)(per - 1);
    unsigned int prefix = 0, mask = 0, k = lo;
    for (int shift = 24; shift >= 0; shift -= 8) {
        for (int i = threadIdx.x; i < 256; i += blockDim.x) hist[i] = 0;
        __syncthreads();
        for (fastif_index i = threadIdx.x; i < per; i += blockDim.x) {
            unsigned int u = fastif_float_bits(v[i]) & 0x7FFFFFFFu;
            if ((u & mask) == prefix) atomicAdd(&hist[(u >> shift) & 255u], 1u);
        }
        __syncthreads();
        if (threadIdx.x == 0) {
            unsigned int cum = 0;
            for (unsigned int d = 0; d < 256; d++) {
                if (cum + hist[d] > k) { sh_prefix = prefix | (d << shift); sh_k = k - cum; break; }
                cum += hist[d];
            }
        }
        __syncthreads();
        prefix = sh_prefix;
        k = sh_k;
        mask |= 255u << shift;
        __syncthreads();
    }
    // The next order statistic: the same value if enough elements tie with it, else the smallest above it.
    if (threadIdx.x == 0) { sh_count = 0; sh_min = 0xFFFFFFFFu; }
    __syncthreads();
    unsigned int count = 0, least = 0xFFFFFFFFu;
    for (fastif_index i = threadIdx.x; i < per; i += blockDim.x) {
        unsigned int u = fastif_float_bits(v[i]) & 0x7FFFFFFFu;
        if (u <= prefix) count++;
        else if (u < least) least = u;
    }
    atomicAdd(&sh_count, count);
    atomicMin(&sh_min, least);
    __syncthreads();
    if (threadIdx.x == 0) {
        float a_lo = fastif_bits_float(prefix);
        float a_hi = hi == lo || sh_count > hi ? a_lo : fastif_bits_float(sh_min);
        double s = __dadd_rn((double)a_lo, __dmul_rn((double)__fsub_rn(a_hi, a_lo), __dsub_rn(pos, (double)lo)));
        double top = (double)run->max_value;
        s = s < 1.0 ? 1.0 : s > top ? top : s;
        scale[blockIdx.x] = __double2float_rn(s);
    }
}

// The rest of the step (DdpmScheduler.Step after x0, then the after-step constraint), in place on x: bound x0, posterior
// mean in double, learned-range (or fixed) variance noise, keep-region or RePaint blend; x_t kept in `seen`; counts the
// new sample's non-finite values.
extern "C" __global__ void fastif_step_update(const fastif_step_run* run, const float* model, float* x, float* seen, float* x0,
                                              const float* scale) {
    const fastif_step_row row = RUN_ROW(run);
    fastif_index hw = run->hw, per = 3 * hw, n = (fastif_index)run->batch * per;
    const float* mask = (const float*)run->after_mask;
    const float* orig = (const float*)run->after_original;
    unsigned long long bad = 0;
    FASTIF_FOR_EACH(blk, (n + 3) / 4) {
        float z[4] = {0, 0, 0, 0}, q[4] = {0, 0, 0, 0};
        if (row.noise_draw >= 0) step_draw(run, row.noise_draw, n, blk, z);
        if (run->after == 2 && row.after_draw >= 0) step_draw(run, row.after_draw, n, blk, q);
        for (int j = 0; j < 4; j++) {
            fastif_index i = blk * 4 + j;
            if (i >= n) break;
            fastif_index b = i / per, li = i % per;
            float xv = x[i], v0 = x0[i];
            seen[i] = xv;
            if (run->bound == 2) {
                float s = scale[b];
                v0 = __fdiv_rn(step_clamp(v0, -s, s), s);
            } else if (run->bound == 1) {
                v0 = step_clamp(v0, -run->clip, run->clip);
            }
            x0[i] = v0;
            float prev = __double2float_rn(__dadd_rn(__dmul_rn(row.x0_coef, (double)v0), __dmul_rn(row.xt_coef, (double)xv)));
            if (row.noise_draw >= 0) {
                if (run->learned) {
                    double frac = __ddiv_rn(__dadd_rn((double)model[b * 2 * per + per + li], 1.0), 2.0);
                    double lv = __dmul_rn(0.5, __dadd_rn(__dmul_rn(frac, row.max_log), __dmul_rn(__dsub_rn(1.0, frac), row.min_log)));
                    prev = __fadd_rn(prev, __double2float_rn(__dmul_rn(exp(lv), (double)z[j])));
                } else {
                    prev = __fadd_rn(prev, __fmul_rn(row.fixed_std, z[j]));
                }
            }
            if (run->after != 0) {
                float m = mask[b * hw + li % hw];
                float keep = run->after == 1 ? xv : row.after_draw >= 0 ? step_mix(row.after_sa, orig[i], row.after_sb, q[j]) : orig[i];
                prev = step_blend(m, keep, prev);
            }
            bad += !step_finite(prev);
            x[i] = prev;
        }
    }
    if (bad) atomicAdd((unsigned long long*)run->nonfinite + 2 * *(const int*)run->counter + 1, bad);
}

// The last kernel of a step: move the counter to the next row.
extern "C" __global__ void fastif_step_advance(const fastif_step_run* run) {
    if (blockIdx.x == 0 && threadIdx.x == 0) *(int*)run->counter += 1;
}

// A forward re-noising move (RePaint's jumps): x = a*x + s*z.
extern "C" __global__ void fastif_step_renoise(const fastif_step_run* run, float* x, float a, float s, long long draw) {
    fastif_index n = (fastif_index)run->batch * 3 * run->hw;
    FASTIF_FOR_EACH(blk, (n + 3) / 4) {
        float z[4];
        step_draw(run, draw, n, blk, z);
        for (int j = 0; j < 4 && blk * 4 + j < n; j++) x[blk * 4 + j] = step_mix(a, x[blk * 4 + j], s, z[j]);
    }
}
