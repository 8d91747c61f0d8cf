// PLACEHOLDER implementation (correct, slow): the GEMM helper replaces it with a blocked SIMD kernel.
using System.Numerics.Tensors;

namespace FastIF.Backends.Cpu;

/// <summary>Single-precision GEMM for the CPU backend: <c>C = A·B (+ C when accumulate)</c>, row-major.</summary>
public static class CpuGemm
{
    /// <summary>
    /// C[m×n] = op(A)[m×k] · op(B)[k×n] (+ C). op(A) = A (row-major m×k, leading dim lda) or, when
    /// <paramref name="transA"/>, Aᵀ with A stored k×m. Likewise B (k×n, or n×k when <paramref name="transB"/>).
    /// Multithreaded internally; safe to call from several threads on disjoint C.
    /// </summary>
    public static void Gemm(int m, int n, int k,
        ReadOnlySpan<float> a, int lda, bool transA,
        ReadOnlySpan<float> b, int ldb, bool transB,
        Span<float> c, int ldc, bool accumulate)
    {
        for (int i = 0; i < m; i++)
        {
            var crow = c.Slice(i * ldc, n);
            if (!accumulate) crow.Clear();
            for (int p = 0; p < k; p++)
            {
                float av = transA ? a[p * lda + i] : a[i * lda + p];
                if (av == 0f) continue;
                if (!transB)
                    TensorPrimitives.MultiplyAdd(b.Slice(p * ldb, n), av, crow, crow);
                else
                    for (int j = 0; j < n; j++) crow[j] += av * b[j * ldb + p];
            }
        }
    }
}
