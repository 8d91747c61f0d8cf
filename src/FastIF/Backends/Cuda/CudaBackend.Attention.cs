using FastIF.Native;
using FastIF.Tensors;
using static FastIF.Native.CublasLtApi;

namespace FastIF.Backends.Cuda;

// Attention as strided-batched cuBLAS GEMMs (one batch entry per head) around a row softmax kernel. The scores are fp32;
// the second key/value set (IF's text tokens beside the image tokens) is written at a column offset of the same score
// rows, so the two sets are never concatenated. CudaBackendOptions.AttentionKernel = Flash sends the validated operands to
// the fused kernel instead (CudaBackend.FlashAttention.cs).
public sealed unsafe partial class CudaBackend
{
    /// <inheritdoc/>
    public Tensor Attention(Tensor q, Tensor k, Tensor v, int heads, float scale, Tensor? k2 = null, Tensor? v2 = null, Tensor? scoreBias = null)
    {
        var a = AttentionShape.Of(q, k, v, heads, k2, v2, scoreBias);
        var qs = Act(q, "Attention q");
        var ks = Act(k, "Attention k");
        var vs = Act(v, "Attention v");
        var k2s = k2 == null ? null : Act(k2, "Attention k2");
        var v2s = v2 == null ? null : Act(v2, "Attention v2");
        int n = a.Batch, nq = a.Queries, c = a.Channels, nk1 = a.Keys1, nk2 = a.Keys2, nk = a.Keys, d = a.HeadDim;
        ulong bias = 0;
        long biasStride = 0;
        if (scoreBias != null)
        {
            var bt = Own(scoreBias, "Attention score bias");
            if (bt.Storage != DType.F32) throw new ShapeException($"Attention: score bias {scoreBias} must be fp32");
            bias = bt.Pointer;
            biasStride = a.BiasBatches == 1 ? 0 : (long)heads * nq * nk * 4;
        }
        var y = New(new Shape(n, nq, c));
        if (y.Shape.Elements == 0 || nk == 0) return y;
        if (Options.AttentionKernel == AttentionKernel.Mma)
        {
            try { MmaAttention(a, qs, ks, vs, k2s, v2s, bias, biasStride / 4, scale, y); }
            catch { y.Dispose(); throw; }
            return y;
        }
        if (Options.AttentionKernel == AttentionKernel.Flash)
        {
            try { FlashAttention(a, qs, ks, vs, k2s, v2s, bias, biasStride / 4, scale, y); }
            catch { y.Dispose(); throw; }  // a shape the kernel refuses (head dim over 128) must not leak the output
            return y;
        }
        long rows = (long)heads * nq;
        var scores = _pool.Rent(rows * nk * 4, "attention scores");
        var probs = _pool.Rent(rows * nk * Precision.Size(), "attention probabilities");
        try
        {
            int es = Precision.Size();
            for (int b = 0; b < n; b++)
            {
                ulong qb = qs.Pointer + (ulong)((long)b * nq * c * es);
                Scores(qb, ks.Pointer + (ulong)((long)b * nk1 * c * es), nk1, 0, scores.Pointer, heads, nq, nk, d, c, scale);
                if (k2s != null)
                    Scores(qb, k2s.Pointer + (ulong)((long)b * nk2 * c * es), nk2, nk1, scores.Pointer, heads, nq, nk, d, c, scale);
                ulong biasB = bias == 0 ? 0 : bias + (ulong)(b * biasStride);
                new KernelArgs().Ptr(scores.Pointer).Ptr(biasB).Ptr(probs.Pointer).I32(nk).Launch(Fn("softmax_rows"), (uint)rows, 256, Stream);
                ulong yb = y.Pointer + (ulong)((long)b * nq * c * es);
                Mix(vs.Pointer + (ulong)((long)b * nk1 * c * es), nk1, 0, probs.Pointer, yb, heads, nq, nk, d, c, accumulate: false);
                if (v2s != null)
                    Mix(v2s.Pointer + (ulong)((long)b * nk2 * c * es), nk2, nk1, probs.Pointer, yb, heads, nq, nk, d, c, accumulate: true);
            }
        }
        finally
        {
            scores.Release();
            probs.Release();
        }
        return y;
    }

    /// <summary>fp32 <c>S_h[i, off + j] = scale · q_h[i]·k_h[j]</c> for every head h, keys j &lt; <paramref name="nk"/> (<see cref="GemmPlans.Scores"/>).</summary>
    private void Scores(ulong q, ulong k, int nk, int offset, ulong s, int heads, int nq, int ntot, int d, int c, float scale)
    {
        var g = GemmPlans.Scores(heads, nq, nk, ntot, d, c);
        float beta = 0f;
        CublasLtApi.Check(CublasApi.cublasGemmStridedBatchedEx(_cublas, Op(g.TransA), Op(g.TransB), g.M, g.N, g.K, &scale,
            k, CudaType, g.Lda, g.StrideA, q, CudaType, g.Ldb, g.StrideB, &beta, s + (ulong)offset * 4, CUDA_R_32F, g.Ldc, g.StrideC, g.Batch,
            CUBLAS_COMPUTE_32F, CublasApi.CUBLAS_GEMM_DEFAULT), $"cublasGemmStridedBatchedEx(scores {heads}x{nq}x{nk}x{d})");
    }

    /// <summary><c>O_h[i] (+)= Σ_j P_h[i, off + j] · v_h[j]</c> for every head, written into its channel slice of O (<see cref="GemmPlans.Mix"/>).</summary>
    private void Mix(ulong v, int nk, int offset, ulong p, ulong o, int heads, int nq, int ntot, int d, int c, bool accumulate)
    {
        var g = GemmPlans.Mix(heads, nq, nk, ntot, d, c);
        float alpha = 1f, beta = accumulate ? 1f : 0f;
        CublasLtApi.Check(CublasApi.cublasGemmStridedBatchedEx(_cublas, Op(g.TransA), Op(g.TransB), g.M, g.N, g.K, &alpha,
            v, CudaType, g.Lda, g.StrideA, p + (ulong)((long)offset * Precision.Size()), CudaType, g.Ldb, g.StrideB, &beta,
            o, CudaType, g.Ldc, g.StrideC, g.Batch, CUBLAS_COMPUTE_32F, CublasApi.CUBLAS_GEMM_DEFAULT), $"cublasGemmStridedBatchedEx(mix {heads}x{nq}x{nk}x{d})");
    }

    private static int Op(bool transpose) => transpose ? CUBLAS_OP_T : CUBLAS_OP_N;
}
