using FastIF.Backends;
using FastIF.Backends.Cpu;
using FastIF.Backends.Cuda;
using FastIF.Tensors;

namespace FastIF.Tests.Cuda;

/// <summary>
/// The CUDA backend's GEMM calls (transposes, leading dimensions, strides, offsets) run through a CPU emulation of
/// BLAS's column-major strided-batched GEMM, in the same sequence the backend issues them, and compared with the CPU
/// reference ops: the host-side arithmetic of attention and linear layers is proven without a GPU.
/// </summary>
public class GemmPlanTests
{
    /// <summary>BLAS semantics: C_p = α·op(A_p)·op(B_p) + β·C_p, column-major, X_p at X + off + p·strideX.</summary>
    private static void Emulate(StridedGemm g, float[] a, long aOff, float[] b, long bOff, float[] c, long cOff, float alpha, float beta)
    {
        // cuBLAS refuses (CUBLAS_STATUS_INVALID_VALUE) leading dimensions shorter than the stored matrices' rows.
        Assert.True(g.Lda >= Math.Max(1, g.TransA ? g.K : g.M), $"lda {g.Lda} too small for {g}");
        Assert.True(g.Ldb >= Math.Max(1, g.TransB ? g.N : g.K), $"ldb {g.Ldb} too small for {g}");
        Assert.True(g.Ldc >= Math.Max(1, g.M), $"ldc {g.Ldc} too small for {g}");
        for (int p = 0; p < g.Batch; p++)
            for (int j = 0; j < g.N; j++)
                for (int i = 0; i < g.M; i++)
                {
                    double s = 0;
                    for (int l = 0; l < g.K; l++)
                    {
                        float av = g.TransA ? a[aOff + p * g.StrideA + l + (long)i * g.Lda] : a[aOff + p * g.StrideA + i + (long)l * g.Lda];
                        float bv = g.TransB ? b[bOff + p * g.StrideB + j + (long)l * g.Ldb] : b[bOff + p * g.StrideB + l + (long)j * g.Ldb];
                        s += (double)av * bv;
                    }
                    long idx = cOff + p * g.StrideC + i + (long)j * g.Ldc;
                    // As in BLAS, β = 0 does not read C (it may hold garbage, even NaN).
                    c[idx] = (float)(beta == 0 ? alpha * s : alpha * s + beta * c[idx]);
                }
    }

    private static float[] Random(int n, int seed)
    {
        var r = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => (float)(r.NextDouble() * 2 - 1)).ToArray();
    }

    [Theory]
    [InlineData(2, 10, 12, 0, 4, 32)]
    [InlineData(2, 9, 5, 7, 2, 16)]
    [InlineData(1, 16, 77, 16, 1, 64)]
    public void AttentionCallsReproduceTheReference(int n, int nq, int nk1, int nk2, int heads, int c)
    {
        int d = c / heads, ntot = nk1 + nk2;
        var q = Random(n * nq * c, 1);
        var k = Random(n * nk1 * c, 2);
        var v = Random(n * nk1 * c, 3);
        var k2 = Random(n * nk2 * c, 4);
        var v2 = Random(n * nk2 * c, 5);
        float scale = 1f / MathF.Sqrt(d);
        var y = new float[n * nq * c];
        for (int b = 0; b < n; b++)
        {
            var s = new float[heads * nq * ntot];
            Emulate(GemmPlans.Scores(heads, nq, nk1, ntot, d, c), k, (long)b * nk1 * c, q, (long)b * nq * c, s, 0, scale, 0);
            if (nk2 > 0) Emulate(GemmPlans.Scores(heads, nq, nk2, ntot, d, c), k2, (long)b * nk2 * c, q, (long)b * nq * c, s, nk1, scale, 0);
            for (int row = 0; row < heads * nq; row++)
            {
                var r = s.AsSpan(row * ntot, ntot);
                float max = float.MinValue;
                foreach (var x in r) max = Math.Max(max, x);
                double z = 0;
                for (int i = 0; i < ntot; i++) z += Math.Exp(r[i] - max);
                for (int i = 0; i < ntot; i++) r[i] = (float)(Math.Exp(r[i] - max) / z);
            }
            Emulate(GemmPlans.Mix(heads, nq, nk1, ntot, d, c), v, (long)b * nk1 * c, s, 0, y, (long)b * nq * c, 1, 0);
            if (nk2 > 0) Emulate(GemmPlans.Mix(heads, nq, nk2, ntot, d, c), v2, (long)b * nk2 * c, s, nk1, y, (long)b * nq * c, 1, 1);
        }
        var be = CpuBackend.Instance;
        using var qt = be.FromHost(q, new Shape(n, nq, c));
        using var kt = be.FromHost(k, new Shape(n, nk1, c));
        using var vt = be.FromHost(v, new Shape(n, nk1, c));
        using var k2t = nk2 > 0 ? be.FromHost(k2, new Shape(n, nk2, c)) : null;
        using var v2t = nk2 > 0 ? be.FromHost(v2, new Shape(n, nk2, c)) : null;
        using var want = be.Attention(qt, kt, vt, heads, scale, k2t, v2t);
        Numerics.AssertClose("emulated cuBLAS attention", want.ToArray(), y, 1e-6);
    }

    [Theory]
    [InlineData(7, 40, 24)]
    [InlineData(1, 64, 128)]
    public void LinearCallReproducesTheReference(int rows, int inF, int outF)
    {
        var x = Random(rows * inF, 6);
        var w = Random(outF * inF, 7);
        var y = new float[rows * outF];
        Emulate(GemmPlans.Linear(rows, inF, outF), w, 0, x, 0, y, 0, 1, 0);
        var be = CpuBackend.Instance;
        using var xt = be.FromHost(x, new Shape(rows, inF));
        using var wt = be.FromHost(w, new Shape(outF, inF));
        using var want = be.Linear(xt, wt, null);
        Numerics.AssertClose("emulated cuBLASLt linear", want.ToArray(), y, 1e-6);
    }
    [Theory]
    [InlineData(7, 5, 3, 4)]
    [InlineData(12, 24, 40, 32)]
    public void ConcatProjectionCallsReproduceTheReference(int rows, int ca, int cb, int outF)
    {
        // The CUDA Conv1x1Concat: Y = A·Waᵀ, then Y += B·Wbᵀ, Wa/Wb column blocks of W [out, ca + cb] in place.
        int cin = ca + cb;
        var a = Random(rows * ca, 8);
        var b = Random(rows * cb, 9);
        var w = Random(outF * cin, 10);
        var y = new float[rows * outF];
        Array.Fill(y, float.NaN); // β = 0 must not read the output
        Emulate(GemmPlans.Linear(rows, ca, outF, cin), w, 0, a, 0, y, 0, 1, 0);
        Emulate(GemmPlans.Linear(rows, cb, outF, cin), w, ca, b, 0, y, 0, 1, 1);
        var cat = new float[rows * cin];
        for (int r = 0; r < rows; r++)
        {
            a.AsSpan(r * ca, ca).CopyTo(cat.AsSpan(r * cin));
            b.AsSpan(r * cb, cb).CopyTo(cat.AsSpan(r * cin + ca));
        }
        var be = CpuBackend.Instance;
        using var xt = be.FromHost(cat, new Shape(rows, cin));
        using var wt = be.FromHost(w, new Shape(outF, cin));
        using var want = be.Linear(xt, wt, null);
        Numerics.AssertClose("emulated cuBLASLt concat projection", want.ToArray(), y, 1e-6);
    }
}
