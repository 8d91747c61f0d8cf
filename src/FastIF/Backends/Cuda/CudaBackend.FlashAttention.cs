using FastIF.Tensors;

namespace FastIF.Backends.Cuda;

/// <summary>How the CUDA backend computes <see cref="IBackend.Attention"/>.</summary>
public enum AttentionKernel
{
    /// <summary>Strided-batched cuBLAS GEMMs around a softmax kernel, with the fp32 score matrix in device memory.</summary>
    Gemm,

    /// <summary>One fused kernel (kernels/attention.cu) with an online softmax: no score matrix, head dims up to 128.</summary>
    Flash,

    /// <summary>The fused kernel on the tensor cores (kernels/attention_mma.cu): fp16 or bf16 storage, head dim 64.</summary>
    Mma,
}

// The fused path: one launch of fastif_flash_attention per call, its tiles and grid from FlashAttentionPlan.
public sealed unsafe partial class CudaBackend
{
    private const string AttentionKernels = "attention.cu";

    /// <summary>Queues the flash kernel for validated operands; k2/v2 and bias are 0 when absent, biasStride is in floats.</summary>
    private void FlashAttention(AttentionShape a, CudaTensor q, CudaTensor k, CudaTensor v, CudaTensor? k2, CudaTensor? v2,
        ulong bias, long biasStride, float scale, CudaTensor y)
    {
        var plan = FlashAttentionPlan.For(a);
        var fn = _kernels.GetFunction(AttentionKernels, $"fastif_flash_attention_{Suffix}");
        ulong pq = q.Pointer, pk = k.Pointer, pv = v.Pointer, pk2 = k2?.Pointer ?? 0, pv2 = v2?.Pointer ?? 0, pb = bias, py = y.Pointer;
        int nq = a.Queries, nk1 = a.Keys1, nk2 = a.Keys2, heads = a.Channels / a.HeadDim, d = a.HeadDim, bq = plan.BlockQ, bk = plan.BlockK;
        long stride = biasStride;
        // KernelArgs launches without dynamic shared memory, so the parameter list is built here; order = the kernel's signature.
        void** args = stackalloc void*[]
        {
            &pq, &pk, &pv, &pk2, &pv2, &pb, &py, &nq, &nk1, &nk2, &heads, &d, &scale, &stride, &bq, &bk,
        };
        fn.Launch(plan.GridX, FlashAttentionPlan.Threads, Stream, args, (uint)plan.SharedBytes, plan.GridY);
    }
}
