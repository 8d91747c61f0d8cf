using FastIF.Backends;
using FastIF.Backends.Cuda;
using FastIF.Models.UNet;
using FastIF.Runtime;
using FastIF.Tensors;

namespace FastIF.Benchmarking;

/// <summary>A device's measured peaks: a large GEMM in the backend's precision and a large device-to-device copy.</summary>
/// <param name="GemmTflops">TFLOP/s of an 8192³ GEMM through the backend's own Linear (cuBLASLt).</param>
/// <param name="CopyGBps">GB/s of a 1 GiB device copy, counting the bytes read and written.</param>
public sealed record GpuPeaks(double GemmTflops, double CopyGBps);

/// <summary>What a GPU UNet benchmark measured: the guided UNet call, timed with CUDA events.</summary>
/// <param name="EagerMs">Per-call times of op-by-op (un-graphed) forwards.</param>
/// <param name="GraphMs">Per-call times of graph replays, or null when the graph was not run.</param>
/// <param name="GflopPerForward">FLOPs of one call counted from the executed graph, in GFLOP.</param>
/// <param name="WeightBytes">Bytes of weights one call reads (every parameter once, in the storage type).</param>
/// <param name="PeakActivationBytes">Most activation memory in use at once during an eager call.</param>
/// <param name="GraphReservedBytes">Device memory the captured graph holds for its scratch and I/O.</param>
public sealed record GpuUNetResult(double[] EagerMs, double[]? GraphMs, double GflopPerForward, long WeightBytes,
    long PeakActivationBytes, long GraphReservedBytes)
{
    /// <summary>The median of a list of times.</summary>
    public static double Median(double[] ms)
    {
        var s = ms.Order().ToArray();
        return s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
    }

    /// <summary>The roofline floor of one call: the larger of FLOPs at the GEMM peak and weight bytes at the copy bandwidth.</summary>
    public double FloorMs(GpuPeaks p) => Math.Max(GflopPerForward / p.GemmTflops, WeightBytes / (p.CopyGBps * 1e6));
}

/// <summary>
/// Times UNet forwards on the CUDA backend with events on its stream: eager calls, then (optionally) the same call captured
/// once as a CUDA graph and replayed. The FLOP count comes from a <see cref="FlopCounter"/> the UNet was loaded through.
/// </summary>
public static class CudaUNetBench
{
    /// <summary>Measures <paramref name="be"/>'s GEMM and copy peaks.</summary>
    public static GpuPeaks MeasurePeaks(CudaBackend be, int reps = 10)
    {
        const int n = 8192;
        var ones = new float[n * n];
        using var a = be.FromHost(ones, new Shape(n, n));
        using var w = be.FromHost(ones, new Shape(n, n));
        double gemmMs = Time(be, reps, () => be.Linear(a, w, null).Dispose());
        long bytes = 1L << 30;
        var shape = new Shape((int)(bytes / be.Precision.Size()));
        using var src = be.New(shape);
        using var dst = be.New(shape);
        be.Zero(src);
        double copyMs = Time(be, reps, () => be.CopyInto(src, dst));
        return new GpuPeaks(2.0 * n * n * n / (gemmMs * 1e9), 2.0 * bytes / (copyMs * 1e6));
    }

    /// <summary>Median milliseconds of <paramref name="reps"/> runs of <paramref name="work"/> after one warm-up.</summary>
    private static double Time(CudaBackend be, int reps, Action work)
    {
        work();
        return GpuUNetResult.Median(TimeEach(be, reps, work));
    }

    private static double[] TimeEach(CudaBackend be, int reps, Action work)
    {
        using var start = be.Context.CreateEvent();
        using var end = be.Context.CreateEvent();
        var ms = new double[reps];
        for (int i = 0; i < reps; i++)
        {
            start.Record(be.Stream);
            work();
            end.Record(be.Stream);
            end.Synchronize();
            ms[i] = end.ElapsedSince(start);
        }
        return ms;
    }

