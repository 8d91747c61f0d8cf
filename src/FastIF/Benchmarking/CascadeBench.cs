using System.Diagnostics;
using FastIF.Backends;
using FastIF.Backends.Cuda;
using FastIF.Diffusion;
using FastIF.Models.T5;
using FastIF.Models.UNet;
using FastIF.Pipelines;
using FastIF.Runtime;
using FastIF.Tensors;

namespace FastIF.Benchmarking;

/// <summary>The parts of a benchmarked cascade.</summary>
/// <param name="TextEncoder">A T5 <c>text_encoder</c> folder.</param>
/// <param name="StageOne">A stage-I IF snapshot.</param>
/// <param name="StageTwo">A stage-II IF snapshot.</param>
/// <param name="Variant">The UNets' weights variant (fp16...), or null.</param>
public sealed record CascadeParts(string TextEncoder, string StageOne, string StageTwo, string? Variant);

/// <summary>What one end-to-end cascade benchmark measured.</summary>
/// <param name="Ms">Wall time of every timed cascade (T5 load and encode, stage I load and sampling, stage II likewise).</param>
/// <param name="Gflop">FLOPs of one cascade counted from the executed graphs, in GFLOP.</param>
/// <param name="WeightBytesRead">Weight bytes one cascade reads: T5 once, each UNet once per step.</param>
/// <param name="StageMs">The last timed run's parts: ("text", ms), ("stage I", ms), ("stage II", ms).</param>
/// <param name="Reports">The last timed run's stage reports.</param>
/// <param name="PeakAnonymousBytes">Largest anonymous resident memory seen.</param>
/// <param name="StageOneSize">Stage I's side.</param>
/// <param name="StageTwoSize">Stage II's side.</param>
public sealed record CascadeBenchResult(double[] Ms, double Gflop, long WeightBytesRead, IReadOnlyList<(string Name, double Ms)> StageMs,
    IReadOnlyList<StageReport> Reports, long PeakAnonymousBytes, int StageOneSize, int StageTwoSize);

/// <summary>
/// Times IF end to end: T5 encodes a prompt and its negative (<see cref="T5Bench.Batch"/>), then <see cref="Cascade.Run"/>
/// samples stage I and stage II with <c>stageSteps</c> leading timesteps each, one model resident at a time, every load
/// included. The first run (a warm-up when there is one) goes through a <see cref="FlopCounter"/> for the FLOP count;
/// timed runs use the backend directly.
/// </summary>
public static class CascadeBench
{
    /// <summary>Checks the parts fit together, then runs <paramref name="warmup"/> untimed and <paramref name="reps"/> timed cascades.</summary>
    public static CascadeBenchResult Run(IBackend backend, CascadeParts parts, int stageSteps, int reps, int warmup, ulong seed,
        Action<string>? log = null, CancellationToken cancel = default)
    {
        if (reps < 1) throw new FastIFException($"bench needs at least 1 timed cascade, got {reps}");
        if (stageSteps < 1) throw new FastIFException($"--stage-steps must be at least 1, got {stageSteps}");
        var t5 = T5Config.Load(Path.Combine(parts.TextEncoder, "config.json"));
        var c1 = UNetConfig.Load(Path.Combine(parts.StageOne, "unet", "config.json"));
        var c2 = UNetConfig.Load(Path.Combine(parts.StageTwo, "unet", "config.json"));
        if (t5.DModel != c1.EncoderHidDim || t5.DModel != c2.EncoderHidDim)
            throw new FastIFException($"the cascade's parts do not fit: T5 makes {t5.DModel}-wide text, stage I takes {c1.EncoderHidDim}, " +
                $"stage II {c2.EncoderHidDim}");
        int s1 = c1.SampleSize, s2 = c2.SampleSize;
        var timesteps = TimestepLists.Leading(stageSteps);
        long peakAnon = ProcessMemory.AnonymousBytes();
        double gflop = 0;
        var ms = new double[reps];
        IReadOnlyList<(string, double)> stageMs = [];
        IReadOnlyList<StageReport> reports = [];
        for (int r = -warmup; r < reps; r++)
        {
            cancel.ThrowIfCancellationRequested();
            bool count = r == -warmup;
            var counter = count ? new FlopCounter(backend) : null;
            IBackend be = counter ?? backend;
            var sw = Stopwatch.StartNew();
            TextConditioning text;
            using (var enc = T5Encoder.Load(parts.TextEncoder, be))
            {
                var (ids, mask) = T5Bench.Batch(t5.VocabSize, seed);
                using var y = enc.Encode(ids, mask, 2, T5Bench.Length, cancel: cancel);
                var all = y.ToArray();
                int n = T5Bench.Length * t5.DModel;
                text = new TextConditioning(all[n..], all[..n]);
            }
            double textMs = sw.Elapsed.TotalMilliseconds;
            peakAnon = Math.Max(peakAnon, ProcessMemory.AnonymousBytes());
            var (_, _, rep) = Cascade.Run(be, text, new CascadeStage(parts.StageOne, timesteps, 7f, s1, parts.Variant),
                new CascadeStage(parts.StageTwo, timesteps, 4f, s2, parts.Variant), 1, seed, cancel: cancel);
            double total = sw.Elapsed.TotalMilliseconds;
            peakAnon = Math.Max(peakAnon, rep.Max(x => x.PeakHostAnonBytes));
            if (count) gflop = counter!.Total / 1e9;
            if (r < 0)
            {
                log?.Invoke($"  warm-up cascade: {total:F0} ms");
                continue;
            }
            ms[r] = total;
            stageMs = [("text", textMs), .. rep.Select(x => (x.Name, x.Seconds * 1000))];
            reports = rep;
            log?.Invoke($"  cascade {r + 1}: {total:F0} ms (text {textMs:F0} ms, " + string.Join(", ", rep.Select(x => $"{x.Name} {x.Seconds * 1000:F0} ms")) + ")");
        }
        int elem = backend is CudaBackend c ? c.Precision.Size() : 4;
        // Each stage's weights as loaded (its report's bytes), read once per step.
        long bytes = t5.Parameters * elem + reports.Sum(x => x.WeightBytes) * stageSteps;
        return new CascadeBenchResult(ms, gflop, bytes, stageMs, reports, peakAnon, s1, s2);
    }
}
