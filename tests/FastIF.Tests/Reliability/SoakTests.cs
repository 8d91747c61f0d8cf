using FastIF.Backends.Cpu;
using FastIF.Diffusion;
using FastIF.Models.UNet;
using FastIF.Pipelines;
using FastIF.Sampling;
using FastIF.Tensors;
using FastIF.Weights;

namespace FastIF.Tests.Reliability;

/// <summary>Runs alone: memory figures of the whole process are only meaningful with nothing else running.</summary>
[CollectionDefinition(nameof(Soak), DisableParallelization = true)]
public sealed class Soak;

/// <summary>
/// The library API as an embedding host uses it: many generations in one process, and many load/dispose cycles. After a
/// warm-up neither the managed heap, the process's resident memory nor its open file descriptors may keep growing.
/// </summary>
[Collection(nameof(Soak))]
public class SoakTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"fastif-soak-{Guid.NewGuid():N}");

    public SoakTests() => RandomWeights.WriteSnapshot(UNetPresets.Get("tiny"), _dir, DType.F32, seed: 4);

    public void Dispose() => Directory.Delete(_dir, true);

    private static float[] Generate(IFStage stage, ulong seed)
    {
        var e = stage.UNet.Config.EncoderHidDim;
        var noise = new PhiloxNoise(seed);
        var p = new float[8 * e];
        var n = new float[8 * e];
        noise.Next(p);
        noise.Next(n);
        var r = IFPipelines.TextToImage(stage.UNet, stage.Scheduler, new TextConditioning(p, n), TimestepLists.Leading(2), 7f, 1, 16, 16, noise);
        return Sampler.Run(r, TestContext.Current.CancellationToken);
    }

    private static (long Managed, long Rss, int Fds) Measure()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        return (GC.GetTotalMemory(true), FastIF.Runtime.ProcessMemory.Status("VmRSS:"), Directory.GetFiles("/proc/self/fd").Length);
    }

    [Fact]
    public void ManyGenerationsInOneProcessDoNotGrowMemory()
    {
        if (!OperatingSystem.IsLinux()) Assert.Skip("reads /proc/self");
        using var stage = IFStage.Load(_dir, CpuBackend.Instance);
        for (int i = 0; i < 5; i++) Generate(stage, (ulong)i);
        var before = Measure();
        for (int i = 0; i < 40; i++) Generate(stage, (ulong)i);
        var after = Measure();
        Assert.True(after.Managed - before.Managed < 4 << 20, $"managed heap grew {(after.Managed - before.Managed) >> 10} KiB over 40 generations");
        Assert.True(after.Rss - before.Rss < 48 << 20, $"resident memory grew {(after.Rss - before.Rss) >> 20} MiB over 40 generations");
        Assert.True(after.Fds <= before.Fds, $"open file descriptors went from {before.Fds} to {after.Fds}");
    }

    [Fact]
    public void LoadingAndDisposingManyTimesReleasesFilesAndMemory()
    {
        if (!OperatingSystem.IsLinux()) Assert.Skip("reads /proc/self");
        for (int i = 0; i < 3; i++) using (var s = IFStage.Load(_dir, CpuBackend.Instance)) Generate(s, 1);
        var before = Measure();
        for (int i = 0; i < 20; i++) using (var s = IFStage.Load(_dir, CpuBackend.Instance)) Generate(s, 1);
        var after = Measure();
        Assert.True(after.Fds <= before.Fds, $"open file descriptors went from {before.Fds} to {after.Fds}: a checkpoint was not closed");
        Assert.True(after.Managed - before.Managed < 4 << 20, $"managed heap grew {(after.Managed - before.Managed) >> 10} KiB over 20 loads");
        Assert.True(after.Rss - before.Rss < 64 << 20, $"resident memory grew {(after.Rss - before.Rss) >> 20} MiB over 20 loads");
    }
}
