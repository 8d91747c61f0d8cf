using FastIF.Sampling;

namespace FastIF.Tests.Diffusion;

/// <summary>NoiseMath (the reproducible Box–Muller arithmetic) against the runtime's double log/sin/cos.</summary>
public class NoiseMathTests
{
    [Fact]
    public void LogAndSinCosAgreeWithTheLibraryToDoublePrecision()
    {
        var r = new Random(5);
        uint[] edges = [0, 1, 2, 0x3FFFFFFF, 0x40000000, 0x7FFFFFFF, 0x80000000, 0xBFFFFFFF, 0xC0000000, 0xFFFFFFFE, 0xFFFFFFFF];
        foreach (var u in edges.Concat(Enumerable.Range(0, 100_000).Select(_ => (uint)r.NextInt64(0, 1L << 32))))
        {
            double wantLog = Math.Log((u + 1.0) / 4294967296.0);
            Assert.True(Math.Abs(NoiseMath.LogUniform(u) - wantLog) <= 4e-16 * Math.Max(1, Math.Abs(wantLog)), $"log at {u}");
            var (s, c) = NoiseMath.SinCosTurn(u);
            var (ws, wc) = Math.SinCos(2 * Math.PI * (u / 4294967296.0));
            Assert.True(Math.Abs(s - ws) < 2e-15 && Math.Abs(c - wc) < 2e-15, $"sincos at {u}: ({s}, {c}) vs ({ws}, {wc})");
        }
        Assert.Equal(0.0, NoiseMath.LogUniform(uint.MaxValue));
    }

    [Fact]
    public void BoxMullerPairsMatchTheTextbookFormulaInFloat()
    {
        var r = new Random(6);
        int differ = 0;
        for (int i = 0; i < 100_000; i++)
        {
            uint a = (uint)r.NextInt64(0, 1L << 32), b = (uint)r.NextInt64(0, 1L << 32);
            var (x, y) = NoiseMath.BoxMuller(a, b);
            double rad = Math.Sqrt(-2 * Math.Log((a + 1.0) / 4294967296.0));
            var (s, c) = Math.SinCos(2 * Math.PI * (b / 4294967296.0));
            // The outputs are fp32: the two computations may round a value to neighbouring floats, never further apart.
            Assert.True(Math.Abs(x - rad * c) <= 1.5 * Math.ScaleB(1, Math.ILogB(Math.Max(Math.Abs(rad * c), 1e-30)) - 23), $"{a}, {b}");
            Assert.True(Math.Abs(y - rad * s) <= 1.5 * Math.ScaleB(1, Math.ILogB(Math.Max(Math.Abs(rad * s), 1e-30)) - 23), $"{a}, {b}");
            if (x != (float)(rad * c)) differ++;
        }
        Assert.True(differ < 100, $"{differ} of 100000 first values round differently from the library formula");
    }
}
