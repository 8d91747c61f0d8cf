using System.Diagnostics;
using FastIF.Backends;
using FastIF.Diffusion;
using FastIF.Models.UNet;
using FastIF.Pipelines;
using FastIF.Sampling;
using FastIF.Tensors;

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

/// <summary>
/// Times real sampling: the stage's own scheduler over <c>steps</c> leading timesteps with classifier-free guidance
/// (UNet batch 2·images), Philox noise and random prompt embeddings. Warm-up UNet calls are not timed; the FLOP count
/// comes from the graph the UNet executes.
/// </summary>
public static class SamplingBench
{
    /// <summary>Runs <paramref name="warmup"/> untimed UNet calls, then a timed <paramref name="steps"/>-step sampling run.</summary>
    public static BenchResult Run(UNet2DCondition unet, FlopCounter counter, DdpmScheduler scheduler, DdpmScheduler? imageNoising,
        int images, int size, int steps, int warmup, ulong seed, int textTokens = 77, Action<int, double>? onStep = null,
        CancellationToken cancel = default)
    {
        if (steps < 1) throw new FastIFException($"bench needs at least 1 timed step, got {steps}");
        if (images < 1) throw new FastIFException($"bench needs at least 1 image, got {images}");
        var be = unet.Backend ?? throw new InvalidOperationException("UNet has no weights loaded");
        var c = unet.Config;
        var noise = new PhiloxNoise(seed);
        float[] Draw(int n) { var v = new float[n]; noise.Next(v); return v; }
        var text = new TextConditioning(Draw(images * textTokens * c.EncoderHidDim), Draw(images * textTokens * c.EncoderHidDim));

        // Warm-up at the sampler's batch and shape (JIT, page faults of freshly mapped weights).
        int batch = 2 * images;
        using (var x = be.FromHost(Draw(batch * c.InChannels * size * size), new Shape(batch, c.InChannels, size, size)))
        using (var ehs = be.FromHost(Draw(batch * textTokens * c.EncoderHidDim), new Shape(batch, textTokens, c.EncoderHidDim)))
        using (var ts = be.FromHost(Enumerable.Repeat(999f, batch).ToArray(), new Shape(batch)))
        using (var cls = c.ClassEmbedTimestep ? be.FromHost(Enumerable.Repeat(250f, batch).ToArray(), new Shape(batch)) : null)
            for (int i = 0; i < warmup; i++)
            {
                cancel.ThrowIfCancellationRequested();
                using var y = unet.Forward(x, ts, ehs, cls);
                y.ToArray();
            }

        var timesteps = TimestepLists.Leading(steps);
        SamplerRequest req;
        if (c.InChannels == 6)
        {
            int low = Math.Max(size / 4, 1);
            req = IFPipelines.SuperResolution(unet, scheduler, imageNoising ?? scheduler, text, timesteps, 4f, images, size, size, noise,
                Draw(images * 3 * low * low), low, low);
        }
        else req = IFPipelines.TextToImage(unet, scheduler, text, timesteps, 7f, images, size, size, noise);

        counter.Reset();
        var times = new double[steps];
        double gflop = 0;
        Dictionary<string, double> byOp = [];
        var sw = Stopwatch.StartNew();
        var image = Sampler.Run(req with
        {
            OnStep = s =>
            {
                times[s.Index] = sw.Elapsed.TotalMilliseconds;
                sw.Restart();
                if (s.Index == 0)
                {
                    gflop = counter.Total / 1e9;
                    byOp = counter.ByOp.ToDictionary(kv => kv.Key, kv => kv.Value / 1e9);
                }
                onStep?.Invoke(s.Index, times[s.Index]);
            },
        }, cancel);
        return new BenchResult(times, gflop, byOp, image);
    }
}
