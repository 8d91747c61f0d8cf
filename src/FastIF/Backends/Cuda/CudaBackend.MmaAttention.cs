using FastIF.Tensors;

namespace FastIF.Backends.Cuda;

// The tensor-core path: one launch of fastif_mma_attention per call (kernels/attention_mma.cu). Not yet run on a GPU:
// chosen only by CudaBackendOptions.AttentionKernel = Mma (`--attention mma`), never by default.
public sealed partial class CudaBackend
{
    private const string MmaAttentionKernels = "attention_mma.cu";

    /// <summary>Query rows per block and the only head dim the kernel's fragments are laid out for.</summary>
    internal const int MmaBlockQ = 64, MmaHeadDim = 64;

    /// <summary>Throws <see cref="ShapeException"/> unless the tensor-core kernel takes <paramref name="a"/> in <paramref name="storage"/>.</summary>
    internal static void CheckMmaAttention(AttentionShape a, DType storage)
    {
        if (storage is not (DType.F16 or DType.BF16))
            throw new ShapeException($"Attention: the tensor-core kernel takes fp16 or bf16 storage, not {storage}; use --attention gemm or flash");
        if (a.HeadDim != MmaHeadDim)
            throw new ShapeException($"Attention: the tensor-core kernel takes head dim {MmaHeadDim}, got {a.HeadDim}; use --attention gemm or flash");
        long pairs = (long)a.Batch * (a.Channels / a.HeadDim);
        if (pairs < 1 || pairs > FlashAttentionPlan.MaxGridY)
            throw new ShapeException($"Attention: {a.Batch} batch items x {a.Channels / a.HeadDim} heads = {pairs} blocks in y, the kernel takes 1 to {FlashAttentionPlan.MaxGridY}");
        if (a.Queries < 1 || a.Keys < 1) throw new ShapeException($"Attention: the tensor-core kernel needs queries and keys, got {a.Queries} and {a.Keys}");
    }

    /// <summary>Queues the tensor-core kernel for validated operands; k2/v2 and bias are 0 when absent, biasStride is in floats.</summary>
    private void MmaAttention(AttentionShape a, CudaTensor q, CudaTensor k, CudaTensor v, CudaTensor? k2, CudaTensor? v2,
        ulong bias, long biasStride, float scale, CudaTensor y)
    {
        CheckMmaAttention(a, Precision);
        int heads = a.Channels / a.HeadDim;
        new KernelArgs().Ptr(q.Pointer).Ptr(k.Pointer).Ptr(v.Pointer).Ptr(k2?.Pointer ?? 0).Ptr(v2?.Pointer ?? 0).Ptr(bias).Ptr(y.Pointer)
            .I32(a.Queries).I32(a.Keys1).I32(a.Keys2).I32(heads).F32(scale).I64(biasStride)
            .Launch(Fn("mma_attention", MmaAttentionKernels), (uint)((a.Queries + MmaBlockQ - 1) / MmaBlockQ), 128, Stream,
                gridY: (uint)(a.Batch * heads));
    }
}
