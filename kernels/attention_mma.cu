// Tensor-core flash attention for fp16 and bf16 storage, head dim 64 (IF's UNet and T5 v1.1): softmax(q·kᵀ·scale + bias)·v
// in one pass over the keys, with both products on the tensor cores (mma.sync m16n8k16, fp32 accumulation) instead of
// the CUDA cores of attention.cu's kernel, and without the score matrix the cuBLAS path writes to memory.
//
// Layout and semantics as attention.cu: tokens [B, N, C] channels-last, head h owns channels 64h … 64h+63; keys are k
// (Nk1 rows) then k2 (Nk2 rows) as one sequence, never concatenated; bias (optional) fp32 [Bb, heads, Nq, Nk] with a batch
// stride of 0 or heads·Nq·Nk floats. Online softmax in fp32 (running max m, sum l, output acc per row, rescaled by
// exp(m − m') per key tile); the probabilities are rounded to the storage type for the P·V product, as FlashAttention-2.
//
// Block: 4 warps; warp w owns query rows 16w … 16w+15 of the block's 64. Key tiles of 64 rows of K and V are staged in
// shared memory (rows padded to 72 elements: the fragment loads below hit 32 different banks). Fragment layouts are
// PTX's for mma.m16n8k16 (g = lane / 4, t = lane % 4): A (16×16, row) registers {(g, 2t..2t+1), (g+8, 2t..), (g, 2t+8..),
// (g+8, 2t+8..)}; B (16×8, col) registers {(2t..2t+1, g), (2t+8.., g)}; C (16×8, fp32) {(g, 2t), (g, 2t+1), (g+8, 2t),
// (g+8, 2t+1)}. The C fragments of two adjacent 8-key blocks of S are exactly the A fragment of P for 16 keys.
// Host side: src/FastIF/Backends/Cuda/CudaBackend.MmaAttention.cs. CPU twin, lane by lane with these fragment layouts:
// tests/FastIF.Tests/Cuda/MmaAttentionEmulator.cs, held to the CPU reference. Not yet run on a GPU; it passes its GPU
// tests on FastIF's CUDA emulator (tools/cuda-emulator), which runs mma.sync with these layouts.
#include "fastif_storage.cuh"

#define MMA_D 64
#define MMA_BQ 64
#define MMA_BK 64
#define MMA_ROW 36  // shared row stride in 32-bit words (72 16-bit elements)

FASTIF_DEVICE float mma_neg_inf() { return fastif_bits_float(0xff800000u); }

#ifdef FASTIF_EMULATION
// FastIF's CUDA emulator (tools/cuda-emulator) runs the same conversions and mma.sync with PTX's documented layouts.
FASTIF_DEVICE unsigned pack2(float lo, float hi, h16*) { return ((unsigned)emu::float_to_half(hi) << 16) | emu::float_to_half(lo); }
FASTIF_DEVICE unsigned pack2(float lo, float hi, b16*) { return ((unsigned)emu::float_to_bf16(hi) << 16) | emu::float_to_bf16(lo); }
FASTIF_DEVICE void mma16816(float* c, const unsigned* a, unsigned b0, unsigned b1, h16*) { fastif_emu::mma_m16n8k16(c, a, b0, b1, false); }
FASTIF_DEVICE void mma16816(float* c, const unsigned* a, unsigned b0, unsigned b1, b16*) { fastif_emu::mma_m16n8k16(c, a, b0, b1, true); }
#else
FASTIF_DEVICE unsigned pack2(float lo, float hi, h16*) {
    unsigned r;
    asm("cvt.rn.f16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo));
    return r;
}

FASTIF_DEVICE unsigned pack2(float lo, float hi, b16*) {
    unsigned r;
    asm("cvt.rn.bf16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo));
    return r;
}

// c += a·b for one m16n8k16 tile, fp32 accumulators.
FASTIF_DEVICE void mma16816(float* c, const unsigned* a, unsigned b0, unsigned b1, h16*) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

FASTIF_DEVICE void mma16816(float* c, const unsigned* a, unsigned b0, unsigned b1, b16*) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}
#endif

FASTIF_DEVICE float quad_max(float v) {
    v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, 1));
    return fmaxf(v, __shfl_xor_sync(0xffffffffu, v, 2));
}

