using FastIF.Backends;
using FastIF.Tensors;

namespace FastIF.Tests.Cuda;

/// <summary>
/// kernels/attention_mma.cu's <c>mma_attention</c> run on the CPU a warp at a time, lane by lane in the kernel's order:
/// the same grid and 64-key tiles across the k/k2 boundary, the same shared-memory words (rows of 36), each lane's
/// fragment registers as packed 16-bit pairs, quad shuffles, online-softmax rescaling and the probabilities rounded to the
/// storage type. <see cref="Mma"/> is <c>mma.sync.m16n8k16</c> as PTX documents its fragments (the one assumption this
/// twin cannot check: a GPU run does). Storage fp16 or bf16; inputs are given already rounded to it.
/// </summary>
internal static class MmaAttentionEmulator
{
    private const int D = 64, BQ = 64, BK = 64, Row = 36;

    /// <summary>y [B, Nq, C] for q [B, Nq, C], k/v [B, Nk1, C], k2/v2 [B, Nk2, C] (or null) and an optional flat fp32 bias.</summary>
    public static float[] Run(AttentionShape a, DType storage, float[] q, float[] k, float[] v, float[]? k2, float[]? v2,
        float[]? bias, float scale)
    {
        int heads = a.Channels / D, nq = a.Queries, nk1 = a.Keys1, nk2 = a.Keys2, nk = nk1 + nk2, c = a.Channels;
        long biasStride = bias == null || a.BiasBatches == 1 ? 0 : (long)heads * nq * nk;
        ushort Bits(float x) => storage == DType.F16 ? BitConverter.HalfToUInt16Bits((Half)x) : (ushort)(BitConverter.SingleToUInt32Bits(x) >> 16);
        float Value(uint bits16) => storage == DType.F16 ? (float)BitConverter.UInt16BitsToHalf((ushort)bits16) : BitConverter.UInt32BitsToSingle(bits16 << 16);
        uint Pack(float lo, float hi) => storage == DType.F16
            ? Bits(lo) | ((uint)Bits(hi) << 16)
            : Tensors.DTypeConvert.FloatToBFloat16(BitConverter.SingleToUInt32Bits(lo)) | ((uint)Tensors.DTypeConvert.FloatToBFloat16(BitConverter.SingleToUInt32Bits(hi)) << 16);
        // A word of a channels-last tensor: the 16-bit elements at flat index e and e + 1.
        uint Word(float[] t, long e) => Bits(t[e]) | ((uint)Bits(t[e + 1]) << 16);

        var y = new float[a.Batch * nq * c];
        int gridX = (nq + BQ - 1) / BQ;
        var ks = new uint[BK * Row];
        var vs = new uint[BK * Row];
        for (int by = 0; by < a.Batch * heads; by++)
            for (int bx = 0; bx < gridX; bx++)
            {
                int b = by / heads, h = by % heads;
                var warps = Enumerable.Range(0, 4).Select(w => new Warp(bx * BQ + w * 16)).ToArray();
                foreach (var w in warps)
                    for (int lane = 0; lane < 32; lane++)
                    {
                        int g = lane >> 2, t = lane & 3;
                        for (int kk = 0; kk < 4; kk++)
                            for (int r = 0; r < 4; r++)
                            {
                                int row = w.Row0 + g + ((r & 1) != 0 ? 8 : 0), col = kk * 16 + 2 * t + ((r & 2) != 0 ? 8 : 0);
                                w.Qa[lane][kk][r] = row < nq ? Word(q, ((long)b * nq + row) * c + h * D + col) : 0u;
                            }
                    }
                for (int k0 = 0; k0 < nk; k0 += BK)
                {
                    for (int i = 0; i < BK * 32; i++)
                    {
                        int r = i >> 5, wd = i & 31, key = k0 + r;
                        uint kw = 0, vw = 0;
                        if (key < nk)
                        {
                            var (kt, vt, row) = key < nk1 ? (k, v, (long)b * nk1 + key) : (k2!, v2!, (long)b * nk2 + key - nk1);
                            kw = Word(kt, row * c + h * D + 2 * wd);
                            vw = Word(vt, row * c + h * D + 2 * wd);
                        }
                        ks[r * Row + wd] = kw;
                        vs[r * Row + wd] = vw;
                    }
                    foreach (var w in warps) Tile(w, k0);
                }
                foreach (var w in warps)
                    for (int lane = 0; lane < 32; lane++)
                    {
                        int g = lane >> 2, t = lane & 3;
                        for (int r = 0; r < 2; r++)
                        {
                            float inv = 1f / QuadSum(w.L, lane, r);
                            int row = w.Row0 + g + 8 * r;
                            if (row >= nq) continue;
                            for (int j = 0; j < 8; j++)
                            {
                                uint word = Pack(w.Acc[lane][j][2 * r] * inv, w.Acc[lane][j][2 * r + 1] * inv);
                                long e = ((long)b * nq + row) * c + h * D + j * 8 + 2 * t;
                                y[e] = Value(word & 0xFFFF);
                                y[e + 1] = Value(word >> 16);
                            }
                        }
                    }

                void Tile(Warp w, int k0)
                {
                    var s = new float[32][][];
                    for (int lane = 0; lane < 32; lane++) s[lane] = Enumerable.Range(0, 8).Select(_ => new float[4]).ToArray();
                    for (int j = 0; j < 8; j++)
                        for (int kk = 0; kk < 4; kk++)
                        {
                            var b0 = new uint[32];
                            var b1 = new uint[32];
                            for (int lane = 0; lane < 32; lane++)
                            {
                                int kr = (j * 8 + (lane >> 2)) * Row + (lane & 3);
                                b0[lane] = ks[kr + kk * 8];
                                b1[lane] = ks[kr + kk * 8 + 4];
                            }
                            Mma(lane => s[lane][j], lane => w.Qa[lane][kk], b0, b1, Value);
                        }
                    var mx = new float[32][];
                    for (int lane = 0; lane < 32; lane++)
                    {
                        int t = lane & 3;
                        mx[lane] = [w.M[lane][0], w.M[lane][1]];
                        for (int j = 0; j < 8; j++)
                            for (int e = 0; e < 4; e++)
                            {
                                int row = w.Row0 + (lane >> 2) + 8 * (e >> 1), key = k0 + j * 8 + 2 * t + (e & 1);
                                float val = s[lane][j][e] * scale;
                                if (key >= nk) val = float.NegativeInfinity;
                                else if (bias != null && row < nq) val += bias[b * biasStride + ((long)h * nq + row) * nk + key];
                                s[lane][j][e] = val;
                                mx[lane][e >> 1] = MathF.Max(mx[lane][e >> 1], val);
                            }
                    }
                    for (int r = 0; r < 2; r++)
                    {
                        var reduced = Enumerable.Range(0, 32).Select(lane => QuadMax(mx, lane, r)).ToArray();
                        for (int lane = 0; lane < 32; lane++)
                        {
                            float alpha = MathF.Exp(w.M[lane][r] - reduced[lane]);
                            w.M[lane][r] = reduced[lane];
                            w.L[lane][r] *= alpha;
                            for (int j = 0; j < 8; j++) { w.Acc[lane][j][2 * r] *= alpha; w.Acc[lane][j][2 * r + 1] *= alpha; }
                        }
                    }
                    for (int lane = 0; lane < 32; lane++)
                        for (int j = 0; j < 8; j++)
                            for (int e = 0; e < 4; e++)
                            {
                                float p = MathF.Exp(s[lane][j][e] - w.M[lane][e >> 1]);
                                s[lane][j][e] = p;
                                w.L[lane][e >> 1] += p;
                            }
                    for (int kk = 0; kk < 4; kk++)
                    {
                        var pa = new uint[32][];
                        for (int lane = 0; lane < 32; lane++)
                        {
                            var x = s[lane];
                            pa[lane] = [Pack(x[2 * kk][0], x[2 * kk][1]), Pack(x[2 * kk][2], x[2 * kk][3]),
                                Pack(x[2 * kk + 1][0], x[2 * kk + 1][1]), Pack(x[2 * kk + 1][2], x[2 * kk + 1][3])];
                        }
                        for (int j = 0; j < 8; j++)
                        {
                            var b0 = new uint[32];
                            var b1 = new uint[32];
                            for (int lane = 0; lane < 32; lane++)
                            {
                                int key = kk * 16 + 2 * (lane & 3), col = j * 8 + (lane >> 2);
                                b0[lane] = Half16(vs, key * 2 * Row + col) | (Half16(vs, (key + 1) * 2 * Row + col) << 16);
                                b1[lane] = Half16(vs, (key + 8) * 2 * Row + col) | (Half16(vs, (key + 9) * 2 * Row + col) << 16);
                            }
                            Mma(lane => w.Acc[lane][j], lane => pa[lane], b0, b1, Value);
                        }
                    }
                }
            }
        return y;
    }

