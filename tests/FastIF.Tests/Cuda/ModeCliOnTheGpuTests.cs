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
        // One image at 16x16 where no mask or map (32x32, which must match) is read: the emulator runs a tiny UNet call in
        // about a second on one CPU thread.
        int size = extra.Contains("{mask}") || extra.Contains("{map") ? 32 : 16;
        ModeCliTests.RunMode(m, mode, extra, "cuda", sizeOne: size, batch: 1);
    }

    [Fact]
    public void EagerStepsWriteThePngToo()
    {
        Gpu.RequireCudaBackend();
        ModeCliTests.RunMode(m, "generate", "", "cuda", sizeOne: 16, batch: 1, "--graph", "off");
    }
}
