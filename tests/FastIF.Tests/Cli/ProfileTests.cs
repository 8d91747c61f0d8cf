using FastIF.Backends;
using FastIF.Backends.Cpu;
using FastIF.Benchmarking;
using FastIF.Models.UNet;
using FastIF.Tensors;
using FastIF.Weights;

namespace FastIF.Tests.Cli;

/// <summary><c>fastif profile</c> and the op profiler: every op is seen once, its FLOPs agree with the FlopCounter,
/// the report survives its JSON, and --compare reads two of them.</summary>
[Collection("console")]
public class ProfileTests
{
    [Fact]
    public void ProfilerSeesEveryOpWithTheCountersFlopsAndLeavesOutputsUnchanged()
    {
        var dir = Path.Combine(Path.GetTempPath(), $"fastif-prof-{Guid.NewGuid():N}");
        try
        {
            RandomWeights.WriteUNet(UNetPresets.Get("tiny"), dir, DType.F32, 2, cancel: TestContext.Current.CancellationToken);
            var cpu = CpuBackend.Instance;
            var profiler = new OpProfiler(cpu, new HostOpClock());
            var counter = new FlopCounter(cpu);
            using var plain = UNet2DCondition.Load(dir, counter, null);
            using var profiled = UNet2DCondition.Load(dir, profiler, null);
            var x = Enumerable.Range(0, 2 * 3 * 16 * 16).Select(i => MathF.Sin(i)).ToArray();
            var e = Enumerable.Range(0, 2 * 5 * plain.Config.EncoderHidDim).Select(i => MathF.Cos(i)).ToArray();
            float[] Run(UNet2DCondition u)
            {
                using var xt = cpu.FromHost(x, new Shape(2, 3, 16, 16));
                using var tt = cpu.FromHost([10f, 900f], new Shape(2));
                using var et = cpu.FromHost(e, new Shape(2, 5, plain.Config.EncoderHidDim));
                using var y = u.Forward(xt, tt, et);
                return y.ToArray();
            }
            Assert.Equal(Run(plain), Run(profiled));
            var calls = profiler.Collect();
            Assert.True(calls.Count > 100, $"only {calls.Count} ops seen");
            Assert.Equal(counter.Total, calls.Sum(c => c.Flops), 6);
            Assert.All(calls, c => Assert.True(c.Ms >= 0 && c.Bytes > 0, $"{c.Op} {c.Shapes}: {c.Ms} ms, {c.Bytes} bytes"));
            Assert.Contains(calls, c => c.Op == "attention");
            Assert.Contains(calls, c => c.Op == "conv2d 3x3");
            Assert.Empty(profiler.Collect());
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void ProfileCommandWritesJsonThatCompareReads()
    {
        var a = Path.Combine(Path.GetTempPath(), $"fastif-prof-a-{Guid.NewGuid():N}.json");
        var b = Path.Combine(Path.GetTempPath(), $"fastif-prof-b-{Guid.NewGuid():N}.json");
        try
        {
            var (code, output, err) = CliRunner.Run("profile", "--size", "16", "--json", a, "--backend", "cpu");
            Assert.True(code == 0, err);
            Assert.Contains("one un-graphed sampling step", output);
            var ra = ProfileReport.Load(a);
            // The fused step's kernels are profiled beside the UNet's ops.
            Assert.Contains(ra.Calls, c => c.Op == "step.update");
            Assert.Contains(ra.Calls, c => c.Op == "step.guide");
            Assert.Equal(2, ra.UNetBatch);
            Assert.True(ra.OpMs > 0 && ra.OpMs <= ra.WallMs * 1.01, $"ops {ra.OpMs} ms vs wall {ra.WallMs} ms");
            Assert.Equal(1.0, ra.ByKind().Sum(k => k.Share), 6);
            Assert.True(CliRunner.Run("profile", "--size", "16", "--batch", "2", "--json", b, "--backend", "cpu").Code == 0);
            (code, output, err) = CliRunner.Run("profile", "--compare", a, b);
            Assert.True(code == 0, err);
            Assert.Contains("attention", output);
            Assert.Contains("all ops", output);
            (code, _, err) = CliRunner.Run("profile", "--compare", a);
            Assert.Equal(2, code);
            Assert.Contains("two profile files", err);
        }
        finally
        {
            File.Delete(a);
            File.Delete(b);
        }
    }
}
