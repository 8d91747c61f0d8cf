using System.Diagnostics;
using FastIF.Backends;
using FastIF.Models.UNet;
using FastIF.Tensors;

namespace FastIF.Benchmarking;

/// <summary>What one benchmark run measured.</summary>
/// <param name="StepMs">Wall time of every timed step, in order.</param>
/// <param name="GflopPerForward">FLOPs of one UNet call counted from the executed graph, in GFLOP.</param>
/// <param name="FlopsByOp">GFLOP per op kind of one call.</param>
/// <param name="LastOutput">The last step's UNet output <c>[B, 6, H, W]</c> (host copy).</param>
/// <param name="OutputShape">Its shape.</param>
public sealed record UNetBenchResult(double[] StepMs, double GflopPerForward, IReadOnlyDictionary<string, double> FlopsByOp,
    float[] LastOutput, Shape OutputShape)
{
    /// <summary>Median step time.</summary>
    public double MedianMs => Percentile(0.5);
    /// <summary>Fastest step.</summary>
    public double MinMs => StepMs.Min();
    /// <summary>Slowest step.</summary>
    public double MaxMs => StepMs.Max();
    /// <summary>Achieved TFLOP/s at the median.</summary>
    public double AchievedTflops => GflopPerForward / MedianMs;

    private double Percentile(double q)
    {
        var s = StepMs.Order().ToArray();
        double pos = q * (s.Length - 1);
        int lo = (int)Math.Floor(pos), hi = (int)Math.Ceiling(pos);
        return s[lo] + (s[hi] - s[lo]) * (pos - lo);
    }
}

/// <summary>
/// Times UNet calls the way a sampling loop makes them: a batch of <c>2·images</c> (classifier-free guidance), a new
/// timestep each step, fixed text states. Warm-up calls are not timed; the FLOP count comes from the first call.
/// </summary>
public static class UNetBench
{
    /// <summary>Runs <paramref name="warmup"/> untimed and <paramref name="steps"/> timed UNet calls.</summary>
    public static UNetBenchResult Run(UNet2DCondition unet, FlopCounter counter, int images, int height, int width,
        int steps, int warmup, ulong seed, int textTokens = 77, Action<int, double>? onStep = null, CancellationToken cancel = default)
    {
        if (steps < 1) throw new FastIFException($"bench needs at least 1 timed step, got {steps}");
        if (images < 1) throw new FastIFException($"bench needs at least 1 image, got {images}");
        var be = unet.Backend ?? throw new InvalidOperationException("UNet has no weights loaded");
        var c = unet.Config;
        int batch = 2 * images;
        var rng = new Random((int)(seed & 0x7FFFFFFF));
        using var sample = be.FromHost(Gaussian(rng, batch * c.InChannels * height * width), new Shape(batch, c.InChannels, height, width));
        using var ehs = be.FromHost(Gaussian(rng, batch * textTokens * c.EncoderHidDim), new Shape(batch, textTokens, c.EncoderHidDim));
        using var cls = c.ClassEmbedTimestep ? be.FromHost(Enumerable.Repeat(250f, batch).ToArray(), new Shape(batch)) : null;

        counter.Reset();
        var times = new double[steps];
        float[] last = [];
        Shape lastShape = default;
        double gflop = 0;
        Dictionary<string, double> byOp = [];
        for (int i = -warmup; i < steps; i++)
        {
            cancel.ThrowIfCancellationRequested();
            // Leading spacing over the step count, as the sampler will walk it.
            int step = Math.Max(0, i);
            float t = (steps - 1 - step) * (1000 / Math.Max(steps, 1));
            using var ts = be.FromHost(Enumerable.Repeat(t, batch).ToArray(), new Shape(batch));
            var sw = Stopwatch.StartNew();
            using var y = unet.Forward(sample, ts, ehs, cls);
            sw.Stop();
            if (i == steps - 1) { last = y.ToArray(); lastShape = y.Shape; }
            if (gflop == 0)
            {
                gflop = counter.Total / 1e9;
                byOp = counter.ByOp.ToDictionary(kv => kv.Key, kv => kv.Value / 1e9);
            }
            if (i >= 0)
            {
                times[i] = sw.Elapsed.TotalMilliseconds;
                onStep?.Invoke(i, times[i]);
            }
        }
        return new UNetBenchResult(times, gflop, byOp, last, lastShape);
    }

    private static float[] Gaussian(Random rng, int n)
    {
        var v = new float[n];
        for (int i = 0; i < n; i++)
            v[i] = (float)(Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble()));
        return v;
    }
}
