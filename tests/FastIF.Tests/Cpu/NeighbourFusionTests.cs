using FastIF.Backends;
using FastIF.Backends.Cpu;
using FastIF.Tensors;

namespace FastIF.Tests.Cpu;

/// <summary>
/// Work moved into a neighbouring op instead of a pass of its own, against the ops it replaces, on fresh random inputs
/// (the same fp32 operations run, so exactly equal): a ResNet's conv1 bias added by the norm2 that reads its output
/// (GroupNorm's input bias), an attention layer's input added by its output projection's GEMM (Linear's residual), a
/// downsampler's pooled norm1 (GroupNormPool2x) and an upsampler's conv2 reading its skip through nearest ×2.
/// </summary>
public class NeighbourFusionTests
{
    private static readonly CpuBackend Be = CpuBackend.Instance;

    private static Tensor Rand(Random r, params int[] dims) => CpuRandom.Tensor(r, dims);

    [Theory]
    [InlineData(1, 4, 8, 4, 5, 5)]
    [InlineData(2, 6, 12, 3, 4, 6)]
    public void NormOfTheUnbiasedConvWithItsBiasEqualsNormOfTheBiasedConv(int batch, int cin, int cout, int groups, int h, int w)
    {
        var r = new Random(cin * 31 + h);
        using var x = Rand(r, batch, cin, h, w);
        using var k = Rand(r, cout, cin, 3, 3);
        using var bias = Rand(r, cout);
        using var g = Rand(r, cout);
        using var b = Rand(r, cout);
        using var ss = Rand(r, batch, 2 * cout);
        using var biased = Be.Conv2d(x, k, bias, 1);
        using var expected = Be.GroupNorm(biased, groups, 1e-5f, g, b, ss, Activation.Gelu);
        using var plain = Be.Conv2d(x, k, null, 1);
        using var got = Be.GroupNorm(plain, groups, 1e-5f, g, b, ss, Activation.Gelu, inputBias: bias);
        Assert.Equal(expected.ToArray(), got.ToArray());
    }

    [Fact]
    public void AnInputBiasMustHaveOneValuePerChannel()
    {
        var r = new Random(5);
        using var x = Rand(r, 1, 4, 2, 2);
        using var g = Rand(r, 4);
        using var bad = Rand(r, 3);
        Assert.Throws<ShapeException>(() => Be.GroupNorm(x, 2, 1e-5f, g, g, inputBias: bad));
    }

    [Fact]
    public void LinearWithAResidualIsLinearThenAdd()
    {
        var r = new Random(6);
        using var x = Rand(r, 2, 5, 12);
        using var w = Rand(r, 9, 12);
        using var b = Rand(r, 9);
        using var res = Rand(r, 2, 5, 9);
        using var lin = Be.Linear(x, w, b);
        using var expected = Be.Add(lin, res);
        using var got = Be.Linear(x, w, b, residual: res);
        Assert.Equal(expected.ToArray(), got.ToArray());
        using var wrong = Rand(r, 2, 5, 8);
        Assert.Throws<ShapeException>(() => Be.Linear(x, w, b, residual: wrong));
        Assert.Throws<ShapeException>(() => Be.Linear(x, w, b, Activation.Gelu, res));
    }

    [Theory]
    [InlineData(1, 4, 3, 5, 2)]
    [InlineData(2, 8, 6, 4, 4)]
    [InlineData(2, 6, 1, 1, 3)]
    public void ConvReadsAnUpsampledResidualAsTheUpsampledTensor(int batch, int cin, int cout, int h, int w)
    {
        var r = new Random(batch * 100 + h * 10 + w);
        using var x = Rand(r, batch, cin, 2 * h, 2 * w);
        using var k = Rand(r, cout, cin, 3, 3);
        using var bias = Rand(r, cout);
        using var skip = Rand(r, batch, cout, h, w);
        using var up = Be.UpsampleNearest2x(skip);
        using var expected = Be.Conv2d(x, k, bias, 1, up, 0.7f);
        using var got = Be.Conv2d(x, k, bias, 1, skip, 0.7f, upsampledResidual: true);
        Assert.Equal(expected.Shape, got.Shape);
        Assert.Equal(expected.ToArray(), got.ToArray());
    }

    [Fact]
    public void AnUpsampledResidualMustBeHalfTheOutput()
    {
        var r = new Random(1);
        using var x = Rand(r, 1, 2, 4, 4);
        using var k = Rand(r, 3, 2, 3, 3);
        using var full = Rand(r, 1, 3, 4, 4);
        Assert.Throws<ShapeException>(() => Be.Conv2d(x, k, null, 1, full, 1f, upsampledResidual: true));
        Assert.Throws<ShapeException>(() => Be.Conv2d(x, k, null, 1, null, 1f, upsampledResidual: true));
        using var odd = Rand(r, 1, 2, 3, 3);
        using var half = Rand(r, 1, 3, 1, 1);
        Assert.Throws<ShapeException>(() => Be.Conv2d(odd, k, null, 1, half, 1f, upsampledResidual: true));
    }

    [Theory]
    [InlineData(2, 8, 4, 6, 4, true)]
    [InlineData(1, 12, 3, 2, 8, false)]
    public void PooledGroupNormIsGroupNormThenAveragePooling(int batch, int c, int groups, int h, int w, bool gelu)
    {
        var r = new Random(c * 7 + h);
        using var x = Rand(r, batch, c, h, w);
        using var g = Rand(r, c);
        using var b = Rand(r, c);
        var act = gelu ? Activation.Gelu : Activation.None;
        using var full = Be.GroupNorm(x, groups, 1e-5f, g, b, null, act);
        using var expected = Be.AvgPool2x2(full);
        using var got = Be.GroupNormPool2x(x, groups, 1e-5f, g, b, act);
        Assert.Equal(expected.Shape, got.Shape);
        Assert.Equal(expected.ToArray(), got.ToArray());
    }

    [Fact]
    public void PooledGroupNormRefusesOddSizes()
    {
        var r = new Random(2);
        using var x = Rand(r, 1, 4, 3, 4);
        using var g = Rand(r, 4);
        Assert.Throws<ShapeException>(() => Be.GroupNormPool2x(x, 2, 1e-5f, g, g));
    }

    [Fact]
    public void TheCounterCountsThePooledNormAsTheTwoOpsItReplaces()
    {
        var r = new Random(3);
        using var x = Rand(r, 2, 8, 4, 4);
        using var g = Rand(r, 8);
        var fused = new FlopCounter(Be);
        var plain = new FlopCounter(Be);
        fused.GroupNormPool2x(x, 4, 1e-5f, g, g, Activation.Gelu).Dispose();
        using (var n = plain.GroupNorm(x, 4, 1e-5f, g, g, null, Activation.Gelu)) plain.AvgPool2x2(n).Dispose();
        Assert.Equal(plain.ByOp.OrderBy(kv => kv.Key), fused.ByOp.OrderBy(kv => kv.Key));
    }
}
