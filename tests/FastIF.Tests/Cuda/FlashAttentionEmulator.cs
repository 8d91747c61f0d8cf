using FastIF.Backends;
using FastIF.Backends.Cuda;

namespace FastIF.Tests.Cuda;

/// <summary>
/// kernels/attention.cu's <c>flash_attention</c> run on the CPU, thread by thread in the kernel's order: the same grid,
/// the same flat shared memory laid out from <see cref="FlashAttentionPlan"/> (an undersized plan indexes out of range),
/// the same key tiles across the k/k2 boundary, per-lane score slots, butterfly warp reductions, online-softmax
/// rescaling order and fused multiply-adds. Only <c>expf</c> is <see cref="MathF.Exp"/> here. fp32 storage.
/// </summary>
internal static class FlashAttentionEmulator
{
    private const int MaxRows = 8, MaxSlots = 2, MaxChunks = FlashAttentionPlan.MaxHeadDim / 32;

    /// <summary>y [B, Nq, C] for q [B, Nq, C], k/v [B, Nk1, C], k2/v2 [B, Nk2, C] (or null) and an optional flat fp32 bias.</summary>
    public static float[] Run(FlashAttentionPlan plan, AttentionShape a, float[] q, float[] k, float[] v, float[]? k2, float[]? v2,
        float[]? bias, float scale)
    {
        int heads = a.Channels / a.HeadDim;
        long biasStride = bias == null || a.BiasBatches == 1 ? 0 : (long)heads * a.Queries * a.Keys;
        var y = new float[a.Batch * a.Queries * a.Channels];
        for (uint by = 0; by < plan.GridY; by++)
            for (uint bx = 0; bx < plan.GridX; bx++)
                Block(plan, (int)bx, (int)by, q, k, v, k2, v2, bias, y, a.Queries, a.Keys1, a.Keys2, heads, a.HeadDim, scale, biasStride);
        return y;
    }

    private static float WarpMax(float[] lanes)
    {
        var v = (float[])lanes.Clone();
        for (int o = 16; o > 0; o >>= 1)
        {
            var prev = (float[])v.Clone();
            for (int l = 0; l < 32; l++) v[l] = MathF.Max(prev[l], prev[l ^ o]);
        }
        Assert.All(v, x => Assert.Equal(v[0], x));
        return v[0];
    }

    private static float WarpSum(float[] lanes)
    {
        var v = (float[])lanes.Clone();
        for (int o = 16; o > 0; o >>= 1)
        {
            var prev = (float[])v.Clone();
            for (int l = 0; l < 32; l++) v[l] = prev[l] + prev[l ^ o];
        }
        return v[0];
    }

    private static int KeyRow(int b, int h, int key, int nk1, int nk2, int channels, int d, out bool second) =>
        (second = key >= nk1) ? ((b * nk2 + key - nk1) * channels + h * d) : ((b * nk1 + key) * channels + h * d);

