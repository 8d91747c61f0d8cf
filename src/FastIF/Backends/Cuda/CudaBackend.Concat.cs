using FastIF.Tensors;

namespace FastIF.Backends.Cuda;

// The up path's skip concatenation read in place: norm1 and the 1×1 shortcut of an up ResNet take [h, skip] as two
// channels-last tensors, so the concatenated image is neither written nor read back. Nothing here allocates beyond
// the output (the step is captured in a CUDA graph).
public sealed partial class CudaBackend
{
    /// <inheritdoc/>
    public Tensor GroupNormConcat(Tensor a, Tensor b, int groups, float eps, Tensor gamma, Tensor beta, Activation act = Activation.None)
    {
        const string Op = "GroupNormConcat";
        var s = ConcatShape.Of(a, b, Op);
        var av = Act(a, Op + " lhs");
        var bv = Act(b, Op + " rhs");
        var (g, bt) = GroupNormAffine(s.Channels, groups, gamma, beta, act, Op);
        var y = New(s.Concatenated);
        // fastif_groupnorm_concat_* are fastif_groupnorm's two launches reading channel c from a (c < Ca) or b.
        var (chunks, blocks, partial) = GroupNormPartials(s.Batch, groups, s.Spatial);
        try
        {
            new KernelArgs().Ptr(av.Pointer).Ptr(bv.Pointer).Ptr(partial.Pointer).I32(s.Spatial).I32(s.ChannelsA).I32(s.ChannelsB)
                .I32(groups).I32(chunks).Launch(Fn("groupnorm_concat_partial", GroupNormKernels), blocks, GroupNormThreads, Stream);
            new KernelArgs().Ptr(av.Pointer).Ptr(bv.Pointer).Ptr(partial.Pointer).Ptr(g.Pointer).Ptr(bt.Pointer).Ptr(y.Pointer)
                .I32(s.Spatial).I32(s.ChannelsA).I32(s.ChannelsB).I32(groups).I32(chunks).F32(eps).I32(act == Activation.Gelu ? 1 : 0)
                .Launch(Fn("groupnorm_concat_apply", GroupNormKernels), blocks, GroupNormThreads, Stream);
        }
        finally { partial.Release(); }
        return y;
    }

    /// <inheritdoc/>
    /// <remarks>
    /// An NHWC image is a row-major <c>[B·H·W, C]</c> matrix and a channels-last 1×1 filter a row-major <c>[Cout, Ca + Cb]</c>
    /// one, so this is two cuBLASLt GEMMs into one output: <c>Y = A·Waᵀ + bias</c>, then <c>Y += B·Wbᵀ</c> (β = 1), where
    /// Wa and Wb are W's column blocks used in place (row stride Ca + Cb, the second Ca elements in).
    /// </remarks>
    public Tensor Conv1x1Concat(Tensor a, Tensor b, Tensor w, Tensor? bias)
    {
        const string Op = "Conv1x1Concat";
        var s = ConcatShape.Of(a, b, Op);
        var outShape = s.Conv1x1(w, bias, Op);
        var av = Act(a, Op + " lhs");
        var bv = Act(b, Op + " rhs");
        var ws = Act(w, Op + " weight");
        ulong bp = bias == null ? 0 : Act(bias, Op + " bias").Pointer;
        int cout = outShape[1], cin = s.Channels;
        var y = New(outShape);
        long rows = (long)s.Batch * s.Spatial;
        string what = $"{a.Shape} ++ {b.Shape} x {w.Shape}ᵀ";
        LinearGemm(rows, s.ChannelsA, cout, ws.Pointer, cin, av.Pointer, bp, y.Pointer, 0f, what);
        LinearGemm(rows, s.ChannelsB, cout, ws.Pointer + (ulong)((long)s.ChannelsA * Precision.Size()), cin, bv.Pointer, 0, y.Pointer, 1f, what);
        return y;
    }
}
