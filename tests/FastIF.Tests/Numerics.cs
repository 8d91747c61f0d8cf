namespace FastIF.Tests;

/// <summary>Tolerance checks shared by golden and parity tests: relative L2 and max-abs, NaN always fails.</summary>
public static class Numerics
{
    /// <summary>‖a − e‖₂ / ‖e‖₂ (computed in double); NaN when either side holds a NaN.</summary>
    public static double RelativeL2(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual)
    {
        double num = 0, den = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            double d = (double)actual[i] - expected[i];
            num += d * d;
            den += (double)expected[i] * expected[i];
        }
        return Math.Sqrt(num) / Math.Max(Math.Sqrt(den), 1e-30);
    }

    /// <summary>Largest |a − e|; NaN when any element is NaN.</summary>
    public static double MaxAbs(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual)
    {
        double m = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            double d = Math.Abs((double)actual[i] - expected[i]);
            if (double.IsNaN(d)) return double.NaN;
            m = Math.Max(m, d);
        }
        return m;
    }

    /// <summary>Fails with the name, both errors and the worst index when the tensors differ beyond tolerance.</summary>
    public static void AssertClose(string what, ReadOnlySpan<float> expected, ReadOnlySpan<float> actual,
        double relL2, double maxAbs = double.PositiveInfinity)
    {
        Assert.True(expected.Length == actual.Length, $"{what}: {actual.Length} values, expected {expected.Length}");
        for (int i = 0; i < actual.Length; i++)
            Assert.False(float.IsNaN(actual[i]) || float.IsInfinity(actual[i]), $"{what}: non-finite value {actual[i]} at {i}");
        double r = RelativeL2(expected, actual), m = MaxAbs(expected, actual);
        int worst = 0;
        for (int i = 1; i < actual.Length; i++)
            if (Math.Abs(actual[i] - expected[i]) > Math.Abs(actual[worst] - expected[worst])) worst = i;
        Assert.True(r <= relL2 && m <= maxAbs,
            $"{what}: relative L2 {r:E3} (limit {relL2:E1}), max abs {m:E3} (limit {maxAbs:E1}); " +
            $"worst at {worst}: got {actual[worst]}, expected {expected[worst]}");
    }

    /// <summary>Elementwise |a − e| ≤ abs + rel·|e| (NaN fails); the message names the worst element.</summary>
    public static void AssertWithin(string what, ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, double abs, double rel = 0)
    {
        Assert.True(expected.Length == actual.Length, $"{what}: {actual.Length} values, expected {expected.Length}");
        double worst = 0;
        int at = -1;
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.False(float.IsNaN(actual[i]) || float.IsInfinity(actual[i]), $"{what}[{i}] is {actual[i]}");
            double excess = Math.Abs(actual[i] - expected[i]) - (abs + rel * Math.Abs(expected[i]));
            if (excess > worst) { worst = excess; at = i; }
        }
        Assert.True(at < 0, at < 0 ? "" : $"{what}[{at}]: got {actual[at]}, expected {expected[at]} (tolerance {abs:E1} + {rel:E1}·|expected|)");
    }
}