    /// <summary>One warp's registers: Q fragments, output accumulators, running max and sum of its lanes' two rows.</summary>
    private sealed class Warp(int row0)
    {
        public readonly int Row0 = row0;
        public readonly uint[][][] Qa = Enumerable.Range(0, 32).Select(_ => Enumerable.Range(0, 4).Select(_ => new uint[4]).ToArray()).ToArray();
        public readonly float[][][] Acc = Enumerable.Range(0, 32).Select(_ => Enumerable.Range(0, 8).Select(_ => new float[4]).ToArray()).ToArray();
        public readonly float[][] M = Enumerable.Range(0, 32).Select(_ => new[] { float.NegativeInfinity, float.NegativeInfinity }).ToArray();
        public readonly float[][] L = Enumerable.Range(0, 32).Select(_ => new float[2]).ToArray();
    }

    /// <summary>The 16-bit element at index e of a shared array of 32-bit words (low half first, as the GPU is little-endian).</summary>
    private static uint Half16(uint[] words, int e) => (words[e >> 1] >> (16 * (e & 1))) & 0xFFFF;

    private static float QuadMax(float[][] v, int lane, int r)
    {
        float x = v[lane][r];
        x = MathF.Max(x, v[lane ^ 1][r]);  // as two xor shuffles: every lane of the quad ends with the same value
        return MathF.Max(x, MathF.Max(v[lane ^ 2][r], v[lane ^ 3][r]));
    }

