using FastIF.Backends;
using FastIF.Backends.Cpu;
using FastIF.Tensors;

namespace FastIF.Tests.Cpu;

/// <summary>
/// Work moved into a neighbour instead of a pass of its own, against the ops it replaces (the same fp32 values, so exactly
/// equal): a ResNet's conv1 bias added by the norm2 that reads its output (GroupNorm's input bias), and an attention
/// layer's input added by its output projection's GEMM (Linear's residual).
/// </summary>
public class EpilogueFusionTests
{
    private static readonly CpuBackend Be = CpuBackend.Instance;

    private static Tensor Rand(Random r, params int[] dims)
    {
        var s = new Shape(dims);
        return Be.FromHost(Enumerable.Range(0, (int)s.Elements).Select(_ => (float)(r.NextDouble() * 2 - 1)).ToArray(), s);
    }

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
}
