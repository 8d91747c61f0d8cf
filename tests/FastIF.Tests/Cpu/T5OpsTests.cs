using FastIF.Backends;
using FastIF.Backends.Cpu;
using FastIF.Tensors;

namespace FastIF.Tests.Cpu;

/// <summary>The ops T5 added to the backend interface, on the CPU reference, against naive double-precision loops.</summary>
public class T5OpsTests
{
    private static readonly CpuBackend Be = CpuBackend.Instance;

    private static float[] Random(int n, int seed, float scale = 1f)
    {
        var r = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => (float)(r.NextDouble() * 2 - 1) * scale).ToArray();
    }

    [Theory]
    [InlineData(3, 5, 48)]
    [InlineData(1, 1, 4096)]
    public void RmsNormMatchesTheDefinition(int b, int l, int d)
    {
        var x = Random(b * l * d, 1, 3f);
        var g = Random(d, 2);
        using var xt = Be.FromHost(x, new Shape(b, l, d));
        using var gt = Be.FromHost(g, new Shape(d));
        using var y = Be.RmsNorm(xt, 1e-6f, gt);
        var want = new float[x.Length];
        for (int r = 0; r < b * l; r++)
        {
            double ms = 0;
            for (int i = 0; i < d; i++) ms += (double)x[r * d + i] * x[r * d + i];
            double rstd = 1 / Math.Sqrt(ms / d + 1e-6);
            for (int i = 0; i < d; i++) want[r * d + i] = (float)(x[r * d + i] * rstd * g[i]);
        }
        Numerics.AssertClose("rmsnorm", want, y.ToArray(), 1e-6);
    }

    [Fact]
    public void MultiplyAndTanhGelu()
    {
        var a = Random(1000, 3, 5f);
        var b = Random(1000, 4);
        using var at = Be.FromHost(a, new Shape(10, 100));
        using var bt = Be.FromHost(b, new Shape(10, 100));
        using var m = Be.Multiply(at, bt);
        Numerics.AssertClose("multiply", a.Zip(b, (p, q) => p * q).ToArray(), m.ToArray(), 1e-7);
        using var g = Be.Activate(at, Activation.GeluTanh);
        var want = a.Select(v => (float)(0.5 * v * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (v + 0.044715 * v * v * v))))).ToArray();
        Numerics.AssertClose("gelu_new", want, g.ToArray(), 1e-7);
        // The tanh form differs from the erf form by ~1e-3: the test would notice the wrong one.
        using var erf = Be.Activate(at, Activation.Gelu);
        Assert.True(Numerics.MaxAbs(want, erf.ToArray()) > 1e-4);
        Assert.Throws<ShapeException>(() => Be.Multiply(at, Be.FromHost(new float[100], new Shape(100))));
        // The gated form: the gate's activation on the way, in one op.
        using var gated = Be.Multiply(at, bt, Activation.GeluTanh);
        Numerics.AssertClose("gelu_new(a) * b", want.Zip(b, (p, q) => p * q).ToArray(), gated.ToArray(), 1e-7);
        using var gatedErf = Be.Multiply(at, bt, Activation.Gelu);
        var wantErf = erf.ToArray().Zip(b, (p, q) => p * q).ToArray();
        Numerics.AssertClose("gelu(a) * b", wantErf, gatedErf.ToArray(), 1e-7);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void AttentionAddsTheScoreBiasBeforeTheSoftmax(bool perBatch)
    {
        int n = 2, nq = 5, nk = 7, heads = 3, d = 4, c = heads * d;
        var q = Random(n * nq * c, 5);
        var k = Random(n * nk * c, 6);
        var v = Random(n * nk * c, 7);
        int bb = perBatch ? n : 1;
        var bias = Random(bb * heads * nq * nk, 8, 2f);
        // Mask the last two keys of batch item 1 (or of everyone, when shared) as T5 does.
        for (int x = 0; x < bb; x++)
            for (int h = 0; h < heads; h++)
                for (int i = 0; i < nq; i++)
                    for (int j = nk - 2; j < nk; j++)
                        if (!perBatch || x == 1) bias[((x * heads + h) * nq + i) * nk + j] = float.MinValue;
        using var qt = Be.FromHost(q, new Shape(n, nq, c));
        using var kt = Be.FromHost(k, new Shape(n, nk, c));
        using var vt = Be.FromHost(v, new Shape(n, nk, c));
        using var bt = Be.FromHost(bias, new Shape(bias.Length));
        using var y = Be.Attention(qt, kt, vt, heads, 1f, scoreBias: bt);
        var want = new float[n * nq * c];
        for (int b = 0; b < n; b++)
            for (int h = 0; h < heads; h++)
                for (int i = 0; i < nq; i++)
                {
                    var s = new double[nk];
                    for (int j = 0; j < nk; j++)
                    {
                        for (int t = 0; t < d; t++) s[j] += (double)q[(b * nq + i) * c + h * d + t] * k[(b * nk + j) * c + h * d + t];
                        s[j] += bias[(((perBatch ? b : 0) * heads + h) * nq + i) * nk + j];
                    }
                    double max = s.Max(), z = s.Sum(e => Math.Exp(e - max));
                    for (int t = 0; t < d; t++)
                        want[(b * nq + i) * c + h * d + t] = (float)Enumerable.Range(0, nk).Sum(j => Math.Exp(s[j] - max) / z * v[(b * nk + j) * c + h * d + t]);
                }
        Numerics.AssertClose("biased attention", want, y.ToArray(), 1e-6);
        using var wrong = Be.FromHost(new float[7], new Shape(7));
        Assert.Throws<ShapeException>(() => Be.Attention(qt, kt, vt, heads, 1f, scoreBias: wrong));
    }
}