FASTIF_DEVICE float quad_sum(float v) {
    v += __shfl_xor_sync(0xffffffffu, v, 1);
    return v + __shfl_xor_sync(0xffffffffu, v, 2);
}

// Grid: x = query tiles of 64 rows, y = batch · heads. Block: 128 threads. Static shared memory: K and V tiles, 18 KiB.
template <typename T>
FASTIF_DEVICE void mma_attention(const T* __restrict__ q, const T* __restrict__ k, const T* __restrict__ v,
                                 const T* __restrict__ k2, const T* __restrict__ v2, const float* __restrict__ bias,
                                 T* __restrict__ y, int nq, int nk1, int nk2, int heads, float scale,
                                 fastif_index bias_batch_stride) {
    __shared__ unsigned ks[MMA_BK * MMA_ROW];
    __shared__ unsigned vs[MMA_BK * MMA_ROW];
    if (blockDim.x != 128) __trap();  // a launch the host plan would never make
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
    const int b = blockIdx.y / heads, h = blockIdx.y % heads, channels = heads * MMA_D, nk = nk1 + nk2;
    const int row0 = blockIdx.x * MMA_BQ + warp * 16;
    const int rows[2] = {row0 + g, row0 + g + 8};
    const unsigned short* qb = (const unsigned short*)q + (fastif_index)b * nq * channels + h * MMA_D;
    const float* bias_bh = bias ? bias + b * bias_batch_stride + (fastif_index)h * nq * nk : 0;

    // This warp's 16 query rows as A fragments, one per 16 channels of the head (rows past Nq are zero).
    unsigned qa[4][4];
    for (int kk = 0; kk < 4; kk++)
        for (int r = 0; r < 4; r++) {
            int row = rows[r & 1], col = kk * 16 + 2 * t + ((r & 2) ? 8 : 0);
            qa[kk][r] = row < nq ? *(const unsigned*)(qb + (fastif_index)row * channels + col) : 0u;
        }

    float acc[8][4];
    for (int j = 0; j < 8; j++) acc[j][0] = acc[j][1] = acc[j][2] = acc[j][3] = 0.0f;
    float m[2] = {mma_neg_inf(), mma_neg_inf()}, l[2] = {0.0f, 0.0f};

    for (int k0 = 0; k0 < nk; k0 += MMA_BK) {
        __syncthreads();  // the previous tile's readers are done
        // Stage keys k0 … k0+63 of K and V: 32 words per row, a row per 32 threads; rows past Nk are zero.
        for (int i = threadIdx.x; i < MMA_BK * 32; i += blockDim.x) {
            int r = i >> 5, w = i & 31, key = k0 + r;
            unsigned kw = 0u, vw = 0u;
            if (key < nk) {
                fastif_index off = key < nk1 ? ((fastif_index)b * nk1 + key) * channels : ((fastif_index)b * nk2 + key - nk1) * channels;
                const unsigned short* kr = (const unsigned short*)(key < nk1 ? k : k2) + off + h * MMA_D;
                const unsigned short* vr = (const unsigned short*)(key < nk1 ? v : v2) + off + h * MMA_D;
                kw = ((const unsigned*)kr)[w];
                vw = ((const unsigned*)vr)[w];
            }
            ks[r * MMA_ROW + w] = kw;
            vs[r * MMA_ROW + w] = vw;
        }
        __syncthreads();

        // S = q·kᵀ for the 64 keys: 8 blocks of 8 keys, each 4 mma over the head's 64 channels.
        float s[8][4];
        for (int j = 0; j < 8; j++) {
            s[j][0] = s[j][1] = s[j][2] = s[j][3] = 0.0f;
            const unsigned* kr = ks + (j * 8 + g) * MMA_ROW + t;
            for (int kk = 0; kk < 4; kk++) mma16816(s[j], qa[kk], kr[kk * 8], kr[kk * 8 + 4], (T*)0);
        }
        // Scale, bias, keys past Nk; then the running max of each of this thread's two rows (shared by a quad of lanes).
        float mx[2] = {m[0], m[1]};
        for (int j = 0; j < 8; j++)
            for (int e = 0; e < 4; e++) {
                int row = rows[e >> 1], key = k0 + j * 8 + 2 * t + (e & 1);
                float val = s[j][e] * scale;
                if (key >= nk) val = mma_neg_inf();
                else if (bias_bh && row < nq) val += bias_bh[(fastif_index)row * nk + key];
                s[j][e] = val;
                mx[e >> 1] = fmaxf(mx[e >> 1], val);
            }
        for (int r = 0; r < 2; r++) {
            mx[r] = quad_max(mx[r]);  // finite: every tile holds at least one key below Nk
            float alpha = expf(m[r] - mx[r]);
            m[r] = mx[r];
            l[r] *= alpha;
            for (int j = 0; j < 8; j++) { acc[j][2 * r] *= alpha; acc[j][2 * r + 1] *= alpha; }
        }
        for (int j = 0; j < 8; j++)
            for (int e = 0; e < 4; e++) {
                float p = expf(s[j][e] - m[e >> 1]);
                s[j][e] = p;
                l[e >> 1] += p;
            }
        // acc += P·V: P's A fragment for keys 16kk … 16kk+15 is S's C fragments of key blocks 2kk and 2kk+1.
        const unsigned short* vh = (const unsigned short*)vs;
        for (int kk = 0; kk < 4; kk++) {
            unsigned pa[4] = {pack2(s[2 * kk][0], s[2 * kk][1], (T*)0), pack2(s[2 * kk][2], s[2 * kk][3], (T*)0),
                              pack2(s[2 * kk + 1][0], s[2 * kk + 1][1], (T*)0), pack2(s[2 * kk + 1][2], s[2 * kk + 1][3], (T*)0)};
            int key = kk * 16 + 2 * t;
            for (int j = 0; j < 8; j++) {
                int col = j * 8 + g;
                unsigned b0 = (unsigned)vh[key * 2 * MMA_ROW + col] | ((unsigned)vh[(key + 1) * 2 * MMA_ROW + col] << 16);
                unsigned b1 = (unsigned)vh[(key + 8) * 2 * MMA_ROW + col] | ((unsigned)vh[(key + 9) * 2 * MMA_ROW + col] << 16);
                mma16816(acc[j], pa, b0, b1, (T*)0);
            }
        }
    }

    // Each lane summed its own keys of the rows; the quad holds all of them.
    unsigned short* yb = (unsigned short*)y + (fastif_index)b * nq * channels + h * MMA_D;
    for (int r = 0; r < 2; r++) {
        float inv = 1.0f / quad_sum(l[r]);
        if (rows[r] >= nq) continue;
        unsigned* yr = (unsigned*)(yb + (fastif_index)rows[r] * channels);
        for (int j = 0; j < 8; j++) yr[j * 4 + t] = pack2(acc[j][2 * r] * inv, acc[j][2 * r + 1] * inv, (T*)0);
    }
}

#define FASTIF_EXPORT(SFX, T) \
extern "C" __global__ void fastif_mma_attention_##SFX(const T* q, const T* k, const T* v, const T* k2, const T* v2, \
    const float* bias, T* y, int nq, int nk1, int nk2, int heads, float scale, fastif_index bias_batch_stride) \
    { mma_attention<T>(q, k, v, k2, v2, bias, y, nq, nk1, nk2, heads, scale, bias_batch_stride); }

FASTIF_EXPORT(f16, h16)
FASTIF_EXPORT(bf16, b16)

// fp32 storage has no 16-bit tensor-core operands: the host refuses it before launching. The entry exists so that every
// storage type's kernel has the same parameter list (the launch contract test holds each to the launch site).
extern "C" __global__ void fastif_mma_attention_f32(const float* q, const float* k, const float* v, const float* k2,
    const float* v2, const float* bias, float* y, int nq, int nk1, int nk2, int heads, float scale,
    fastif_index bias_batch_stride) { __trap(); }
