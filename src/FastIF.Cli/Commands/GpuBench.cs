using System.Text.Json.Nodes;
using FastIF.Backends;
using FastIF.Backends.Cuda;
using FastIF.Benchmarking;
using FastIF.Models.UNet;
using Spectre.Console;

namespace FastIF.Cli.Commands;

/// <summary><c>fastif bench --backend cuda</c>: the guided UNet call timed with CUDA events, eager and as a graph, beside the
/// roofline floor from this device's measured peaks; the result goes through the one bench JSON writer.</summary>
internal static class GpuBench
{
    public static int Run(UNet2DCondition unet, CudaBackend be, FlopCounter counter, BenchReport common, int steps, int warmup, string graph,
        ulong seed, string? json, CancellationToken ct)
    {
        if (graph is not ("on" or "off" or "both")) throw new FastIFException($"--graph must be on, off or both, not \"{graph}\"");
        var peaks = BenchEnvironment.GpuPeaksNow(be);
        AnsiConsole.MarkupLine($"peaks on {Markup.Escape(be.Context.Name)}: GEMM {peaks.GemmTflops:F1} TFLOP/s ({Markup.Escape(peaks.How)}), copy {peaks.CopyGBps:F0} GB/s");
        int unetBatch = common.UNetBatch ?? 2 * common.Batch * common.Views;
        var r = CudaUNetBench.Run(unet, be, counter, unetBatch, common.Size ?? unet.Config.SampleSize, steps, warmup, graph != "off", seed, cancel: ct);
        // Whole sampling steps as the sampler runs them: the UNet call plus the fused step kernels, graph-replayed and/or eager.
        int size = common.Size ?? unet.Config.SampleSize;
        double[]? stepGraph = graph == "off" ? null : CudaUNetBench.FusedSteps(unet, be, common.Batch, common.Views, size, steps, warmup, seed, graph: true, cancel: ct);
        double[]? stepEager = graph == "on" ? null : CudaUNetBench.FusedSteps(unet, be, common.Batch, common.Views, size, steps, warmup, seed, graph: false, cancel: ct);
        var best = stepGraph ?? stepEager!;
        var report = common with
        {
            Step = $"one whole sampling step: the classifier-free-guided UNet call (batch {unetBatch} = 2 x batch x views) and the fused step kernels " +
                "(CFG, views, DDPM update with dynamic thresholding, noise), CUDA events on the backend's stream" +
                (stepGraph != null ? ", the step replayed as one CUDA graph" : ", eager"),
            MsPerStep = TimingStats.Of(best), GflopPerForward = r.GflopPerForward, WeightBytes = r.WeightBytes, Peaks = peaks,
            PeakMemory = BenchEnvironment.PeakMemory(-1, r.WeightBytes + r.PeakActivationBytes),
            Extra = new Dictionary<string, JsonNode?>
            {
                ["graph"] = graph,
                ["ms_per_unet_call_eager"] = graph == "on" ? null : Stats(r.EagerMs),
                ["ms_per_unet_call_graph"] = r.GraphMs == null ? null : Stats(r.GraphMs),
                ["ms_per_step_fused_graph"] = stepGraph == null ? null : Stats(stepGraph),
                ["ms_per_step_fused_eager"] = stepEager == null ? null : Stats(stepEager),
                ["peak_activation_bytes"] = r.PeakActivationBytes,
                ["graph_reserved_bytes"] = r.GraphReservedBytes,
            },
        };
        double floor = report.FloorMsPerStep!.Value;
        var t = new Table().AddColumns("mode", "median ms", "min", "max", "TFLOP/s", "x floor");
        void Row(string mode, double[] ms)
        {
            var s = TimingStats.Of(ms);
            t.AddRow(mode, $"{s.Median:F2}", $"{s.Min:F2}", $"{s.Max:F2}", $"{r.GflopPerForward / s.Median:F1}", $"{s.Median / floor:F2}");
        }
        if (graph != "on") Row("UNet call, eager", r.EagerMs);
        if (r.GraphMs != null) Row("UNet call, graph", r.GraphMs);
        if (stepEager != null) Row("whole step, eager", stepEager);
        if (stepGraph != null) Row("whole step, graph", stepGraph);
        AnsiConsole.Write(t);
        AnsiConsole.MarkupLine($"{r.GflopPerForward:F1} GFLOP and {r.WeightBytes / 1e9:F2} GB of weights per UNet call (batch {unetBatch}); " +
            $"floor {floor:F2} ms; peak activations {r.PeakActivationBytes / 1e9:F2} GB, graph holds {r.GraphReservedBytes / 1e9:F2} GB");
        BenchCommand.PrintFloor(report);
        BenchCommand.Save(report, json);
        return 0;
    }

    private static JsonObject Stats(double[] ms)
    {
        var s = TimingStats.Of(ms);
        return new JsonObject { ["median"] = s.Median, ["min"] = s.Min, ["max"] = s.Max, ["all"] = new JsonArray(ms.Select(v => (JsonNode?)v).ToArray()) };
    }
}
