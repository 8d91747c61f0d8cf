using FastIF.Backends;
using FastIF.Backends.Cpu;
using FastIF.Models.UNet;
using FastIF.Tensors;

namespace FastIF.Tests.Cpu;

/// <summary>
/// The ops that read a channel concatenation in place (GroupNormConcat, Conv1x1Concat) against the composition they
/// replace, on fresh random inputs. The CPU versions sum in the very order of the composed ops, so they must agree
/// exactly (equal values, no NaN), not just within a tolerance.
/// </summary>
public class ConcatOpsTests
{
    private static readonly CpuBackend Be = CpuBackend.Instance;

    private static Tensor Rand(Random r, Shape s, float scale = 1f) => CpuRandom.Tensor(r, s, scale);

    private static void AssertSameValues(string what, Tensor expected, Tensor actual)
    {
        Assert.Equal(expected.Shape, actual.Shape);
        float[] e = expected.ToArray(), a = actual.ToArray();
        for (int i = 0; i < e.Length; i++)
        {
            Assert.False(float.IsNaN(a[i]), $"{what}: NaN at {i}");
            Assert.True(e[i] == a[i], $"{what}: element {i} is {a[i]:R}, the composition gives {e[i]:R}");
        }
    }

    // (batch, Ca, Cb, H, W, groups): a group straddling the boundary (8 | 4 in groups of 3), IF-I-XL's up3.0
    // (1408 + 704 in 32 groups of 66: the boundary inside group 21), Ca and Cb not multiples of the group size, a
    // boundary on a group edge, and one group over both sides.
    [Theory]
    [InlineData(2, 8, 4, 3, 5, 4)]
    [InlineData(2, 1408, 704, 2, 3, 32)]
    [InlineData(2, 5, 7, 4, 4, 3)]
    [InlineData(1, 6, 6, 2, 2, 4)]
    [InlineData(3, 3, 5, 3, 3, 1)]
    public void GroupNormConcatIsTheNormOfTheConcatenation(int n, int ca, int cb, int h, int w, int groups)
    {
        var r = new Random(n * 7919 + ca * 31 + cb);
        using var a = Rand(r, new Shape(n, ca, h, w), 3f);
        using var b = Rand(r, new Shape(n, cb, h, w), 0.5f);
        using var gamma = Rand(r, new Shape(ca + cb));
        using var beta = Rand(r, new Shape(ca + cb));
        using var cat = Be.ConcatChannels(a, b);
        foreach (var act in new[] { Activation.None, Activation.Gelu })
        {
            using var want = Be.GroupNorm(cat, groups, 1e-5f, gamma, beta, null, act);
            using var got = Be.GroupNormConcat(a, b, groups, 1e-5f, gamma, beta, act);
            AssertSameValues($"groupnorm concat {a.Shape} ++ {b.Shape} / {groups} {act}", want, got);
        }
    }

    // (batch, Ca, Cb, H, W, Cout): tiny, a depth past the GEMM's 256-deep slices with the split inside one (300 + 200),
    // a size that takes the threaded GEMM path, and IF-I-XL's up3.0 shortcut (2112 → 704) on a small image.
    [Theory]
    [InlineData(2, 5, 7, 3, 4, 9)]
    [InlineData(1, 300, 200, 4, 5, 20)]
    [InlineData(2, 130, 70, 8, 8, 64)]
    [InlineData(2, 1408, 704, 2, 3, 704)]
    public void Conv1x1ConcatIsTheConvolutionOfTheConcatenation(int n, int ca, int cb, int h, int w, int cout)
    {
        var r = new Random(n * 7919 + ca * 31 + cb + cout);
        using var a = Rand(r, new Shape(n, ca, h, w), 2f);
        using var b = Rand(r, new Shape(n, cb, h, w));
        using var weight = Rand(r, new Shape(cout, ca + cb, 1, 1), 0.1f);
        using var bias = Rand(r, new Shape(cout));
        using var cat = Be.ConcatChannels(a, b);
        foreach (var withBias in new[] { true, false })
        {
            var bs = withBias ? bias : null;
            using var want = Be.Conv2d(cat, weight, bs, 0);
            using var got = Be.Conv1x1Concat(a, b, weight, bs);
            AssertSameValues($"conv 1x1 concat {a.Shape} ++ {b.Shape} -> {cout} bias={withBias}", want, got);
        }
    }

