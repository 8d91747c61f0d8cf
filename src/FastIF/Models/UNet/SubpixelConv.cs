using FastIF.Backends;
using FastIF.Tensors;

namespace FastIF.Models.UNet;

/// <summary>
/// "Nearest ×2 upsample, then a 3×3 convolution (padding 1)" rewritten as one 2×2 convolution (padding 1) of the
/// low-resolution input into four phase planes, interleaved by <see cref="IBackend.ShufflePhases2x"/>.
/// Output pixel (2i+a, 2j+e) of the upsampled convolution sees upsampled rows 2i+a−1 … 2i+a+1, which are input rows
/// i−1, i, i (a = 0) or i, i, i+1 (a = 1): two distinct rows, the 3×3 taps that land on the same input row summed.
/// Zero padding of the upsampled image is zero padding of the input, so the borders agree too. Each output costs
/// 4 multiply-adds per input channel instead of 9 (plus one phase row and column at the border).
/// </summary>
public static class SubpixelConv
{
    // Which 3×3 tap rows fold into each of the two phase-kernel rows, for phase a = 0 and a = 1. The phase kernel's
    // row k (padding 1) reads input row r − 1 + k; phase a's output row i is r = i + a.
    private static readonly int[][][] Fold =
    [
        [[0], [1, 2]],
        [[0, 1], [2]],
    ];

    /// <summary>
    /// The phase weights <c>[4·Cout, Cin, 2, 2]</c> (block <c>p = 2a + e</c> for output phase (a, e)) of a 3×3 kernel
    /// <paramref name="w"/> <c>[Cout, Cin, 3, 3]</c>; sums in double, rounded once.
    /// </summary>
    public static float[] PhaseWeights(float[] w, int cout, int cin)
    {
        if (w.Length != (long)cout * cin * 9) throw new ShapeException($"SubpixelConv: {w.Length} weights for a [{cout}, {cin}, 3, 3] kernel");
        var y = new float[4L * cout * cin * 4];
        // Output channels in parallel: IF-I-XL's three upsamplers hold about 230 M phase weights, made at every load.
        Parallel.For(0, 4 * cout, po =>
        {
            int p = po / cout, o = po % cout;
            var rows = Fold[p >> 1];
            var cols = Fold[p & 1];
            for (int i = 0; i < cin; i++)
            {
                var k3 = w.AsSpan((o * cin + i) * 9, 9);
                int dst = ((p * cout + o) * cin + i) * 4;
                for (int ky = 0; ky < 2; ky++)
                    for (int kx = 0; kx < 2; kx++)
                    {
                        double s = 0;
                        foreach (int dy in rows[ky])
                            foreach (int dx in cols[kx])
                                s += k3[dy * 3 + dx];
                        y[dst + ky * 2 + kx] = (float)s;
                    }
            }
        });
        return y;
    }
}

/// <summary>A 3×3 conv applied to the nearest ×2 upsampling of its input, computed as a sub-pixel convolution
/// (<see cref="SubpixelConv"/>). Declares the checkpoint's 3×3 weight (held in its phase form) and bias; the bias is left
/// to the consumer (the ResNet's norm2 adds it as it reads).</summary>
internal sealed class UpsampleConvLayer(ParamSet ps, string prefix, int cin, int cout)
{
    private readonly ParamSet.Param _w = ps.Add(prefix + ".weight", ParamKind.Weight,
        (v, s) => (SubpixelConv.PhaseWeights(v, s[0], s[1]), new Shape(4 * s[0], s[1], 2, 2)), cout, cin, 3, 3);
    private readonly ParamSet.Param _b = ps.Add(prefix + ".bias", ParamKind.Bias, cout);

    /// <summary>The upsampled convolution without its bias (see <see cref="ConvLayer.ForwardWithoutBias"/>).</summary>
    public Tensor ForwardWithoutBias(IBackend be, Tensor x)
    {
        using var phases = be.Conv2d(x, _w.Value, null, padding: 1);
        return be.ShufflePhases2x(phases);
    }

    /// <summary>The bias [Cout] a consumer adds.</summary>
    public Tensor Bias => _b.Value;
}