    /// <summary>
    /// Runs <paramref name="warmup"/> untimed and <paramref name="reps"/> timed eager forwards of batch
    /// <paramref name="unetBatch"/> at <paramref name="size"/>², then, with <paramref name="graph"/>, captures the call and
    /// times <paramref name="reps"/> replays.
    /// </summary>
    public static GpuUNetResult Run(UNet2DCondition unet, CudaBackend be, FlopCounter counter, int unetBatch, int size, int reps,
        int warmup, bool graph, ulong seed, int textTokens = 77, CancellationToken cancel = default)
    {
        if (reps < 1) throw new FastIFException($"bench needs at least 1 timed step, got {reps}");
        var c = unet.Config;
        var noise = new Sampling.PhiloxNoise(seed);
        float[] Draw(int n) { var v = new float[n]; noise.Next(v); return v; }
        var shapes = new List<Shape>
        {
            new(unetBatch, c.InChannels, size, size),
            new(unetBatch),
            new(unetBatch, textTokens, c.EncoderHidDim),
        };
        if (c.ClassEmbedTimestep) shapes.Add(new Shape(unetBatch));
        var inputs = new List<Tensor>
        {
            be.FromHost(Draw(unetBatch * c.InChannels * size * size), shapes[0]),
            be.FromHost(Enumerable.Repeat(999f, unetBatch).ToArray(), shapes[1]),
            be.FromHost(Draw(unetBatch * textTokens * c.EncoderHidDim), shapes[2]),
        };
        if (c.ClassEmbedTimestep) inputs.Add(be.FromHost(Enumerable.Repeat(250f, unetBatch).ToArray(), shapes[3]));
        Tensor Forward(IReadOnlyList<Tensor> x) => unet.Forward(x[0], x[1], x[2], x.Count > 3 ? x[3] : null);
        try
        {
            for (int i = 0; i < warmup; i++)
            {
                cancel.ThrowIfCancellationRequested();
                Forward(inputs).Dispose();
            }
            be.Synchronize();
            counter.Reset();
            be.ActivationPool.ResetPeak();
            long baseline = be.ActivationPool.InUseBytes;
            var eager = TimeEach(be, reps, () => { cancel.ThrowIfCancellationRequested(); Forward(inputs).Dispose(); });
            double gflop = counter.Total / 1e9 / reps;
            long peak = be.ActivationPool.PeakInUseBytes - baseline;
            long weightBytes = unet.LoadedWeightElements * be.Precision.Size();
            double[]? replays = null;
            long graphBytes = 0;
            if (graph)
            {
                using var runner = new CudaGraphRunner(be, Forward, [.. shapes]);
                for (int i = 0; i < inputs.Count; i++) be.CopyInto(inputs[i], runner.Inputs[i]);
                replays = TimeEach(be, reps, runner.Replay);
                graphBytes = runner.ReservedBytes;
            }
            return new GpuUNetResult(eager, replays, gflop, weightBytes, peak, graphBytes);
        }
        finally
        {
            foreach (var t in inputs) t.Dispose();
        }
    }

    /// <summary>
    /// Times whole fused sampling steps (the guided UNet call of <paramref name="images"/> × <paramref name="views"/> components,
    /// CFG, views, the DDPM update with dynamic thresholding and noise) as the sampler runs them: the first step eagerly, the
    /// second captured, the rest replayed as one CUDA graph each, timed with events. Returns the times of the
    /// <paramref name="reps"/> replays after <paramref name="warmup"/> untimed ones.
    /// </summary>
    public static double[] FusedSteps(UNet2DCondition unet, CudaBackend be, int images, int views, int size, int reps, int warmup,
        ulong seed, bool graph = true, int textTokens = 77, CancellationToken cancel = default)
    {
        if (reps < 1) throw new FastIFException($"bench needs at least 1 timed step, got {reps}");
        int skip = 2 + warmup;
        var req = GuidedRequest.Build(unet, images, views, size, skip + reps, seed, textTokens);
        using var clock = new CudaOpClock(be);
        Sampling.Sampler.Run(req with { Fused = true, Graph = graph, StepClock = clock }, cancel);
        return clock.Resolve()[skip..];
    }
}
