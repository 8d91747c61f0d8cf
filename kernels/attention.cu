// Fused ("flash") multi-head attention for the CUDA backend: softmax(q·kᵀ·scale + bias)·v in one pass over the keys,
// without the [heads, Nq, Nk] score matrix the cuBLAS path (CudaBackend.Attention.cs) writes to memory.
//
// Layout: tokens [B, N, C] channels-last, head h owns channels h·d … h·d+d−1. Keys are k (Nk1 rows) followed by k2
// (Nk2 rows, IF's text tokens) as one logical sequence of Nk = Nk1 + Nk2 keys; a tile that crosses the boundary reads
// each row from whichever tensor holds it, so nothing is concatenated. bias (optional) is fp32 [Bb, heads, Nq, Nk]
// with a batch stride of 0 (shared) or heads·Nq·Nk elements.
//
// Algorithm (online softmax, fp32 throughout): a block owns BQ query rows of one (batch item, head); it walks the keys
// in tiles of BK rows staged in shared memory, and for each of its rows keeps a running max m, a running sum l and an
// unnormalised output acc. Per tile: s_j = scale·q·k_j + bias_j; m' = max(m, max_j s_j); α = exp(m − m');
// p_j = exp(s_j − m'); l = α·l + Σ p_j; acc = α·acc + Σ p_j·v_j; at the end y = acc / l. A row whose every key is masked
// with a large finite negative (float.MinValue) has all s_j equal, so p_j = 1 and y averages the values, as the CPU
// reference does. CPU twin of this exact tiling and order: tests/FastIF.Tests/Cuda/FlashAttentionEmulator.cs.
//
// Threads: 4 warps of 32; warp w owns query rows w·R … w·R+R−1 of the tile (R = BQ/4). Lane ℓ computes the scores of
// keys ℓ and ℓ+32 of the key tile and owns output channels ℓ, ℓ+32, ℓ+64, ℓ+96 of each of its warp's rows.
// Host plan (BQ, BK, grid, shared bytes): src/FastIF/Backends/Cuda/FlashAttentionPlan.cs.
#include "fastif_storage.cuh"

// Register-array bounds; the host plan never exceeds them (checked there and trapped here).
#define FLASH_WARPS 4
#define FLASH_MAX_D 128            // head dim ≤ 128: 4 output channels per lane
#define FLASH_MAX_ROWS 8           // query rows per warp (BQ ≤ 32)
#define FLASH_MAX_KEY_SLOTS 2      // keys per lane per tile (BK ≤ 64)

