using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace FastIF.Backends.Cpu;

/// <summary>
/// Single-precision GEMM for the CPU backend, GotoBLAS-style: A and B are packed into cache-sized panels (which
/// also absorbs the transposes) and a 6×16 AVX2/FMA register-blocked micro-kernel does the multiply-adds; blocks
/// of C are spread over the thread pool. Without AVX2+FMA a plain vectorised loop is used.
/// </summary>
public static unsafe class CpuGemm
{
    private const int MR = 6, NR = 16;      // micro-tile: 12 ymm accumulators
    private const int KC = 256;             // depth of a packed panel (A panel 6·256·4 B = 6 KB, B panel 16 KB: L1/L2)
    private const int MC = 96, NC = 192;    // a task's block of C

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
        if (m < 0 || n < 0 || k < 0) throw new ArgumentOutOfRangeException(nameof(m), "GEMM sizes must be non-negative");
        if (m == 0 || n == 0) return;
        CheckExtent(b.Length, transB ? n : k, transB ? k : n, ldb, "B");
        Run(m, n, k, a, lda, transA, b, default, k, ldb, transB, c, ldc, accumulate);
    }

    /// <summary>
    /// C[m×n] = A[m×k] · [B1; B2] for row-major A (leading dim lda) and a right operand stacked from the first
    /// <paramref name="kSplit"/> rows in <paramref name="b1"/> and the other k − kSplit in <paramref name="b2"/> (both
    /// row-major, leading dim ldb), read in place: the GEMM of a row concatenation, summed exactly like
    /// <see cref="Gemm"/> over the stacked matrix (bit-identical), without building it.
    /// </summary>
    public static void GemmStackedB(int m, int n, int k, ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b1, ReadOnlySpan<float> b2,
        int kSplit, int ldb, Span<float> c, int ldc)
    {
        if (m < 0 || n < 0 || k < 0) throw new ArgumentOutOfRangeException(nameof(m), "GEMM sizes must be non-negative");
        if (kSplit < 0 || kSplit > k) throw new ArgumentOutOfRangeException(nameof(kSplit), $"GEMM: split {kSplit} outside the depth {k}");
        if (m == 0 || n == 0) return;
        CheckExtent(b1.Length, kSplit, n, ldb, "B1");
        CheckExtent(b2.Length, k - kSplit, n, ldb, "B2");
        Run(m, n, k, a, lda, false, b1, b2, kSplit, ldb, false, c, ldc, false);
    }

    private static void Run(int m, int n, int k, ReadOnlySpan<float> a, int lda, bool transA,
        ReadOnlySpan<float> b, ReadOnlySpan<float> b2, int kSplit, int ldb, bool transB, Span<float> c, int ldc, bool accumulate)
    {
        if (m == 0 || n == 0) return;
        CheckExtent(a.Length, transA ? k : m, transA ? m : k, lda, "A");
        CheckExtent(c.Length, m, n, ldc, "C");
        fixed (float* pa = a, pb = b, pb2 = b2, pc = c)
        {
            if (!accumulate)
                for (int i = 0; i < m; i++) new Span<float>(pc + (long)i * ldc, n).Clear();
            if (k == 0) return;
            if (!(Avx2.IsSupported && Fma.IsSupported))
            {
                Fallback(new Args(m, n, k, pa, lda, transA, pb, pb2, kSplit, ldb, transB, pc, ldc));
                return;
            }
            var args = new Args(m, n, k, pa, lda, transA, pb, pb2, kSplit, ldb, transB, pc, ldc);
            int bm = (m + MC - 1) / MC, bn = (n + NC - 1) / NC;
            if (bm * bn == 1 || (long)m * n * k < 1 << 18)
                for (int t = 0; t < bm * bn; t++) Block(args, t / bn, t % bn);
            else
                Parallel.For(0, bm * bn, t => Block(args, t / bn, t % bn));
        }
    }

    /// <summary>A GEMM's operands; rows of op(B) at and past <see cref="KSplit"/> come from <see cref="B2"/> (a stacked B, never transposed).</summary>
    private readonly struct Args(int m, int n, int k, float* a, int lda, bool transA, float* b, float* b2, int kSplit, int ldb, bool transB,
        float* c, int ldc)
    {
        public readonly int M = m, N = n, K = k, Lda = lda, Ldb = ldb, Ldc = ldc, KSplit = kSplit;
        public readonly bool TransA = transA, TransB = transB;
        public readonly float* A = a, B = b, B2 = b2, C = c;

        /// <summary>Row <paramref name="row"/> of an untransposed (maybe stacked) B.</summary>
        public float* RowB(long row) => row < KSplit ? B + row * Ldb : B2 + (row - KSplit) * Ldb;
    }

    private static void CheckExtent(long length, int rows, int cols, int ld, string name)
    {
        if (rows == 0 || cols == 0) return;
        if (ld < cols) throw new ArgumentException($"GEMM: leading dimension {ld} of {name} is below its row length {cols}");
        if ((long)(rows - 1) * ld + cols > length) throw new ArgumentException($"GEMM: {name} needs {(long)(rows - 1) * ld + cols} values, has {length}");
    }

    [ThreadStatic] private static float[]? t_packA, t_packB;

    /// <summary>One MC×NC block of C over the full depth, in KC slices.</summary>
    private static void Block(in Args g, int bi, int bj)
    {
        int i0 = bi * MC, j0 = bj * NC;
        int mc = Math.Min(MC, g.M - i0), nc = Math.Min(NC, g.N - j0);
        int mPanels = (mc + MR - 1) / MR, nPanels = (nc + NR - 1) / NR;
        var packA = t_packA ??= GC.AllocateUninitializedArray<float>(MC / MR * MR * KC + MR * KC, pinned: true);
        var packB = t_packB ??= GC.AllocateUninitializedArray<float>((NC / NR + 1) * NR * KC, pinned: true);
        float* tile = stackalloc float[MR * NR];
        fixed (float* pA = packA, pB = packB)
        {
            for (int p0 = 0; p0 < g.K; p0 += KC)
            {
                int kc = Math.Min(KC, g.K - p0);
                PackA(g, i0, mc, p0, kc, pA);
                PackB(g, j0, nc, p0, kc, pB);
                for (int jp = 0; jp < nPanels; jp++)
                {
                    int nr = Math.Min(NR, nc - jp * NR);
                    for (int ip = 0; ip < mPanels; ip++)
                    {
                        int mr = Math.Min(MR, mc - ip * MR);
                        float* cTile = g.C + (long)(i0 + ip * MR) * g.Ldc + j0 + jp * NR;
                        if (mr == MR && nr == NR)
                            Kernel(kc, pA + ip * MR * kc, pB + jp * NR * kc, cTile, g.Ldc);
                        else
                        {
                            // Edge tile: compute a full tile into scratch, add back only the valid part.
                            new Span<float>(tile, MR * NR).Clear();
                            Kernel(kc, pA + ip * MR * kc, pB + jp * NR * kc, tile, NR);
                            for (int r = 0; r < mr; r++)
                                for (int q = 0; q < nr; q++) cTile[(long)r * g.Ldc + q] += tile[r * NR + q];
                        }
                    }
                }
            }
        }
    }

    /// <summary>Packs op(A)[i0..i0+mc, p0..p0+kc] as MR-row panels, column-major inside a panel, zero-padded.</summary>
    private static void PackA(in Args g, int i0, int mc, int p0, int kc, float* dst)
    {
        for (int ip = 0; ip < mc; ip += MR)
        {
            int mr = Math.Min(MR, mc - ip);
            float* d = dst + ip * kc;
            for (int p = 0; p < kc; p++)
            {
                for (int r = 0; r < mr; r++)
                {
                    long row = i0 + ip + r, col = p0 + p;
                    d[p * MR + r] = g.TransA ? g.A[col * g.Lda + row] : g.A[row * g.Lda + col];
                }
                for (int r = mr; r < MR; r++) d[p * MR + r] = 0f;
            }
        }
    }

    /// <summary>Packs op(B)[p0..p0+kc, j0..j0+nc] as NR-column panels, row-major inside a panel, zero-padded.</summary>
    private static void PackB(in Args g, int j0, int nc, int p0, int kc, float* dst)
    {
        for (int jp = 0; jp < nc; jp += NR)
        {
            int nr = Math.Min(NR, nc - jp);
            float* d = dst + jp * kc;
            if (!g.TransB && nr == NR)
            {
                for (int p = 0; p < kc; p++)
                {
                    float* s = g.RowB(p0 + p) + j0 + jp;
                    Avx.Store(d + p * NR, Avx.LoadVector256(s));
                    Avx.Store(d + p * NR + 8, Avx.LoadVector256(s + 8));
                }
                continue;
            }
            for (int p = 0; p < kc; p++)
            {
                for (int q = 0; q < nr; q++)
                {
                    long row = p0 + p, col = j0 + jp + q;
                    d[p * NR + q] = g.TransB ? g.B[col * g.Ldb + row] : g.RowB(row)[col];
                }
                for (int q = nr; q < NR; q++) d[p * NR + q] = 0f;
            }
        }
    }

    /// <summary>C[6×16] += Apanel[6×kc] · Bpanel[kc×16].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining | MethodImplOptions.AggressiveOptimization)]
    private static void Kernel(int kc, float* a, float* b, float* c, int ldc)
    {
        Vector256<float> c00 = Vector256<float>.Zero, c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00,
            c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
        for (int p = 0; p < kc; p++, a += MR, b += NR)
        {
            var b0 = Avx.LoadVector256(b);
            var b1 = Avx.LoadVector256(b + 8);
            var a0 = Vector256.Create(a[0]);
            c00 = Fma.MultiplyAdd(a0, b0, c00); c01 = Fma.MultiplyAdd(a0, b1, c01);
            var a1 = Vector256.Create(a[1]);
            c10 = Fma.MultiplyAdd(a1, b0, c10); c11 = Fma.MultiplyAdd(a1, b1, c11);
            var a2 = Vector256.Create(a[2]);
            c20 = Fma.MultiplyAdd(a2, b0, c20); c21 = Fma.MultiplyAdd(a2, b1, c21);
            var a3 = Vector256.Create(a[3]);
            c30 = Fma.MultiplyAdd(a3, b0, c30); c31 = Fma.MultiplyAdd(a3, b1, c31);
            var a4 = Vector256.Create(a[4]);
            c40 = Fma.MultiplyAdd(a4, b0, c40); c41 = Fma.MultiplyAdd(a4, b1, c41);
            var a5 = Vector256.Create(a[5]);
            c50 = Fma.MultiplyAdd(a5, b0, c50); c51 = Fma.MultiplyAdd(a5, b1, c51);
        }
        Add(c, c00, c01); Add(c + ldc, c10, c11); Add(c + 2L * ldc, c20, c21);
        Add(c + 3L * ldc, c30, c31); Add(c + 4L * ldc, c40, c41); Add(c + 5L * ldc, c50, c51);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Add(float* c, Vector256<float> lo, Vector256<float> hi)
    {
        Avx.Store(c, Avx.Add(Avx.LoadVector256(c), lo));
        Avx.Store(c + 8, Avx.Add(Avx.LoadVector256(c + 8), hi));
    }

    private static void Fallback(in Args g)
    {
        for (int i = 0; i < g.M; i++)
        {
            var crow = new Span<float>(g.C + (long)i * g.Ldc, g.N);
            for (int p = 0; p < g.K; p++)
            {
                float av = g.TransA ? g.A[(long)p * g.Lda + i] : g.A[(long)i * g.Lda + p];
                if (!g.TransB)
                    System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(new ReadOnlySpan<float>(g.RowB(p), g.N), av, crow, crow);
                else
                    for (int j = 0; j < g.N; j++) crow[j] += av * g.B[(long)j * g.Ldb + p];
            }
        }
    }
}
