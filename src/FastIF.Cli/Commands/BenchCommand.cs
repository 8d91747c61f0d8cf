using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using FastIF.Backends;
using FastIF.Backends.Cuda;
using FastIF.Benchmarking;
using FastIF.Diffusion;
using FastIF.Pipelines;
using FastIF.Imaging;
using FastIF.Models.UNet;
using FastIF.Weights;
using Spectre.Console;

namespace FastIF.Cli.Commands;

/// <summary>
/// <c>fastif bench</c>: the main job. Makes (and caches) random weights of a preset, runs a short stage loop of
/// guided UNet calls on the best backend present, prints per-step timings and FLOP rates, writes a PNG.
/// </summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var preset = new Option<string?>("--preset") { Description = "model preset: " + string.Join(", ", UNetPresets.Names) + " (default: if-i-xl on a GPU, tiny on the CPU)" };
        var weights = new Option<string?>("--weights") { Description = "a diffusers unet folder to use instead of random weights" };
        var steps = new Option<int>("--steps") { Description = "timed steps", DefaultValueFactory = _ => 5 };
        var warmup = new Option<int>("--warmup") { Description = "untimed warm-up steps", DefaultValueFactory = _ => 1 };
        var images = new Option<int>("--batch") { Description = "images per step (the UNet batch is twice this: guidance)", DefaultValueFactory = _ => 1 };
        var size = new Option<int?>("--size") { Description = "image side in pixels (default: the preset's sample size)" };
        var dtype = new Option<string>("--dtype") { Description = "stored weight dtype of random weights", DefaultValueFactory = _ => "fp16" };
        var seed = new Option<ulong>("--seed") { Description = "seed for weights and inputs", DefaultValueFactory = _ => 0 };
        var png = new Option<string>("--png") { Description = "PNG of the sampled image", DefaultValueFactory = _ => "fastif-bench.png" };
        var json = new Option<string?>("--json") { Description = "also write the results as JSON" };
        var peaks = new Option<bool>("--peaks") { Description = "only measure and print this device's peaks (GEMM GFLOP/s, copy GB/s)" };
        var backend = BackendOption.Create();
        var precision = BackendOption.CreatePrecision();
        var graph = new Option<string>("--graph") { Description = "cuda: time the UNet call eagerly (off), as a CUDA graph (on) or both", DefaultValueFactory = _ => "both" };
        var cmd = new Command("bench", "Benchmark guided sampling steps on random weights of a preset (default: IF-I-XL on a GPU, tiny on the CPU).")
            { preset, weights, steps, warmup, images, size, dtype, seed, png, json, peaks, backend, precision, graph };
        cmd.SetAction((pr, ct) => Task.FromResult(CliErrors.Run(() =>
        {
            if (pr.GetValue(peaks))
            {
                if (pr.GetValue(backend) != "cpu")
                {
                    using var probe = BackendOption.Resolve(pr.GetValue(backend)!, pr.GetValue(precision)!);
                    if (probe is CudaBackend gpu)
                    {
                        var p = CudaUNetBench.MeasurePeaks(gpu);
                        Console.WriteLine($"{gpu.Context.Name}: GEMM {p.GemmTflops:F1} TFLOP/s ({gpu.Precision}, cuBLASLt, 8192^3), copy {p.CopyGBps:F0} GB/s (1 GiB device copy)");
                        return 0;
                    }
                }
                Console.WriteLine($"{CpuName()}: GEMM {CpuPeaks.GemmGflops():F1} GFLOP/s (fp32, FastIF's kernel, 1536^3), copy {CpuPeaks.CopyGBps():F1} GB/s");
                return 0;
            }
            using var inner = BackendOption.Resolve(pr.GetValue(backend)!, pr.GetValue(precision)!);
            string presetName = pr.GetValue(preset) ?? (inner is CudaBackend ? "if-i-xl" : "tiny");
            var dt = WeightsCommand.ParseDType(pr.GetValue(dtype)!);
            string dir = pr.GetValue(weights) ?? RandomWeights.Cached(UNetPresets.Get(presetName), presetName, dt, pr.GetValue(seed),
                Progress.Bytes($"making random {presetName} weights", Tensors.DTypes.Size(dt)), ct);
            string? variant = pr.GetValue(weights) == null ? RandomWeights.VariantOf(dt) : null;

            var counter = new FlopCounter(inner);
            var load = Stopwatch.StartNew();
            using var unet = UNet2DCondition.Load(dir, counter, variant);
            (inner as CudaBackend)?.Synchronize(); // uploads are asynchronous: the load ends when the last byte is on the device
            double loadMs = load.Elapsed.TotalMilliseconds;
            int side = pr.GetValue(size) ?? unet.Config.SampleSize;
            int n = pr.GetValue(images);
            AnsiConsole.MarkupLine($"[bold]{Markup.Escape(presetName)}[/] on [bold]{inner.Name}[/]: " +
                $"{unet.Parameters.Sum(p => p.Shape.Elements) / 1e6:F1} M parameters loaded in {loadMs:F0} ms; " +
                $"UNet batch {2 * n} (guidance) at {side}x{side}");

            if (inner is CudaBackend cuda)
                return GpuBench.Run(unet, cuda, counter, presetName, n, side, pr.GetValue(steps), pr.GetValue(warmup), pr.GetValue(graph)!,
                    pr.GetValue(seed), dt, loadMs, pr.GetValue(json), ct);

            var stageTwo = unet.Config.InChannels == 6;
            var scheduler = new DdpmScheduler(SchedulerConfig.Parse(IFStage.SchedulerJson(stageTwo), "IF scheduler"));
            var noising = stageTwo ? new DdpmScheduler(SchedulerConfig.Parse(IFStage.ImageNoisingSchedulerJson, "IF image-noising scheduler")) : null;
            var r = SamplingBench.Run(unet, counter, scheduler, noising, n, side, pr.GetValue(steps), pr.GetValue(warmup), pr.GetValue(seed),
                onStep: (i, ms) => Console.Error.WriteLine($"  step {i + 1}: {ms:F1} ms"), cancel: ct);
            // The roofline floor: the UNet's FLOPs at the measured GEMM peak (weights stay in cache-unfriendly RAM, but
            // a CPU UNet is compute-bound at these sizes).
            double peak = CpuPeaks.GemmGflops();
            double floorMs = r.GflopPerForward / peak * 1000;
            Print(r, n);
            AnsiConsole.MarkupLine($"roofline floor {floorMs:F1} ms/step at the measured {peak:F1} GFLOP/s GEMM peak: {r.MedianMs / floorMs:F2}x the floor");
            ImageFiles.SaveGrid(pr.GetValue(png)!, [r.Image], n, side, side);
            Console.WriteLine($"wrote {pr.GetValue(png)} (the sampled image{(n > 1 ? "s" : "")}: random weights make abstract pictures)");
            if (pr.GetValue(json) is { } jsonPath) WriteJson(jsonPath, r, presetName, inner.Name, n, side, dt, loadMs, floorMs, peak);
            return 0;
        })));
        return cmd;
    }

    private static void Print(BenchResult r, int images)
    {
        var t = new Table().AddColumns("step", "ms", "it/s", "GFLOP/s");
        for (int i = 0; i < r.StepMs.Length; i++)
            t.AddRow($"{i + 1}", $"{r.StepMs[i]:F1}", $"{1000 / r.StepMs[i]:F2}", $"{r.GflopPerForward / r.StepMs[i] * 1000:F1}");
        t.AddRow("[bold]median[/]", $"[bold]{r.MedianMs:F1}[/]", $"[bold]{1000 / r.MedianMs:F2}[/]", $"[bold]{r.GflopPerForward / r.MedianMs * 1000:F1}[/]");
        AnsiConsole.Write(t);
        var ops = string.Join(", ", r.FlopsByOp.OrderByDescending(kv => kv.Value).Select(kv => $"{kv.Key} {kv.Value:F2}"));
        AnsiConsole.MarkupLine($"{r.GflopPerForward:F2} GFLOP per UNet call ({ops}); min {r.MinMs:F1} ms, max {r.MaxMs:F1} ms, " +
            $"{images} image(s) per step");
    }

    internal static string CpuName()
    {
        var model = File.Exists("/proc/cpuinfo")
            ? File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name"))?.Split(':', 2)[1].Trim() : null;
        return $"{model ?? "CPU"} ({Environment.ProcessorCount} threads)";
    }

    private static void WriteJson(string path, BenchResult r, string preset, string backend, int images, int side,
        Tensors.DType dtype, double loadMs, double floorMs, double peakGflops)
    {
        var doc = new Dictionary<string, object?>
        {
            ["device"] = backend == "cpu" ? CpuName() : backend,
            ["backend"] = backend,
            ["preset"] = preset,
            ["precision"] = backend == "cpu" ? "fp32" : dtype.ToString().ToLowerInvariant(),
            ["weights_dtype"] = dtype.ToString().ToLowerInvariant(),
            ["batch"] = images,
            ["unet_batch"] = 2 * images,
            ["size"] = side,
            ["steps"] = r.StepMs.Length,
            ["ms_per_step"] = new { median = r.MedianMs, min = r.MinMs, max = r.MaxMs, all = r.StepMs },
            ["gflop_per_forward"] = r.GflopPerForward,
            ["achieved_tflops"] = r.AchievedTflops,
            ["floor_ms_per_step"] = floorMs,
            ["peak_gflops"] = peakGflops,
            ["ratio_to_floor"] = r.MedianMs / floorMs,
            ["load_ms"] = loadMs,
            ["commit"] = Environment.GetEnvironmentVariable("FASTIF_COMMIT"),
            ["command"] = string.Join(' ', Environment.GetCommandLineArgs().Skip(1)),
            ["machine"] = new { os = System.Runtime.InteropServices.RuntimeInformation.OSDescription, cores = Environment.ProcessorCount,
                runtime = System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription },
        };
        File.WriteAllText(path, JsonSerializer.Serialize(doc, new JsonSerializerOptions { WriteIndented = true }) + "\n");
        Console.WriteLine($"wrote {path}");
    }
}