    private static float QuadSum(float[][] v, int lane, int r)
    {
        float a = v[lane][r] + v[lane ^ 1][r], b = v[lane ^ 2][r] + v[lane ^ 3][r];
        return a + b;
    }

    /// <summary>
    /// <c>mma.sync.aligned.m16n8k16.row.col.f32</c>: c += A·B with PTX's fragment layouts (g = lane / 4, t = lane % 4):
    /// A registers (g, 2t..), (g+8, 2t..), (g, 2t+8..), (g+8, 2t+8..); B registers (2t.., g), (2t+8.., g); C (g, 2t),
    /// (g, 2t+1), (g+8, 2t), (g+8, 2t+1); the lower 16 bits of a register hold the lower index.
    /// </summary>
    private static void Mma(Func<int, float[]> c, Func<int, uint[]> a, uint[] b0, uint[] b1, Func<uint, float> value)
    {
        var am = new float[16, 16];
        var bm = new float[16, 8];
        for (int lane = 0; lane < 32; lane++)
        {
            int g = lane >> 2, t = lane & 3;
            var ar = a(lane);
            for (int r = 0; r < 4; r++)
            {
                int row = g + ((r & 1) != 0 ? 8 : 0), col = 2 * t + ((r & 2) != 0 ? 8 : 0);
                am[row, col] = value(ar[r] & 0xFFFF);
                am[row, col + 1] = value(ar[r] >> 16);
            }
            bm[2 * t, g] = value(b0[lane] & 0xFFFF);
            bm[2 * t + 1, g] = value(b0[lane] >> 16);
            bm[2 * t + 8, g] = value(b1[lane] & 0xFFFF);
            bm[2 * t + 9, g] = value(b1[lane] >> 16);
        }
        for (int lane = 0; lane < 32; lane++)
        {
            int g = lane >> 2, t = lane & 3;
            var cr = c(lane);
            for (int e = 0; e < 4; e++)
            {
                int row = g + 8 * (e >> 1), col = 2 * t + (e & 1);
                float sum = 0;
                for (int kx = 0; kx < 16; kx++) sum += am[row, kx] * bm[kx, col];
                cr[e] += sum;
            }
        }
    }
}
