namespace FastIF.Benchmarking;

/// <summary>What one benchmark run measured.</summary>
/// <param name="StepMs">Wall time of every timed sampling step (UNet call, guidance, scheduler update), in order.</param>
/// <param name="GflopPerForward">FLOPs of one UNet call counted from the executed graph, in GFLOP.</param>
/// <param name="FlopsByOp">GFLOP per op kind of one call.</param>
/// <param name="Image">The sampled images <c>[B, 3, H, W]</c> in [−1, 1].</param>
public sealed record BenchResult(double[] StepMs, double GflopPerForward, IReadOnlyDictionary<string, double> FlopsByOp, float[] Image)
{
    /// <summary>Median step time.</summary>
    public double MedianMs => Percentile(0.5);
    /// <summary>Fastest step.</summary>
    public double MinMs => StepMs.Min();
    /// <summary>Slowest step.</summary>
    public double MaxMs => StepMs.Max();
    /// <summary>Achieved TFLOP/s at the median (one UNet call per step).</summary>
    public double AchievedTflops => GflopPerForward / MedianMs;

    private double Percentile(double q)
    {
        var s = StepMs.Order().ToArray();
        double pos = q * (s.Length - 1);
        int lo = (int)Math.Floor(pos), hi = (int)Math.Ceiling(pos);
        return s[lo] + (s[hi] - s[lo]) * (pos - lo);
    }
}
