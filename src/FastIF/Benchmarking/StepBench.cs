using System.Diagnostics;
using FastIF.Backends;
using FastIF.Diffusion;
using FastIF.Models.UNet;
using FastIF.Pipelines;
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
    // Size-preserving views, so any image side works; a count beyond the list repeats it (the UNet work is the same).
    private static readonly IView[] Cycle = [Views.Identity, Views.FlipVertical, Views.FlipHorizontal, Views.Rotate180, Views.Negate];

    /// <summary>Runs <paramref name="warmup"/> untimed UNet calls, then a timed <paramref name="steps"/>-step sampling run.</summary>
    public static BenchResult Run(UNet2DCondition unet, FlopCounter counter, DdpmScheduler scheduler, DdpmScheduler? imageNoising,
        int images, int views, int size, int steps, int warmup, ulong seed, int textTokens = 77, Action<int, double>? onStep = null,
        CancellationToken cancel = default)
    {
        if (steps < 1) throw new FastIFException($"bench needs at least 1 timed step, got {steps}");
        if (images < 1) throw new FastIFException($"bench needs at least 1 image, got {images}");
        if (views < 1) throw new FastIFException($"--views must be at least 1, got {views}");
        var be = unet.Backend ?? throw new InvalidOperationException("UNet has no weights loaded");
        var c = unet.Config;
        var noise = new PhiloxNoise(seed);
        float[] Draw(long n) { var v = new float[n]; noise.Next(v); return v; }
        var text = new TextConditioning(Draw((long)images * textTokens * c.EncoderHidDim), Draw((long)images * textTokens * c.EncoderHidDim));

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

        var timesteps = TimestepLists.Leading(steps);
        SamplerRequest req;
        if (c.InChannels == 6)
        {
            int low = Math.Max(size / 4, 1);
            req = IFPipelines.SuperResolution(unet, scheduler, imageNoising ?? scheduler, text, timesteps, 4f, images, size, size, noise,
                Draw((long)images * 3 * low * low), low, low);
        }
        else req = IFPipelines.TextToImage(unet, scheduler, text, timesteps, 7f, images, size, size, noise);
        if (views > 1)
            req = req with
            {
                Components = Enumerable.Range(0, views).Select(v => new Component(text.Prompt, Cycle[v % Cycle.Length])).ToList(),
                Combiner = Combiners.Mean,
            };

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