    [Theory]
    [InlineData(7, 33, 300, 0)]
    [InlineData(7, 33, 300, 300)]
    [InlineData(13, 20, 517, 259)]
    [InlineData(100, 200, 40, 17)]
    public void StackedGemmEqualsTheGemmOfTheStack(int m, int nCols, int k, int split)
    {
        var r = new Random(m + nCols + k + split);
        var a = Enumerable.Range(0, m * k).Select(_ => (float)r.NextDouble() - 0.5f).ToArray();
        var stack = Enumerable.Range(0, k * nCols).Select(_ => (float)r.NextDouble() - 0.5f).ToArray();
        var want = new float[m * nCols];
        var got = new float[m * nCols];
        Array.Fill(got, float.NaN); // the stacked GEMM overwrites, it does not accumulate
        CpuGemm.Gemm(m, nCols, k, a, k, false, stack, nCols, false, want, nCols, false);
        CpuGemm.GemmStackedB(m, nCols, k, a, k, stack.AsSpan(0, split * nCols), stack.AsSpan(split * nCols), split, nCols, got, nCols);
        Assert.Equal(want, got);
    }

    [Fact]
    public void MismatchedOperandsAreShapeErrors()
    {
        using var a = Be.FromHost(new float[2 * 4 * 3 * 3], new Shape(2, 4, 3, 3));
        using var affine = Be.FromHost(new float[6], new Shape(6));
        using var w = Be.FromHost(new float[5 * 6], new Shape(5, 6, 1, 1));
        foreach (var other in new[] { new Shape(1, 2, 3, 3), new Shape(2, 2, 4, 3), new Shape(2, 2, 3, 2) })
        {
            using var b = Be.FromHost(new float[other.Elements], other);
            var e = Assert.Throws<ShapeException>(() => Be.GroupNormConcat(a, b, 2, 1e-5f, affine, affine));
            Assert.Contains("differ outside the channel axis", e.Message);
            e = Assert.Throws<ShapeException>(() => Be.Conv1x1Concat(a, b, w, null));
            Assert.Contains("differ outside the channel axis", e.Message);
        }
        using var b2 = Be.FromHost(new float[2 * 2 * 3 * 3], new Shape(2, 2, 3, 3));
        var groups = Assert.Throws<ShapeException>(() => Be.GroupNormConcat(a, b2, 4, 1e-5f, affine, affine));
        Assert.Contains("6 channels do not split into 4 groups", groups.Message);
        using var small = Be.FromHost(new float[4], new Shape(4));
        Assert.Throws<ShapeException>(() => Be.GroupNormConcat(a, b2, 2, 1e-5f, small, small));
        using var w3 = Be.FromHost(new float[5 * 6 * 9], new Shape(5, 6, 3, 3));
        Assert.Throws<ShapeException>(() => Be.Conv1x1Concat(a, b2, w3, null));
        using var w7 = Be.FromHost(new float[5 * 7], new Shape(5, 7, 1, 1));
        Assert.Throws<ShapeException>(() => Be.Conv1x1Concat(a, b2, w7, null));
        Assert.Throws<ShapeException>(() => Be.Conv1x1Concat(a, b2, w, affine)); // bias of 6 for 5 outputs
        using var tokens = Be.FromHost(new float[2 * 9 * 2], new Shape(2, 9, 2));
        Assert.Throws<ShapeException>(() => Be.GroupNormConcat(a, tokens, 2, 1e-5f, affine, affine));
    }

    [Fact]
    public void CountersSeeTheComposedWorkWithoutTheConcat()
    {
        var r = new Random(5);
        using var a = Rand(r, new Shape(2, 6, 4, 4));
        using var b = Rand(r, new Shape(2, 3, 4, 4));
        using var g = Rand(r, new Shape(9));
        using var w = Rand(r, new Shape(5, 9, 1, 1));
        var composed = new FlopCounter(Be);
        using (var cat = composed.ConcatChannels(a, b))
        {
            composed.GroupNorm(cat, 3, 1e-5f, g, g, null, Activation.Gelu).Dispose();
            composed.Conv2d(cat, w, null, 0).Dispose();
        }
        var fused = new FlopCounter(Be);
        fused.GroupNormConcat(a, b, 3, 1e-5f, g, g, Activation.Gelu).Dispose();
        fused.Conv1x1Concat(a, b, w, null).Dispose();
        Assert.Equal(composed.ByOp.OrderBy(kv => kv.Key), fused.ByOp.OrderBy(kv => kv.Key));
    }

    [Fact]
    public void AResnetWithoutAShortcutRefusesAConcatenatedInput()
    {
        // Only the 1×1 shortcut and norm1 read the concatenation in place; a block without a shortcut would need it whole.
        using var ps = new ParamSet();
        var block = new ResnetBlock(ps, "r", UNetPresets.Get("tiny"), 8, 8, 1f);
        using var x = Be.FromHost(new float[4 * 2 * 2], new Shape(1, 4, 2, 2));
        using var temb = Be.FromHost(new float[8], new Shape(1, 8));
        var e = Assert.Throws<InvalidOperationException>(() => block.Forward(Be, x, temb, concat: x));
        Assert.Contains("shortcut", e.Message);
    }
}
