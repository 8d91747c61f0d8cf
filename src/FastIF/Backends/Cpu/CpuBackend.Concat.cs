using FastIF.Tensors;

namespace FastIF.Backends.Cpu;

/// <summary>
/// The channels of an NCHW image, or of the channel concatenation <c>[a, b]</c> of two, as planes of
/// <c>spatial</c> values read where they are: channel c &lt; Ca from a, the rest from b (no copy of the concatenation).
/// </summary>
internal readonly struct ChannelPlanes(float[] a, int channelsA, float[] b, int channelsB, int spatial)
{
    /// <summary>Channel <paramref name="ch"/> of sample <paramref name="batch"/>.</summary>
    public ReadOnlySpan<float> Plane(int batch, int ch) => ch < channelsA
        ? a.AsSpan((batch * channelsA + ch) * spatial, spatial)
        : b.AsSpan((batch * channelsB + ch - channelsA) * spatial, spatial);

    /// <summary>Channels [c0, c1) of a sample as two contiguous runs, the part in a then the part in b (either may be empty).</summary>
    public void Runs(int batch, int c0, int c1, out ReadOnlySpan<float> first, out ReadOnlySpan<float> second)
    {
        int split = Math.Clamp(channelsA, c0, c1);
        first = split == c0 ? default : a.AsSpan((batch * channelsA + c0) * spatial, (split - c0) * spatial);
        second = split == c1 ? default : b.AsSpan((batch * channelsB + split - channelsA) * spatial, (c1 - split) * spatial);
    }
}

// The up path's skip concatenation read in place: the two consumers of [h, skip] in a ResNet (norm1 and the 1×1
// shortcut) take both halves, so the concatenated image is never written. Same sums in the same order as the composed
// ops, so the results are bit-identical to them.
public sealed partial class CpuBackend
{
    /// <inheritdoc/>
    public Tensor GroupNormConcat(Tensor a, Tensor b, int groups, float eps, Tensor gamma, Tensor beta, Activation act = Activation.None)
    {
        const string Op = "GroupNormConcat";
        var s = ConcatShape.Of(a, b, Op);
        var av = Own(a, Op + " lhs");
        var bv = Own(b, Op + " rhs");
        var (g, bt) = Affine(gamma, beta, s.Channels, groups, Op);
        var planes = new ChannelPlanes(av.Data, s.ChannelsA, bv.Data, s.ChannelsB, s.Spatial);
        return GroupNorm(planes, s.Concatenated, s.Batch, s.Channels, s.Spatial, groups, eps, g, bt, null, act);
    }

    /// <inheritdoc/>
    /// <remarks>
    /// One GEMM per sample, <c>y_b = W · [a_b; b_b]</c>, whose right operand is the row stack of the two NCHW samples
    /// (rows = channels) read in place: the whole weight is used as stored, and the depth is summed in the same
    /// slices as the GEMM over the concatenation, which keeps the result bit-identical to <c>Conv2d</c>.
    /// </remarks>
    public Tensor Conv1x1Concat(Tensor a, Tensor b, Tensor w, Tensor? bias)
    {
        const string Op = "Conv1x1Concat";
        var s = ConcatShape.Of(a, b, Op);
        var outShape = s.Conv1x1(w, bias, Op);
        var av = Own(a, Op + " lhs").Data;
        var bv = Own(b, Op + " rhs").Data;
        var ws = Own(w, Op + " weight").Data;
        float[]? bs = bias == null ? null : Own(bias, Op + " bias").Data;
        int cout = outShape[1], p = s.Spatial, ca = s.ChannelsA, cb = s.ChannelsB;
        var y = New(outShape);
        for (int n = 0; n < s.Batch; n++)
            CpuGemm.GemmStackedB(cout, p, ca + cb, ws, ca + cb, av.AsSpan(n * ca * p, ca * p), bv.AsSpan(n * cb * p, cb * p), ca, p,
                y.Data.AsSpan(n * cout * p, cout * p), p);
        if (bs != null) AddChannelBias(y.Data, y.Data, s.Batch, cout, p, bs);
        return y;
    }
}