    private static void Block(FlashAttentionPlan plan, int bx, int by, float[] q, float[] k, float[] v, float[]? k2, float[]? v2,
        float[]? bias, float[] y, int nq, int nk1, int nk2, int heads, int d, float scale, long biasStride)
    {
        int blockQ = plan.BlockQ, blockK = plan.BlockK, rowsPerWarp = blockQ / FlashAttentionPlan.Warps, keySlots = blockK / 32;
        Assert.True(d <= FlashAttentionPlan.MaxHeadDim && rowsPerWarp <= MaxRows && keySlots <= MaxSlots
            && rowsPerWarp * FlashAttentionPlan.Warps == blockQ && keySlots * 32 == blockK, $"the kernel would trap on {plan}");
        int nk = nk1 + nk2, channels = heads * d, b = by / heads, h = by % heads, q0 = bx * blockQ;
        var smem = new float[plan.SharedBytes / 4];
        int qs = 0, ks = qs + blockQ * d, vs = ks + blockK * (d + 1);
        long biasBh = bias == null ? -1 : b * biasStride + (long)h * nq * nk;

        for (int i = 0; i < blockQ * d; i++)
        {
            int r = i / d, c = i - r * d;
            smem[qs + i] = q0 + r < nq ? q[(b * nq + q0 + r) * channels + h * d + c] : 0f;
        }

        // Per thread state, indexed [warp, lane, ...] as the kernel's registers.
        const int W = FlashAttentionPlan.Warps;
        var m = new float[W, 32, MaxRows];
        var l = new float[W, 32, MaxRows];
        var acc = new float[W, 32, MaxRows, MaxChunks];
        for (int w = 0; w < W; w++) for (int ln = 0; ln < 32; ln++) for (int r = 0; r < MaxRows; r++) m[w, ln, r] = float.NegativeInfinity;

        for (int j0 = 0; j0 < nk; j0 += blockK)
        {
            int count = Math.Min(blockK, nk - j0);
            for (int i = 0; i < count * d; i++)
            {
                int j = i / d, c = i - j * d;
                int row = KeyRow(b, h, j0 + j, nk1, nk2, channels, d, out bool second);
                smem[ks + j * (d + 1) + c] = (second ? k2! : k)[row + c];
                smem[vs + j * d + c] = (second ? v2! : v)[row + c];
            }

            for (int w = 0; w < W; w++)
            {
                var s = new float[32, MaxRows, MaxSlots];
                for (int ln = 0; ln < 32; ln++)
                    for (int c = 0; c < d; c++)
                        for (int sl = 0; sl < MaxSlots; sl++)
                        {
                            int j = sl * 32 + ln;
                            if (sl >= keySlots || j >= count) continue;
                            float kv = smem[ks + j * (d + 1) + c];
                            for (int r = 0; r < rowsPerWarp; r++)
                                s[ln, r, sl] = MathF.FusedMultiplyAdd(smem[qs + (w * rowsPerWarp + r) * d + c], kv, s[ln, r, sl]);
                        }

                for (int r = 0; r < rowsPerWarp; r++)
                {
                    int row = q0 + w * rowsPerWarp + r;
                    var tileMax = new float[32];
                    for (int ln = 0; ln < 32; ln++)
                    {
                        tileMax[ln] = float.NegativeInfinity;
                        for (int sl = 0; sl < MaxSlots; sl++)
                        {
                            int j = sl * 32 + ln;
                            if (sl < keySlots && j < count)
                            {
                                float x = s[ln, r, sl] * scale;
                                if (bias != null && row < nq) x += bias[biasBh + (long)row * nk + j0 + j];
                                s[ln, r, sl] = x;
                                tileMax[ln] = MathF.Max(tileMax[ln], x);
                            }
                            else s[ln, r, sl] = float.NegativeInfinity;
                        }
                    }
                    float warpMax = WarpMax(tileMax);
                    var part = new float[32];
                    var alpha = new float[32];
                    for (int ln = 0; ln < 32; ln++)
                    {
                        float mNew = MathF.Max(m[w, ln, r], warpMax);
                        alpha[ln] = MathF.Exp(m[w, ln, r] - mNew);
                        for (int sl = 0; sl < MaxSlots; sl++)
                        {
                            s[ln, r, sl] = MathF.Exp(s[ln, r, sl] - mNew);
                            part[ln] += s[ln, r, sl];
                        }
                        m[w, ln, r] = mNew;
                    }
                    float sum = WarpSum(part);
                    for (int ln = 0; ln < 32; ln++)
                    {
                        l[w, ln, r] = alpha[ln] * l[w, ln, r] + sum;
                        for (int t = 0; t < MaxChunks; t++) acc[w, ln, r, t] *= alpha[ln];
                    }
                }

                for (int sl = 0; sl < keySlots; sl++)
                    for (int src = 0; src < 32; src++)
                    {
                        int j = sl * 32 + src;
                        if (j >= count) break;
                        for (int ln = 0; ln < 32; ln++)
                            for (int r = 0; r < rowsPerWarp; r++)
                            {
                                float p = s[src, r, sl];  // __shfl_sync from lane src
                                for (int t = 0; t < MaxChunks; t++)
                                {
                                    float vj = ln + 32 * t < d ? smem[vs + j * d + ln + 32 * t] : 0f;
                                    acc[w, ln, r, t] = MathF.FusedMultiplyAdd(p, vj, acc[w, ln, r, t]);
                                }
                            }
                    }
            }
        }

        for (int w = 0; w < W; w++)
            for (int r = 0; r < rowsPerWarp; r++)
            {
                int row = q0 + w * rowsPerWarp + r;
                if (row >= nq) continue;
                for (int ln = 0; ln < 32; ln++)
                {
                    float inv = 1f / l[w, ln, r];
                    for (int t = 0; t < MaxChunks; t++)
                        if (ln + 32 * t < d) y[(b * nq + row) * channels + h * d + ln + 32 * t] = acc[w, ln, r, t] * inv;
                }
            }
    }
}
