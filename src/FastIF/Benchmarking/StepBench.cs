using System.Diagnostics;
using FastIF.Backends;
using FastIF.Diffusion;
using FastIF.Models.UNet;
using FastIF.Sampling;
using FastIF.Tensors;

namespace FastIF.Benchmarking;

/// <summary>
/// Times real sampling steps with <c>views</c> view components per step (IF's multi-view samplers: one UNet call of batch
/// 2·images·views per step, the estimates averaged): the stage's own scheduler over <c>steps</c> leading timesteps,
/// Philox noise and random prompt embeddings. Warm-up UNet calls at the same batch are not timed; the FLOP count comes
/// from the graph the first timed step executes. With one view this is plain guided sampling.
/// </summary>
public static class StepBench
{
    /// <summary>Runs <paramref name="warmup"/> untimed UNet calls, then a timed <paramref name="steps"/>-step sampling run.</summary>
    public static BenchResult Run(UNet2DCondition unet, FlopCounter counter, DdpmScheduler scheduler, DdpmScheduler? imageNoising,
        int images, int views, int size, int steps, int warmup, ulong seed, int textTokens = 77, Action<int, double>? onStep = null,
        CancellationToken cancel = default)
    {
        if (steps < 1) throw new FastIFException($"bench needs at least 1 timed step, got {steps}");
        var req = GuidedRequest.Build(unet, images, views, size, steps, seed, textTokens, scheduler, imageNoising);
        var be = unet.Backend ?? throw new InvalidOperationException("UNet has no weights loaded");
        var c = unet.Config;
        var rng = new PhiloxNoise(seed + 1);
        float[] Draw(long n) { var v = new float[n]; rng.Next(v); return v; }
        int batch = 2 * images * views;
        using (var x = be.FromHost(Draw((long)batch * c.InChannels * size * size), new Shape(batch, c.InChannels, size, size)))
        using (var ehs = be.FromHost(Draw((long)batch * textTokens * c.EncoderHidDim), new Shape(batch, textTokens, c.EncoderHidDim)))
        using (var ts = be.FromHost(Enumerable.Repeat(999f, batch).ToArray(), new Shape(batch)))
        using (var cls = c.ClassEmbedTimestep ? be.FromHost(Enumerable.Repeat(250f, batch).ToArray(), new Shape(batch)) : null)
            for (int i = 0; i < warmup; i++)
            {
                cancel.ThrowIfCancellationRequested();
                using var y = unet.Forward(x, ts, ehs, cls);
                y.ToArray();
            }

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
