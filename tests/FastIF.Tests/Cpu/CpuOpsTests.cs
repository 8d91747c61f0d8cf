using FastIF.Backends;
using FastIF.Backends.Cpu;
using FastIF.Tensors;

namespace FastIF.Tests.Cpu;

/// <summary>The CPU reference ops against independent, naive formulations on fresh random inputs.</summary>
public class CpuOpsTests
{
    private static readonly CpuBackend Be = CpuBackend.Instance;

    private static float[] Rand(Random r, int n, float scale = 1f) =>
        Enumerable.Range(0, n).Select(_ => (float)(r.NextDouble() * 2 - 1) * scale).ToArray();

    // Values from CPython's math.erf (the platform libm), the reference for the erf we need for exact GELU.
    [Theory]
    [InlineData(-3.5, -0.9999992569016276)]
    [InlineData(-2.0, -0.9953222650189527)]
    [InlineData(-0.5, -0.5204998778130465)]
    [InlineData(-0.001, -0.0011283787909692365)]
    [InlineData(0.0, 0.0)]
    [InlineData(0.3, 0.3286267594591274)]
    [InlineData(1.0, 0.8427007929497149)]
    [InlineData(1.5, 0.9661051464753108)]
    [InlineData(3.0, 0.9999779095030014)]
    [InlineData(4.5, 0.9999999998033839)]
    public void ErfMatchesLibm(double x, double expected) => Assert.Equal(expected, CpuMath.Erf(x), 1e-9);

    // 0.5·x·erfc(−x/√2) evaluated with CPython's math.erfc (erfc avoids the cancellation of 1 + erf for x ≪ 0).
    [Theory]
    [InlineData(-8f, -4.9767684594174555e-15)]
    [InlineData(-3f, -0.004049694094890287)]
    [InlineData(-1f, -0.15865525393145707)]
    [InlineData(-0.1f, -0.0460172162722971)]
    [InlineData(0.1f, 0.053982783727702904)]
    [InlineData(1f, 0.8413447460685429)]
    [InlineData(3f, 2.99595030590511)]
    public void GeluIsExactErfGelu(float x, double expected)
    {
        double got = CpuMath.Gelu(x);
        Assert.True(Math.Abs(got - expected) <= 2e-7 * Math.Max(1e-30, Math.Abs(expected)) + 1e-20,
            $"gelu({x}) = {got}, expected {expected}");
    }

    [Fact]
    public void GroupNormTokensNormalisesOverChannelsAndTokens()
    {
        var r = new Random(1);
        int b = 2, l = 5, c = 8, g = 4;
        var x = Rand(r, b * l * c, 3f);
        var gamma = Rand(r, c); var beta = Rand(r, c);
        using var y = Be.GroupNormTokens(Be.FromHost(x, new Shape(b, l, c)), g, 1e-5f, Be.FromHost(gamma, new Shape(c)), Be.FromHost(beta, new Shape(c)));
        var got = y.ToArray();
        var expected = new float[got.Length];
        int cpg = c / g;
        for (int bi = 0; bi < b; bi++)
            for (int gi = 0; gi < g; gi++)
            {
                var idx = from t in Enumerable.Range(0, l) from ch in Enumerable.Range(gi * cpg, cpg) select (bi * l + t) * c + ch;
                var vals = idx.Select(i => (double)x[i]).ToArray();
                double mean = vals.Average(), var = vals.Select(v => (v - mean) * (v - mean)).Average();
                foreach (var i in idx) expected[i] = (float)((x[i] - mean) / Math.Sqrt(var + 1e-5) * gamma[i % c] + beta[i % c]);
            }
        Numerics.AssertClose("GroupNormTokens", expected, got, 1e-6);
    }

    [Fact]
    public void GroupNormAppliesFiLMThenGelu()
    {
        var r = new Random(2);
        int b = 2, c = 6, h = 3, w = 5, g = 3;
        var x = Rand(r, b * c * h * w, 2f);
        var gamma = Rand(r, c); var beta = Rand(r, c); var ss = Rand(r, b * 2 * c);
        using var y = Be.GroupNorm(Be.FromHost(x, new Shape(b, c, h, w)), g, 1e-5f, Be.FromHost(gamma, new Shape(c)),
            Be.FromHost(beta, new Shape(c)), Be.FromHost(ss, new Shape(b, 2 * c)), Activation.Gelu);
        var expected = new float[x.Length];
        int cpg = c / g, hw = h * w;
        for (int bi = 0; bi < b; bi++)
            for (int gi = 0; gi < g; gi++)
            {
                var seg = x.Skip((bi * c + gi * cpg) * hw).Take(cpg * hw).Select(v => (double)v).ToArray();
                double mean = seg.Average(), var = seg.Select(v => (v - mean) * (v - mean)).Average();
                for (int ch = gi * cpg; ch < (gi + 1) * cpg; ch++)
                    for (int p = 0; p < hw; p++)
                    {
                        int i = (bi * c + ch) * hw + p;
                        double n = (x[i] - mean) / Math.Sqrt(var + 1e-5) * gamma[ch] + beta[ch];
                        n = n * (1 + ss[bi * 2 * c + ch]) + ss[bi * 2 * c + c + ch];
                        expected[i] = (float)(0.5 * n * (1 + CpuMath.Erf(n / Math.Sqrt(2))));
                    }
            }
        Numerics.AssertClose("GroupNorm+FiLM+GELU", expected, y.ToArray(), 1e-6);
    }

