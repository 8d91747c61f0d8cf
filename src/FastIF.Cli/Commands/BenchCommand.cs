using System.CommandLine;
using System.Diagnostics;
using System.Text.Json.Nodes;
using FastIF.Backends;
using FastIF.Backends.Cuda;
using FastIF.Benchmarking;
using FastIF.Diffusion;
using FastIF.Pipelines;
using FastIF.Imaging;
using FastIF.Models.T5;
using FastIF.Models.UNet;
using FastIF.Weights;
using Spectre.Console;

namespace FastIF.Cli.Commands;

/// <summary>
/// <c>fastif bench</c>: the main job. Makes (and caches) random weights of a preset, then times it on the best backend
/// present: guided sampling steps of a UNet preset, T5 encodes of a T5 preset, or the whole cascade; prints timings beside
/// the roofline floor from this device's measured peaks and writes one JSON format for all (<see cref="BenchReport"/>).
/// </summary>
internal static class BenchCommand
{
    private const string Cascade = "cascade";

    public static Command Create()
    {
        var all = UNetPresets.Names.Concat(T5Presets.Names).Append(Cascade);
        var preset = new Option<string?>("--preset") { Description = "preset: " + string.Join(", ", all) + " (default: if-i-xl on a GPU, tiny on the CPU)" };
        var weights = new Option<string?>("--weights") { Description = "a diffusers unet folder (or a T5 text_encoder folder for a T5 preset) instead of random weights" };
        var steps = new Option<int>("--steps") { Description = "timed repetitions: sampling steps (UNet presets), encodes (T5), whole cascades", DefaultValueFactory = _ => 5 };
        var warmup = new Option<int>("--warmup") { Description = "untimed warm-up repetitions first", DefaultValueFactory = _ => 1 };
        var images = new Option<int>("--batch") { Description = "images per step (the UNet batch is 2 x batch x views: guidance)", DefaultValueFactory = _ => 1 };
        var views = new Option<int>("--views") { Description = "view components per step (multi-view sampling): the UNet batch grows with them", DefaultValueFactory = _ => 1 };
        var size = new Option<int?>("--size") { Description = "image side in pixels (default: the preset's sample size)" };
        var dtype = new Option<string?>("--dtype") { Description = "stored dtype of random weights (default: fp16 for UNets, bf16 for T5)" };
        var seed = new Option<ulong>("--seed") { Description = "seed for weights and inputs", DefaultValueFactory = _ => 0 };
        var png = new Option<string>("--png") { Description = "PNG of the sampled image (UNet presets)", DefaultValueFactory = _ => "fastif-bench.png" };
        var json = new Option<string?>("--json") { Description = "also write the result as JSON (bench/README.md lists the keys)" };
        var peaks = new Option<bool>("--peaks") { Description = "only measure and print this device's peaks (GEMM, copy)" };
        var stageSteps = new Option<int>("--stage-steps") { Description = "cascade: sampling steps per stage", DefaultValueFactory = _ => 3 };
        var parts = new Option<string?>("--cascade-presets") { Description = "cascade: T5,stage I,stage II presets (default: t5-tiny,tiny,tiny-ii on the CPU, t5-xxl,if-i-xl,if-ii-l on a GPU)" };
        var backend = BackendOption.Create();
        var precision = BackendOption.CreatePrecision();
        var attention = BackendOption.CreateAttention();
        var upsample = BackendOption.CreateUpsample();
        var graph = new Option<string>("--graph") { Description = "cuda: time the UNet call eagerly (off), as a CUDA graph (on) or both", DefaultValueFactory = _ => "both" };
        var cmd = new Command("bench", "Benchmark a preset on random weights: UNet sampling steps, T5 encodes or the whole cascade (default: IF-I-XL on a GPU, tiny on the CPU).")
            { preset, weights, steps, warmup, images, views, size, dtype, seed, png, json, peaks, stageSteps, parts, backend, precision, attention, graph, upsample };
        cmd.SetAction((pr, ct) => Task.FromResult(CliErrors.Run(() =>
        {
            if (pr.GetValue(peaks))
            {
                using var probe = BackendOption.Resolve(pr.GetValue(backend)!, pr.GetValue(precision)!, pr.GetValue(attention)!, timing: true);
                var p = BenchEnvironment.PeaksNow(probe);
                Console.WriteLine($"{BenchEnvironment.DeviceName(probe)}: GEMM {p.GemmTflops * 1000:F1} GFLOP/s, copy {p.CopyGBps:F1} GB/s ({p.How})");
                return 0;
            }
            int n = pr.GetValue(images), v = pr.GetValue(views);
            if (n is < 1 or > 64) throw new FastIFException($"--batch {n} must be in [1, 64]");
            if (v is < 1 or > 16) throw new FastIFException($"--views {v} must be in [1, 16]");
            if (pr.GetValue(steps) < 1) throw new FastIFException($"--steps {pr.GetValue(steps)} must be at least 1");
            if (pr.GetValue(warmup) < 0) throw new FastIFException($"--warmup {pr.GetValue(warmup)} must not be negative");
            // T5 v1.1 overflows in fp16: a T5 or cascade run on the GPU defaults to bf16 storage.
            string precisionName = pr.GetValue(precision)!;
            string? requested = pr.GetValue(preset);
            bool textModel = requested == Cascade || (requested != null && T5Presets.Names.Contains(requested));
            if (textModel && pr.GetResult(precision) is null or { Implicit: true }) precisionName = "bf16";
            using var inner = BackendOption.Resolve(pr.GetValue(backend)!, precisionName, pr.GetValue(attention)!, timing: true);
            bool gpu = inner is CudaBackend;
            string presetName = requested ?? (gpu ? "if-i-xl" : "tiny");
            var run = new Run(pr.GetValue(steps), pr.GetValue(warmup), pr.GetValue(seed), pr.GetValue(json), BenchEnvironment.Command(pr.Tokens.Select(t => t.Value)), ct);
            if (T5Presets.Names.Contains(presetName))
            {
                var dt = WeightsCommand.ParseDType(pr.GetValue(dtype) ?? "bf16");
                string dir = pr.GetValue(weights) ?? BenchWeights.CachedT5(presetName, dt, run.Seed,
                    Progress.Bytes($"making random {presetName} weights", Tensors.DTypes.Size(dt)), ct);
                return RunT5(inner, presetName, dir, dt, run);
            }
            if (presetName == Cascade)
            {
                var names = (pr.GetValue(parts) ?? (gpu ? "t5-xxl,if-i-xl,if-ii-l" : "t5-tiny,tiny,tiny-ii")).Split(',', StringSplitOptions.TrimEntries);
                if (names.Length != 3) throw new FastIFException($"--cascade-presets takes three presets (T5,stage I,stage II), got \"{string.Join(',', names)}\"");
                var udt = WeightsCommand.ParseDType(pr.GetValue(dtype) ?? "fp16");
                var cascadeParts = new CascadeParts(
                    BenchWeights.CachedT5(names[0], Tensors.DType.BF16, run.Seed, Progress.Bytes($"making random {names[0]} weights", 2), ct),
                    BenchWeights.CachedSnapshot(names[1], udt, run.Seed, Progress.Bytes($"making random {names[1]} weights", Tensors.DTypes.Size(udt)), ct),
                    BenchWeights.CachedSnapshot(names[2], udt, run.Seed, Progress.Bytes($"making random {names[2]} weights", Tensors.DTypes.Size(udt)), ct),
                    RandomWeights.VariantOf(udt));
                return RunCascade(inner, string.Join(',', names), cascadeParts, pr.GetValue(stageSteps), udt, run);
            }
            var wdt = WeightsCommand.ParseDType(pr.GetValue(dtype) ?? "fp16");
            string unetDir = pr.GetValue(weights) ?? RandomWeights.Cached(UNetPresets.Get(presetName), presetName, wdt, run.Seed,
                Progress.Bytes($"making random {presetName} weights", Tensors.DTypes.Size(wdt)), ct);
            string? variant = pr.GetValue(weights) == null ? RandomWeights.VariantOf(wdt) : null;
            return RunUNet(inner, presetName, unetDir, variant, wdt, n, v, pr.GetValue(size), pr.GetValue(graph)!, pr.GetValue(png)!,
                BackendOption.ParseUpsample(pr.GetValue(upsample)!, inner), run);
        })));
        return cmd;
    }

