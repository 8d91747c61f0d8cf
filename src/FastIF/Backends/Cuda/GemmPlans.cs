namespace FastIF.Backends.Cuda;

/// <summary>
/// One column-major (BLAS) strided-batched GEMM as the CUDA backend issues it: <c>C_p = α·op(A_p)·op(B_p) + β·C_p</c>
/// for p &lt; Batch, with <c>X_p</c> starting <c>p·StrideX</c> elements after X's base. Kept as data so the host-side
/// arithmetic of every call (transposes, leading dimensions, strides, offsets) is tested on the CPU against the
/// backend's reference ops, without a GPU.
/// </summary>
internal readonly record struct StridedGemm(bool TransA, bool TransB, int M, int N, int K, int Lda, long StrideA, int Ldb, long StrideB,
    int Ldc, long StrideC, int Batch);

/// <summary>The GEMMs of the CUDA backend's attention and linear layers, derived from row-major tensor shapes.</summary>
internal static class GemmPlans
{
    /// <summary>
    /// Scores for one batch item: <c>S_h[i, off + j] = q_h[i]·k_h[j]</c> for every head h, S fp32 row-major
    /// <c>[heads, Nq, Ntot]</c>. Column-major, <c>S_hᵀ (nk × nq, ld ntot) = K_h (nk × d) · Q_hᵀ (d × nq)</c>: K and Q read
    /// column-major with ld C are d × rows matrices, so K takes op T; heads step d channels in A and B, Nq·Ntot in C.
    /// A = K (offset 0), B = Q, C = S + off (elements).
    /// </summary>
    public static StridedGemm Scores(int heads, int nq, int nk, int ntot, int d, int c) =>
        new(TransA: true, TransB: false, M: nk, N: nq, K: d, Lda: c, StrideA: d, Ldb: c, StrideB: d, Ldc: ntot, StrideC: (long)nq * ntot, Batch: heads);

    /// <summary>
    /// Values for one batch item: <c>O_h[i] (+)= Σ_j P_h[i, off + j]·v_h[j]</c>, written into head h's channel slice of O
    /// <c>[Nq, C]</c>. Column-major, <c>O_hᵀ (d × nq, ld C) = V_hᵀ (d × nk, ld C) · P_hᵀ (nk × nq, ld ntot)</c>.
    /// A = V, B = P + off, C = O.
    /// </summary>
    public static StridedGemm Mix(int heads, int nq, int nk, int ntot, int d, int c) =>
        new(TransA: false, TransB: false, M: d, N: nq, K: nk, Lda: c, StrideA: d, Ldb: ntot, StrideB: (long)nq * ntot, Ldc: c, StrideC: d, Batch: heads);

    /// <summary>
    /// A linear layer <c>y[rows, out] = x[rows, in]·Wᵀ</c> on row-major data: column-major
    /// <c>yᵀ (out × rows, ld out) = op(W) · xᵀ</c>, where the row-major weight [out, in] read column-major is in × out (op T).
    /// A = W, B = x, C = y.
    /// </summary>
    public static StridedGemm Linear(long rows, int inF, int outF) => Linear(rows, inF, outF, inF);

    /// <summary>
    /// <see cref="Linear(long, int, int)"/> with the weight a column block of a wider row-major matrix of row stride
    /// <paramref name="weightLd"/> ≥ in, used in place (the caller points A at the block's first column): the two GEMMs of a
    /// 1×1 convolution of a channel concatenation <c>[a, b]</c> take columns [0, Ca) and [Ca, Ca + Cb) of one
    /// <c>[Cout, Ca + Cb]</c> filter, the second accumulating (β = 1) into the first's output.
    /// </summary>
    public static StridedGemm Linear(long rows, int inF, int outF, int weightLd)
    {
        if (weightLd < inF) throw new ArgumentOutOfRangeException(nameof(weightLd), $"weight row stride {weightLd} is below the {inF} inputs");
        return new(TransA: true, TransB: false, M: outF, N: checked((int)rows), K: inF, Lda: weightLd, StrideA: 0, Ldb: inF, StrideB: 0,
            Ldc: outF, StrideC: 0, Batch: 1);
    }
}
