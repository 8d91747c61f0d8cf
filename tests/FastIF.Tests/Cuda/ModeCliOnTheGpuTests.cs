using FastIF.Tests.Cli;

namespace FastIF.Tests.Cuda;

/// <summary>
/// Every sampling mode from the CLI with <c>--backend cuda</c> (the fused step, graph-replayed, as a GPU visit runs them):
/// the CLI's device paths, not only the sampler's, before a visit depends on them. Skips without a GPU or the emulator.
/// </summary>
[Collection("console")]
public class ModeCliOnTheGpuTests(ModeCliTests.Models m) : IClassFixture<ModeCliTests.Models>
{
    [Theory]
    [MemberData(nameof(ModeCliTests.Modes), MemberType = typeof(ModeCliTests))]
    public void ModeWritesAPngOnTheGpu(string mode, string extra)
    {
        Gpu.RequireCudaBackend();
        var first = ModeCliTests.Modes().Select(r => (((string, string))r.Data)).First(r => r.Item1 == mode);
        if (first.Item2 != extra) Gpu.SkipOnEmulator($"the first row of mode {mode} runs there (the library-level fused-step tests cover the other variants); a GPU runs every row");
        // One image at 16x16: the emulator runs a tiny UNet call in about a second on one CPU thread.
        ModeCliTests.RunMode(m, mode, extra, "cuda", sizeOne: 16, batch: 1);
    }

    [Fact]
    public void EagerStepsWriteThePngToo()
    {
        Gpu.RequireCudaBackend();
        ModeCliTests.RunMode(m, "generate", "", "cuda", sizeOne: 16, batch: 1, "--graph", "off");
    }
}
