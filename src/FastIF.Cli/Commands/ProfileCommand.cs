using System.CommandLine;
using System.Diagnostics;
using FastIF.Backends;
using FastIF.Backends.Cuda;
using FastIF.Benchmarking;
using FastIF.Sampling;
using FastIF.Models.UNet;
using FastIF.Tensors;
using FastIF.Weights;
using Spectre.Console;

namespace FastIF.Cli.Commands;

/// <summary>
/// <c>fastif profile</c>: one un-graphed guided UNet call with a clock around every op (CUDA events on the GPU), as
/// tables by op kind and by hottest op signature, FLOPs and bytes beside each; <c>--compare A.json B.json</c> diffs two.
/// </summary>
internal static class ProfileCommand
{
    public static Command Create()
    {
        var preset = new Option<string>("--preset") { Description = "model preset: " + string.Join(", ", UNetPresets.Names), DefaultValueFactory = _ => "tiny" };
        var weights = new Option<string?>("--weights") { Description = "a diffusers unet folder to use instead of random weights" };
        var images = new Option<int>("--batch") { Description = "images (the UNet batch is twice this: guidance)", DefaultValueFactory = _ => 1 };
        var size = new Option<int?>("--size") { Description = "image side (default: the preset's sample size)" };
        var warmup = new Option<int>("--warmup") { Description = "untimed calls first", DefaultValueFactory = _ => 1 };
        var top = new Option<int>("--top") { Description = "rows of the hottest-ops table", DefaultValueFactory = _ => 15 };
        var json = new Option<string?>("--json") { Description = "write the profile as JSON (for --compare)" };
        var compare = new Option<string[]?>("--compare") { Description = "compare two profile JSON files (A B) instead of profiling", AllowMultipleArgumentsPerToken = true };
        var backend = BackendOption.Create();
        var precision = BackendOption.CreatePrecision();
        var attention = BackendOption.CreateAttention();
        var upsample = BackendOption.CreateUpsample();
        var cmd = new Command("profile", "Time every op of one guided UNet call (per kind and per op, with FLOPs and bytes).")
            { preset, weights, images, size, warmup, top, json, compare, backend, precision, attention, upsample };
        cmd.SetAction((pr, ct) => Task.FromResult(CliErrors.Run(() =>
        {
            if (pr.GetValue(compare) is { Length: > 0 } files)
            {
                if (files.Length != 2) throw new FastIFException($"--compare takes two profile files, got {files.Length}");
                Console.Write(ProfileReport.Compare(ProfileReport.Load(files[0]), ProfileReport.Load(files[1])));
                return 0;
            }
            string presetName = pr.GetValue(preset)!;
            int n = pr.GetValue(images);
            if (n is < 1 or > 64) throw new FastIFException($"--batch {n} must be in [1, 64]");
            using var inner = BackendOption.Resolve(pr.GetValue(backend)!, pr.GetValue(precision)!, pr.GetValue(attention)!, timing: true);
            var cuda = inner as CudaBackend;
            using IOpClock clock = cuda != null ? new CudaOpClock(cuda) : new HostOpClock();
            var profiler = new OpProfiler(inner, clock);
            string dir = pr.GetValue(weights) ?? RandomWeights.Cached(UNetPresets.Get(presetName), presetName, DType.F16, 0,
                Progress.Bytes($"making random {presetName} weights", 2), ct);
            using var unet = UNet2DCondition.Load(dir, profiler, pr.GetValue(weights) == null ? "fp16" : null,
                BackendOption.ParseUpsample(pr.GetValue(upsample)!, inner));
            var c = unet.Config;
            int side = pr.GetValue(size) ?? c.SampleSize, b = 2 * n, warm = pr.GetValue(warmup);
            // One whole sampling step as the sampler runs it (un-graphed): the UNet's ops through the profiler and the fused
            // step kernels timed beside them. Warm-up steps first (algorithm search, kernel compilation, pool growth).
            var req = GuidedRequest.Build(unet, n, 1, side, warm + 2, seed: 1);
            using var run = FusedRun.Start(req, k => new ProfiledStepKernels(k, profiler));
            for (int i = 0; i < warm; i++)
            {
                ct.ThrowIfCancellationRequested();
                run.Step();
            }
            cuda?.Synchronize();
            profiler.Collect();
            var sw = Stopwatch.StartNew();
            run.Step();
            var calls = profiler.Collect(); // waits for the device
            var report = new ProfileReport
            {
                Device = cuda?.Context.Name ?? BenchEnvironment.CpuName(), Backend = inner.Name, Preset = pr.GetValue(weights) ?? presetName,
                Precision = cuda?.Precision.ToString().ToLowerInvariant() ?? "fp32", UNetBatch = b, Size = side,
                WallMs = sw.Elapsed.TotalMilliseconds, Calls = calls, Commit = Environment.GetEnvironmentVariable("FASTIF_COMMIT"),
            };
            Print(report, pr.GetValue(top));
            Console.WriteLine($"nvtx: {FastIF.Native.Nvtx.Status}");
            if (pr.GetValue(json) is { } path)
            {
                report.Save(path);
                Console.WriteLine($"wrote {path}");
            }
            return 0;
        })));
        return cmd;
    }

    private static void Print(ProfileReport r, int top)
    {
        Console.WriteLine($"{r.Preset} on {r.Device} ({r.Backend}, {r.Precision}), UNet batch {r.UNetBatch} at {r.Size}x{r.Size}: " +
            $"{r.Calls.Count} ops, {r.OpMs:F2} ms in ops, {r.WallMs:F2} ms wall (one un-graphed sampling step: the guided UNet call and the fused step kernels)");
        var kinds = new Table().AddColumns("op", "calls", "ms", "share", "GFLOP", "TFLOP/s", "GB", "GB/s");
        foreach (var k in r.ByKind())
            kinds.AddRow(k.Op, $"{k.Calls}", $"{k.Ms:F3}", $"{k.Share:P1}", $"{k.Gflop:F2}", $"{k.Tflops:F2}", $"{k.GBytes:F3}", $"{k.GBps:F1}");
        AnsiConsole.Write(kinds);
        var hot = new Table().AddColumns("op", "shapes", "calls", "ms", "GFLOP", "GB");
        foreach (var h in r.Hottest(top))
            hot.AddRow(h.Op, Markup.Escape(h.Shapes), $"{h.Calls}", $"{h.Ms:F3}", $"{h.Gflop:F2}", $"{h.GBytes:F3}");
        AnsiConsole.Write(hot);
    }
}
