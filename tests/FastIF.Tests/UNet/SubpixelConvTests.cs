using FastIF.Backends.Cpu;
using FastIF.Models.UNet;
using FastIF.Tensors;

namespace FastIF.Tests.UNet;

/// <summary>
/// The sub-pixel rewrite of "nearest ×2 upsample, then 3×3 conv" (upsampler ResNets' conv1) against that composition,
/// on fresh random inputs; the whole-UNet form is held to diffusers by <see cref="UNetGoldenTests"/>.
/// </summary>
public class SubpixelConvTests
{
    private static readonly CpuBackend Be = CpuBackend.Instance;

    private static float[] Rand(Random r, int n) => Enumerable.Range(0, n).Select(_ => (float)(r.NextDouble() * 2 - 1)).ToArray();

    [Theory]
    [InlineData(1, 3, 5, 1, 1)]
    [InlineData(2, 4, 3, 2, 3)]
    [InlineData(2, 8, 6, 5, 7)]
    [InlineData(1, 16, 16, 8, 4)]
    public void PhaseConvolutionThenShuffleEqualsUpsampleThenConv(int batch, int cin, int cout, int h, int w)
    {
        var r = new Random(h * 131 + w * 17 + cin);
        var x = Rand(r, batch * cin * h * w);
        var k = Rand(r, cout * cin * 9);
        using var xt = Be.FromHost(x, new Shape(batch, cin, h, w));
        using var kt = Be.FromHost(k, new Shape(cout, cin, 3, 3));
        using var up = Be.UpsampleNearest2x(xt);
        using var expected = Be.Conv2d(up, kt, null, 1);

        // The bias is not the rewrite's business: the ResNet's norm2 adds it as it reads (GroupNorm's input bias).
        using var pw = Be.FromHost(SubpixelConv.PhaseWeights(k, cout, cin), new Shape(4 * cout, cin, 2, 2));
        using var phases = Be.Conv2d(xt, pw, null, 1);
        using var got = Be.ShufflePhases2x(phases);

        Assert.Equal(expected.Shape, got.Shape);
        // Only the order of fp32 sums differs (taps on the same input row are added before the multiply).
        Numerics.AssertClose("sub-pixel conv", expected.ToArray(), got.ToArray(), relL2: 1e-6, maxAbs: 1e-5);
    }

    [Fact]
    public void ShuffleReadsEachPhasePlaneAtItsOffset()
    {
        const int n = 2, c = 3, h = 2, w = 3;
        var src = Enumerable.Range(0, n * 4 * c * (h + 1) * (w + 1)).Select(i => (float)i).ToArray();
        using var t = Be.FromHost(src, new Shape(n, 4 * c, h + 1, w + 1));
        using var y = Be.ShufflePhases2x(t);
        Assert.Equal(new Shape(n, c, 2 * h, 2 * w), y.Shape);
        var got = y.ToArray();
        for (int b = 0; b < n; b++)
            for (int ch = 0; ch < c; ch++)
                for (int oy = 0; oy < 2 * h; oy++)
                    for (int ox = 0; ox < 2 * w; ox++)
                    {
                        int a = oy % 2, e = ox % 2, p = 2 * a + e;
                        int i = oy / 2 + a, j = ox / 2 + e;
                        float want = src[((b * 4 * c + p * c + ch) * (h + 1) + i) * (w + 1) + j];
                        Assert.Equal(want, got[((b * c + ch) * 2 * h + oy) * 2 * w + ox]);
                    }
    }

    [Fact]
    public void EachTapFoldsIntoThePhaseKernelsThatReadItsRow()
    {
        // A kernel with one tap at (dy, dx) = (0, 2): upsampled row 2i+a−1 and column 2j+e+1. Phase a = 0 reads it
        // through phase-kernel row 0 (input row i−1), a = 1 through row 0 (input row i, as 2i is row i); column 2j+e+1 is
        // input column j (e = 0, kernel column 1) or j+1 (e = 1, kernel column 1).
        var k = new float[9];
        k[0 * 3 + 2] = 1f;
        var pw = SubpixelConv.PhaseWeights(k, 1, 1);
        for (int p = 0; p < 4; p++)
        {
            var taps = pw.AsSpan(p * 4, 4).ToArray();
            Assert.Equal(new float[] { 0, 1, 0, 0 }, taps);
        }
        // The centre tap reaches every phase, through the kernel position that reads input (i, j).
        k = new float[9];
        k[4] = 1f;
        pw = SubpixelConv.PhaseWeights(k, 1, 1);
        Assert.Equal(new float[] { 0, 0, 0, 1 }, pw.AsSpan(0, 4).ToArray());
        Assert.Equal(new float[] { 0, 0, 1, 0 }, pw.AsSpan(4, 4).ToArray());
        Assert.Equal(new float[] { 0, 1, 0, 0 }, pw.AsSpan(8, 4).ToArray());
        Assert.Equal(new float[] { 1, 0, 0, 0 }, pw.AsSpan(12, 4).ToArray());
        // Weights of one output channel sum to four times the kernel's sum (each phase sees every tap once).
        var r = new Random(3);
        k = Rand(r, 2 * 3 * 9);
        pw = SubpixelConv.PhaseWeights(k, 2, 3);
        Assert.Equal(4 * k.Sum(v => (double)v), pw.Sum(v => (double)v), 4);
    }

    [Theory]
    [InlineData(new[] { 1, 6, 3, 3 })]
    [InlineData(new[] { 1, 8, 1, 3 })]
    [InlineData(new[] { 8, 3, 3 })]
    public void ShuffleRefusesWhatIsNotFourPhasePlanes(int[] dims)
    {
        using var t = Be.FromHost(new float[new Shape(dims).Elements], new Shape(dims));
        Assert.Throws<ShapeException>(() => Be.ShufflePhases2x(t));
    }

    [Fact]
    public void PhaseWeightsRefuseAKernelOfTheWrongSize()
        => Assert.Throws<ShapeException>(() => SubpixelConv.PhaseWeights(new float[8], 1, 1));

    [Fact]
    public void TheCpuReferenceRunsDiffusersOrderAndTheOptionsCanBeChosen()
    {
        Assert.Equal(UNetOptions.AsDiffusers, UNetOptions.For(Be));
        Assert.Equal(UNetOptions.AsDiffusers, UNetOptions.For(new Backends.FlopCounter(Be)));
        Assert.True(UNetOptions.Fastest.SubpixelUpsample);
    }
}