FASTIF_DEVICE float warp_max(float v) {
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

FASTIF_DEVICE float warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

// Row `key` (0 ≤ key < nk1 + nk2) of the logical key (or value) sequence of batch item b, head h: the first tensor's rows, then the second's.
template <typename T>
FASTIF_DEVICE const T* key_row(const T* a, const T* a2, int b, int h, int key, int nk1, int nk2, int channels, int d) {
    if (key < nk1) return a + ((fastif_index)b * nk1 + key) * channels + (fastif_index)h * d;
    return a2 + ((fastif_index)b * nk2 + (key - nk1)) * channels + (fastif_index)h * d;
}

// Grid: x = query tiles of BQ rows, y = batch · heads. Block: 128 threads. Dynamic shared memory:
// Qs [BQ][d] | Ks [BK][d+1] (padded: lanes read different keys at the same channel without bank conflicts) | Vs [BK][d].
template <typename T>
FASTIF_DEVICE void flash_attention(const T* __restrict__ q, const T* __restrict__ k, const T* __restrict__ v,
                                   const T* __restrict__ k2, const T* __restrict__ v2, const float* __restrict__ bias,
                                   T* __restrict__ y, int nq, int nk1, int nk2, int heads, int d, float scale,
                                   fastif_index bias_batch_stride, int block_q, int block_k) {
    extern __shared__ float smem[];
    const int rows_per_warp = block_q / FLASH_WARPS, key_slots = block_k / 32;
    if (blockDim.x != 32 * FLASH_WARPS || d > FLASH_MAX_D || rows_per_warp > FLASH_MAX_ROWS || key_slots > FLASH_MAX_KEY_SLOTS ||
        rows_per_warp * FLASH_WARPS != block_q || key_slots * 32 != block_k)
        __trap();  // a launch the host plan would never make

    const int nk = nk1 + nk2, channels = heads * d;
    const int b = blockIdx.y / heads, h = blockIdx.y % heads, q0 = blockIdx.x * block_q;
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    float* qs = smem;
    float* ks = qs + block_q * d;
    float* vs = ks + block_k * (d + 1);
    const float* bias_bh = bias ? bias + b * bias_batch_stride + (fastif_index)h * nq * nk : 0;

    // The block's query rows, zero past the last row (those rows are computed like the others but never stored).
    for (int i = threadIdx.x; i < block_q * d; i += blockDim.x) {
        int r = i / d, c = i - r * d;
        qs[i] = q0 + r < nq ? ld(q + ((fastif_index)b * nq + q0 + r) * channels + (fastif_index)h * d + c) : 0.0f;
    }

    const float neg_inf = fastif_bits_float(0xff800000u);
    float m[FLASH_MAX_ROWS], l[FLASH_MAX_ROWS], acc[FLASH_MAX_ROWS][FLASH_MAX_D / 32];
#pragma unroll
    for (int r = 0; r < FLASH_MAX_ROWS; ++r) {
        m[r] = neg_inf;
        l[r] = 0.0f;
#pragma unroll
        for (int t = 0; t < FLASH_MAX_D / 32; ++t) acc[r][t] = 0.0f;
    }

    for (int j0 = 0; j0 < nk; j0 += block_k) {
        const int count = min(block_k, nk - j0);  // keys in this tile
        __syncthreads();                          // the previous tile (and, first time, nothing) is no longer read
        for (int i = threadIdx.x; i < count * d; i += blockDim.x) {
            int j = i / d, c = i - j * d;
            ks[j * (d + 1) + c] = ld(key_row(k, k2, b, h, j0 + j, nk1, nk2, channels, d) + c);
            vs[j * d + c] = ld(key_row(v, v2, b, h, j0 + j, nk1, nk2, channels, d) + c);
        }
        __syncthreads();

        // Scores of this lane's keys for every row of the warp: s[r][slot] for key j0 + slot·32 + lane.
        float s[FLASH_MAX_ROWS][FLASH_MAX_KEY_SLOTS];
#pragma unroll
        for (int r = 0; r < FLASH_MAX_ROWS; ++r)
#pragma unroll
            for (int sl = 0; sl < FLASH_MAX_KEY_SLOTS; ++sl) s[r][sl] = 0.0f;
        for (int c = 0; c < d; ++c) {
#pragma unroll
            for (int sl = 0; sl < FLASH_MAX_KEY_SLOTS; ++sl) {
                int j = sl * 32 + lane;
                if (sl >= key_slots || j >= count) continue;
                float kv = ks[j * (d + 1) + c];
#pragma unroll
                for (int r = 0; r < FLASH_MAX_ROWS; ++r)
                    if (r < rows_per_warp) s[r][sl] = fmaf(qs[(warp * rows_per_warp + r) * d + c], kv, s[r][sl]);
            }
        }

        // Online softmax update of each row; p replaces s.
#pragma unroll
        for (int r = 0; r < FLASH_MAX_ROWS; ++r) {
            if (r >= rows_per_warp) continue;
            const int row = q0 + warp * rows_per_warp + r;
            float tile_max = neg_inf;
#pragma unroll
            for (int sl = 0; sl < FLASH_MAX_KEY_SLOTS; ++sl) {
                int j = sl * 32 + lane;
                if (sl < key_slots && j < count) {
                    float x = s[r][sl] * scale;
                    if (bias_bh && row < nq) x += bias_bh[(fastif_index)row * nk + j0 + j];
                    s[r][sl] = x;
                    tile_max = fmaxf(tile_max, x);
                } else {
                    s[r][sl] = neg_inf;  // not a key: weight exp(-inf) = 0
                }
            }
            const float m_new = fmaxf(m[r], warp_max(tile_max));
            const float alpha = expf(m[r] - m_new);  // 0 on the first tile (m = -inf)
            float part = 0.0f;
#pragma unroll
            for (int sl = 0; sl < FLASH_MAX_KEY_SLOTS; ++sl) {
                s[r][sl] = expf(s[r][sl] - m_new);
                part += s[r][sl];
            }
            l[r] = alpha * l[r] + warp_sum(part);
            m[r] = m_new;
#pragma unroll
            for (int t = 0; t < FLASH_MAX_D / 32; ++t) acc[r][t] *= alpha;
        }

        // acc[r][t] += Σ_j p[r][j] · v[j][lane + 32t]; p of key slot·32 + src lives in lane src.
#pragma unroll
        for (int sl = 0; sl < FLASH_MAX_KEY_SLOTS; ++sl) {
            if (sl >= key_slots) continue;
            for (int src = 0; src < 32; ++src) {
                const int j = sl * 32 + src;
                if (j >= count) break;  // uniform across the warp
                float vj[FLASH_MAX_D / 32];
#pragma unroll
                for (int t = 0; t < FLASH_MAX_D / 32; ++t) vj[t] = lane + 32 * t < d ? vs[j * d + lane + 32 * t] : 0.0f;
#pragma unroll
                for (int r = 0; r < FLASH_MAX_ROWS; ++r) {
                    if (r >= rows_per_warp) continue;
                    const float p = __shfl_sync(0xffffffffu, s[r][sl], src);
#pragma unroll
                    for (int t = 0; t < FLASH_MAX_D / 32; ++t) acc[r][t] = fmaf(p, vj[t], acc[r][t]);
                }
            }
        }
    }

#pragma unroll
    for (int r = 0; r < FLASH_MAX_ROWS; ++r) {
        const int row = q0 + warp * rows_per_warp + r;
        if (r >= rows_per_warp || row >= nq) continue;
        const float inv = 1.0f / l[r];
        T* yr = y + ((fastif_index)b * nq + row) * channels + (fastif_index)h * d;
#pragma unroll
        for (int t = 0; t < FLASH_MAX_D / 32; ++t)
            if (lane + 32 * t < d) st(yr + lane + 32 * t, acc[r][t] * inv);
    }
}

#define FASTIF_EXPORT(SFX, T) \
extern "C" __global__ void fastif_flash_attention_##SFX(const T* q, const T* k, const T* v, const T* k2, \
    const T* v2, const float* bias, T* y, int nq, int nk1, int nk2, int heads, int d, float scale, fastif_index bias_batch_stride, \
    int block_q, int block_k) \
    { flash_attention<T>(q, k, v, k2, v2, bias, y, nq, nk1, nk2, heads, d, scale, bias_batch_stride, block_q, block_k); }

FASTIF_EXPORT(f32, float)
FASTIF_EXPORT(f16, h16)
FASTIF_EXPORT(bf16, b16)
