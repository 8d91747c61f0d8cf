using System.Text.Json;
using FastIF.Backends;
using FastIF.Backends.Cuda;
using FastIF.Benchmarking;
using FastIF.Models.UNet;
using FastIF.Tensors;
using Spectre.Console;

namespace FastIF.Cli.Commands;

/// <summary><c>fastif bench --backend cuda</c>: the guided UNet call timed with CUDA events, eager and as a graph, beside the
/// roofline floor from this device's measured peaks.</summary>
internal static class GpuBench
{
    public static int Run(UNet2DCondition unet, CudaBackend be, FlopCounter counter, string preset, int images, int side, int steps,
        int warmup, string graph, ulong seed, DType weightsDtype, double loadMs, string? json, CancellationToken ct)
    {
        if (graph is not ("on" or "off" or "both")) throw new FastIFException($"--graph must be on, off or both, not \"{graph}\"");
        var peaks = CudaUNetBench.MeasurePeaks(be);
        AnsiConsole.MarkupLine($"peaks on {Markup.Escape(be.Context.Name)}: GEMM {peaks.GemmTflops:F1} TFLOP/s ({be.Precision}), copy {peaks.CopyGBps:F0} GB/s");
        var r = CudaUNetBench.Run(unet, be, counter, 2 * images, side, steps, warmup, graph != "off", seed, cancel: ct);
        double floor = r.FloorMs(peaks);
        var t = new Table().AddColumns("mode", "median ms", "min", "max", "TFLOP/s", "x floor");
        void Row(string mode, double[] ms)
        {
            double med = GpuUNetResult.Median(ms);
            t.AddRow(mode, $"{med:F2}", $"{ms.Min():F2}", $"{ms.Max():F2}", $"{r.GflopPerForward / med:F1}", $"{med / floor:F2}");
        }
        if (graph != "on") Row("eager", r.EagerMs);
        if (r.GraphMs != null) Row("graph", r.GraphMs);
        AnsiConsole.Write(t);
        AnsiConsole.MarkupLine($"{r.GflopPerForward:F1} GFLOP and {r.WeightBytes / 1e9:F2} GB of weights per UNet call (batch {2 * images}, {side}x{side}); " +
            $"floor {floor:F2} ms; peak activations {r.PeakActivationBytes / 1e9:F2} GB, graph holds {r.GraphReservedBytes / 1e9:F2} GB");
        if (json != null) WriteJson(json, r, be, peaks, preset, images, side, graph, weightsDtype, loadMs, floor);
        return 0;
    }

    private static void WriteJson(string path, GpuUNetResult r, CudaBackend be, GpuPeaks peaks, string preset, int images, int side,
        string graph, DType weightsDtype, double loadMs, double floor)
    {
        object? Stats(double[]? ms) => ms == null ? null : new { median = GpuUNetResult.Median(ms), min = ms.Min(), max = ms.Max(), all = ms };
        var best = r.GraphMs ?? r.EagerMs;
        var doc = new Dictionary<string, object?>
        {
            ["device"] = be.Context.Name,
            ["backend"] = "cuda",
            ["preset"] = preset,
            ["precision"] = be.Precision.ToString().ToLowerInvariant(),
            ["weights_dtype"] = weightsDtype.ToString().ToLowerInvariant(),
            ["batch"] = images,
            ["unet_batch"] = 2 * images,
            ["size"] = side,
            ["steps"] = best.Length,
            ["step"] = "one classifier-free-guided UNet call (batch 2 x images), CUDA events on the backend's stream",
            ["graph"] = graph,
            ["ms_per_step"] = Stats(best),
            ["ms_per_step_eager"] = graph == "on" ? null : Stats(r.EagerMs),
            ["ms_per_step_graph"] = Stats(r.GraphMs),
            ["gflop_per_forward"] = r.GflopPerForward,
            ["achieved_tflops"] = r.GflopPerForward / GpuUNetResult.Median(best),
            ["weight_bytes"] = r.WeightBytes,
            ["floor_ms_per_step"] = floor,
            ["peak_gemm_tflops"] = peaks.GemmTflops,
            ["peak_copy_gbps"] = peaks.CopyGBps,
            ["ratio_to_floor"] = GpuUNetResult.Median(best) / floor,
            ["peak_activation_bytes"] = r.PeakActivationBytes,
            ["graph_reserved_bytes"] = r.GraphReservedBytes,
            ["load_ms"] = loadMs,
            ["commit"] = Environment.GetEnvironmentVariable("FASTIF_COMMIT"),
            ["command"] = string.Join(' ', Environment.GetCommandLineArgs().Skip(1)),
            ["machine"] = new
            {
                os = System.Runtime.InteropServices.RuntimeInformation.OSDescription,
                cores = Environment.ProcessorCount,
                runtime = System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription,
                driver = be.Context.DriverVersion,
                arch = be.Context.Arch,
                cpu = BenchCommand.CpuName(),
            },
        };
        File.WriteAllText(path, JsonSerializer.Serialize(doc, new JsonSerializerOptions { WriteIndented = true }) + "\n");
        Console.WriteLine($"wrote {path}");
    }
}