    /// <summary>What every kind of run shares.</summary>
    private sealed record Run(int Steps, int Warmup, ulong Seed, string? Json, string Command, CancellationToken Cancel);

    private static int RunUNet(IBackend inner, string presetName, string dir, string? variant, Tensors.DType dt, int n, int views,
        int? size, string graph, string png, UNetOptions options, Run run)
    {
        var counter = new FlopCounter(inner);
        var load = Stopwatch.StartNew();
        using var unet = UNet2DCondition.Load(dir, counter, variant, options);
        (inner as CudaBackend)?.Synchronize(); // uploads are asynchronous: the load ends when the last byte is on the device
        double loadMs = load.Elapsed.TotalMilliseconds;
        int side = size ?? unet.Config.SampleSize;
        long parameters = unet.Parameters.Sum(p => p.Shape.Elements);
        AnsiConsole.MarkupLine($"[bold]{Markup.Escape(presetName)}[/] on [bold]{inner.Name}[/]: {parameters / 1e6:F1} M parameters loaded in {loadMs:F0} ms; " +
            $"UNet batch {2 * n * views} (guidance{(views > 1 ? $", {views} views" : "")}) at {side}x{side}, {BackendOption.UpsampleName(options)} upsampling");
        var common = Common(inner, presetName, dt, run.Command) with
        {
            Batch = n, Views = views, UNetBatch = 2 * n * views, Size = side, Upsample = BackendOption.UpsampleName(options), LoadMs = loadMs, LoadBytes = BenchEnvironment.FileBytes(dir),
        };
        if (inner is CudaBackend cuda)
            return GpuBench.Run(unet, cuda, counter, common, run.Steps, run.Warmup, graph, run.Seed, run.Json, run.Cancel);

        var stageTwo = unet.Config.InChannels == 6;
        var scheduler = new DdpmScheduler(SchedulerConfig.Parse(IFStage.SchedulerJson(stageTwo), "IF scheduler"));
        var noising = stageTwo ? new DdpmScheduler(SchedulerConfig.Parse(IFStage.ImageNoisingSchedulerJson, "IF image-noising scheduler")) : null;
        var r = StepBench.Run(unet, counter, scheduler, noising, n, views, side, run.Steps, run.Warmup, run.Seed,
            onStep: (i, ms) => Console.Error.WriteLine($"  step {i + 1}: {ms:F1} ms"), cancel: run.Cancel);
        var report = common with
        {
            Step = "one sampling step: a classifier-free-guided UNet call (batch 2 x batch x views), guidance, the scheduler update; monotonic clock",
            MsPerStep = TimingStats.Of(r.StepMs), GflopPerForward = r.GflopPerForward, WeightBytes = unet.LoadedWeightElements * 4,
            Peaks = BenchEnvironment.CpuPeaksNow(), PeakMemory = BenchEnvironment.PeakMemory(-1),
            Extra = new Dictionary<string, JsonNode?> { ["gflop_by_op"] = new JsonObject(r.FlopsByOp.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value))) },
        };
        Print(r, n);
        PrintFloor(report);
        ImageFiles.SaveGrid(png, [r.Image], n, side, side);
        Console.WriteLine($"wrote {png} (the sampled image{(n > 1 ? "s" : "")}: random weights make abstract pictures)");
        Save(report, run.Json);
        return 0;
    }

    private static int RunT5(IBackend inner, string presetName, string dir, Tensors.DType dt, Run run)
    {
        var r = T5Bench.Run(dir, inner, run.Steps, run.Warmup, run.Seed, (i, ms) => Console.Error.WriteLine($"  encode {i + 1}: {ms:F1} ms"), run.Cancel);
        AnsiConsole.MarkupLine($"[bold]{Markup.Escape(presetName)}[/] on [bold]{inner.Name}[/]: {r.Config.Parameters / 1e9:F3} B parameters, " +
            $"{r.StoredBytes / 1e9:F2} GB stored, {(r.Streaming ? "streamed one block at a time" : "resident")}, opened in {r.LoadMs:F0} ms");
        var report = Common(inner, presetName, dt, run.Command) with
        {
            Batch = 1, Step = "one T5 encode of a prompt and its negative (batch 2 x 77 tokens) to the embeddings on the host; monotonic clock",
            MsPerStep = TimingStats.Of(r.Ms), GflopPerForward = r.GflopPerEncode, WeightBytes = r.WeightBytes,
            Peaks = BenchEnvironment.PeaksNow(inner), LoadMs = r.LoadMs, LoadBytes = r.Streaming ? null : r.StoredBytes,
            PeakMemory = BenchEnvironment.PeakMemory(r.PeakAnonymousBytes, inner is CudaBackend c ? r.WeightBytes + c.ActivationPool.PeakInUseBytes : null),
            Extra = new Dictionary<string, JsonNode?> { ["streamed"] = r.Streaming, ["parameters"] = r.Config.Parameters, ["stored_bytes"] = r.StoredBytes },
        };
        PrintTimes("encode", report);
        PrintFloor(report);
        Save(report, run.Json);
        return 0;
    }

    private static int RunCascade(IBackend inner, string names, CascadeParts parts, int stageSteps, Tensors.DType dt, Run run)
    {
        AnsiConsole.MarkupLine($"[bold]cascade[/] ({Markup.Escape(names)}) on [bold]{inner.Name}[/]: {stageSteps} steps per stage, every load included");
        if (inner is CudaBackend cu) cu.ActivationPool.ResetPeak();
        var r = CascadeBench.Run(inner, parts, stageSteps, run.Steps, run.Warmup, run.Seed, Console.Error.WriteLine, run.Cancel);
        long? device = r.Reports.Max(x => x.PeakDeviceBytes);
        var report = Common(inner, Cascade, dt, run.Command) with
        {
            Batch = 1, Size = r.StageTwoSize,
            Step = $"one end-to-end cascade: T5 load and encode, stage I load and {stageSteps} guided steps at {r.StageOneSize}px, " +
                $"stage II load and {stageSteps} guided steps at {r.StageTwoSize}px; monotonic clock",
            MsPerStep = TimingStats.Of(r.Ms), GflopPerForward = r.Gflop, WeightBytes = r.WeightBytesRead,
            Peaks = BenchEnvironment.PeaksNow(inner), PeakMemory = BenchEnvironment.PeakMemory(r.PeakAnonymousBytes, device),
            Extra = new Dictionary<string, JsonNode?>
            {
                ["cascade_presets"] = names, ["stage_steps"] = stageSteps,
                ["stages_ms"] = new JsonObject(r.StageMs.Select(s => KeyValuePair.Create(s.Name, (JsonNode?)s.Ms))),
            },
        };
        PrintTimes("cascade", report);
        Console.WriteLine("last run: " + string.Join(", ", r.StageMs.Select(s => $"{s.Name} {s.Ms:F0} ms")));
        PrintFloor(report);
        Save(report, run.Json);
        return 0;
    }

    /// <summary>The fields every run fills the same way; the runs complete the rest.</summary>
    private static BenchReport Common(IBackend be, string preset, Tensors.DType weightsDtype, string command) => new()
    {
        Device = BenchEnvironment.DeviceName(be), Backend = be.Name, Preset = preset, Precision = BenchEnvironment.Precision(be),
        WeightsDtype = weightsDtype.ToString().ToLowerInvariant(), Batch = 1, Step = "", MsPerStep = TimingStats.Of([double.NaN]),
        GflopPerForward = 0, Machine = BenchEnvironment.Machine(be), Commit = BenchEnvironment.Commit(), Command = command,
    };

    internal static void Save(BenchReport report, string? path)
    {
        if (path == null) return;
        report.Save(path);
        Console.WriteLine($"wrote {path}");
    }

    internal static void PrintFloor(BenchReport r)
    {
        if (r.FloorMsPerStep is not { } floor || r.Peaks is not { } p) return;
        AnsiConsole.MarkupLine($"{r.GflopPerForward:F2} GFLOP per {(r.Preset == Cascade ? "cascade" : "unit")}, {r.AchievedTflops * 1000:F1} GFLOP/s achieved" +
            (r.AchievedGBps is { } gbps ? $", weights read at {gbps:F1} GB/s" : "") +
            $"; roofline floor {floor:F1} ms at the measured {p.GemmTflops * 1000:F1} GFLOP/s and {p.CopyGBps:F1} GB/s: {r.RatioToFloor:F2}x the floor");
        if (r.LoadMs is { } lm && r.LoadGBps is { } lg) AnsiConsole.MarkupLine($"load {lm:F0} ms ({lg:F2} GB/s from the files)");
        if (r.PeakMemory.Count > 0)
            AnsiConsole.MarkupLine("peak memory: " + string.Join(", ", r.PeakMemory.Select(kv => $"{kv.Key} {Runtime.ProcessMemory.Gib(kv.Value)}")));
    }

    private static void PrintTimes(string unit, BenchReport r)
    {
        var t = new Table().AddColumns(unit, "ms", "GFLOP/s");
        for (int i = 0; i < r.MsPerStep.All.Count; i++)
            t.AddRow($"{i + 1}", $"{r.MsPerStep.All[i]:F1}", $"{r.GflopPerForward / r.MsPerStep.All[i] * 1000:F1}");
        t.AddRow("[bold]median[/]", $"[bold]{r.MsPerStep.Median:F1}[/]", $"[bold]{r.AchievedTflops * 1000:F1}[/]");
        AnsiConsole.Write(t);
        AnsiConsole.MarkupLine($"min {r.MsPerStep.Min:F1} ms, max {r.MsPerStep.Max:F1} ms (spread {r.MsPerStep.Spread:P1})");
    }

    private static void Print(BenchResult r, int images)
    {
        var t = new Table().AddColumns("step", "ms", "it/s", "GFLOP/s");
        for (int i = 0; i < r.StepMs.Length; i++)
            t.AddRow($"{i + 1}", $"{r.StepMs[i]:F1}", $"{1000 / r.StepMs[i]:F2}", $"{r.GflopPerForward / r.StepMs[i] * 1000:F1}");
        t.AddRow("[bold]median[/]", $"[bold]{r.MedianMs:F1}[/]", $"[bold]{1000 / r.MedianMs:F2}[/]", $"[bold]{r.GflopPerForward / r.MedianMs * 1000:F1}[/]");
        AnsiConsole.Write(t);
        var ops = string.Join(", ", r.FlopsByOp.OrderByDescending(kv => kv.Value).Select(kv => $"{kv.Key} {kv.Value:F2}"));
        AnsiConsole.MarkupLine($"{r.GflopPerForward:F2} GFLOP per UNet call ({Markup.Escape(ops)}); min {r.MinMs:F1} ms, max {r.MaxMs:F1} ms, " +
            $"{images} image(s) per step");
    }

    internal static string CpuName() => BenchEnvironment.CpuName();
}