    [Fact]
    public void AttentionWithSecondKeySetEqualsAttentionOverConcatenatedKeys()
    {
        var r = new Random(3);
        int b = 2, nq = 7, n1 = 3, n2 = 5, c = 12, heads = 3;
        Tensor T(int n) => Be.FromHost(Rand(r, b * n * c), new Shape(b, n, c));
        using var q = T(nq); using var k1 = T(n1); using var v1 = T(n1); using var k2 = T(n2); using var v2 = T(n2);
        using var split = Be.Attention(q, k1, v1, heads, 0.5f, k2, v2);
        using var kc = Be.ConcatTokens(k1, k2);
        using var vc = Be.ConcatTokens(v1, v2);
        using var joined = Be.Attention(q, kc, vc, heads, 0.5f);
        Numerics.AssertClose("split vs concatenated keys", joined.ToArray(), split.ToArray(), 1e-6);

        // And against a naive per-head softmax written out here.
        var qa = q.ToArray(); var ka = kc.ToArray(); var va = vc.ToArray();
        int nk = n1 + n2, d = c / heads;
        var expected = new float[b * nq * c];
        for (int bi = 0; bi < b; bi++)
            for (int h = 0; h < heads; h++)
                for (int i = 0; i < nq; i++)
                {
                    var s = new double[nk];
                    for (int j = 0; j < nk; j++)
                        for (int e = 0; e < d; e++) s[j] += 0.5 * qa[(bi * nq + i) * c + h * d + e] * ka[(bi * nk + j) * c + h * d + e];
                    double max = s.Max(), sum = s.Sum(v => Math.Exp(v - max));
                    for (int e = 0; e < d; e++)
                        expected[(bi * nq + i) * c + h * d + e] = (float)Enumerable.Range(0, nk).Sum(j => Math.Exp(s[j] - max) / sum * va[(bi * nk + j) * c + h * d + e]);
                }
        Numerics.AssertClose("attention vs naive", expected, split.ToArray(), 1e-6);
    }

    [Fact]
    public void TokensRoundTripAndResidual()
    {
        var r = new Random(4);
        var x = Rand(r, 2 * 3 * 4 * 5);
        using var img = Be.FromHost(x, new Shape(2, 3, 4, 5));
        using var tok = Be.ToTokens(img);
        Assert.Equal(new Shape(2, 20, 3), tok.Shape);
        // token (b, p, c) is pixel (b, c, p)
        Assert.Equal(x[(1 * 3 + 2) * 20 + 7], tok.ToArray()[(1 * 20 + 7) * 3 + 2]);
        using var back = Be.FromTokens(tok, 4, 5, residual: img);
        Numerics.AssertClose("FromTokens(ToTokens(x)) + x", x.Select(v => 2 * v).ToArray(), back.ToArray(), 1e-7);
    }

    [Fact]
    public void ResamplingAndConcat()
    {
        var x = Enumerable.Range(0, 1 * 2 * 4 * 4).Select(i => (float)i).ToArray();
        using var t = Be.FromHost(x, new Shape(1, 2, 4, 4));
        using var pooled = Be.AvgPool2x2(t);
        Assert.Equal(new float[] { 2.5f, 4.5f, 10.5f, 12.5f, 18.5f, 20.5f, 26.5f, 28.5f }, pooled.ToArray());
        using var up = Be.UpsampleNearest2x(pooled);
        Assert.Equal(new Shape(1, 2, 4, 4), up.Shape);
        Assert.Equal(new float[] { 2.5f, 2.5f, 4.5f, 4.5f }, up.ToArray()[..4]);
        using var cat = Be.ConcatChannels(t, up);
        Assert.Equal(new Shape(1, 4, 4, 4), cat.Shape);
        Assert.Equal(x, cat.ToArray()[..32]);
    }

    [Fact]
    public void AddBroadcastsTrailingShapeAndRejectsMismatch()
    {
        using var a = Be.FromHost(new float[] { 1, 2, 3, 4, 5, 6 }, new Shape(2, 1, 3));
        using var b = Be.FromHost(new float[] { 10, 20, 30 }, new Shape(1, 3));
        using var y = Be.Add(a, b);
        Assert.Equal(new float[] { 11, 22, 33, 14, 25, 36 }, y.ToArray());
        using var bad = Be.FromHost(new float[] { 1, 2 }, new Shape(2));
        Assert.Throws<ShapeException>(() => Be.Add(a, bad));
    }

    [Fact]
    public void Conv2dShapeErrorsNameBothShapes()
    {
        using var x = Be.FromHost(new float[2 * 3 * 4 * 4], new Shape(2, 3, 4, 4));
        using var w = Be.FromHost(new float[5 * 4 * 3 * 3], new Shape(5, 4, 3, 3));
        var e = Assert.Throws<ShapeException>(() => Be.Conv2d(x, w, null, 1));
        Assert.Contains("[2, 3, 4, 4]", e.Message);
        Assert.Contains("[5, 4, 3, 3]", e.Message);
    }

    [Fact]
    public void SinusoidIsCosThenSinWithIFFrequencies()
    {
        using var t = Be.FromHost(new float[] { 0f, 500f }, new Shape(2));
        using var y = Be.Sinusoid(t, 8, flipSinToCos: true, freqShift: 0f);
        var v = y.ToArray();
        for (int k = 0; k < 4; k++)
        {
            double f = Math.Exp(-Math.Log(10000) * k / 4);
            Assert.Equal(1.0, v[k], 6);                 // cos(0)
            Assert.Equal(0.0, v[4 + k], 6);             // sin(0)
            Assert.Equal(Math.Cos(500 * f), v[8 + k], 3);
            Assert.Equal(Math.Sin(500 * f), v[12 + k], 3);
        }
    }
}
