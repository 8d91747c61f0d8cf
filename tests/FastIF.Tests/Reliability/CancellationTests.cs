using FastIF.Backends.Cpu;
using FastIF.Diffusion;
using FastIF.Models.UNet;
using FastIF.Pipelines;
using FastIF.Sampling;
using FastIF.Tensors;
using FastIF.Weights;

namespace FastIF.Tests.Reliability;

/// <summary>Cancellation reaches long library calls between their steps, and a cancelled conversion leaves no file.</summary>
public class CancellationTests
{
    [Fact]
    public void SamplingStopsAtTheNextStepWhenCancelled()
    {
        var dir = Path.Combine(Path.GetTempPath(), $"fastif-cancel-{Guid.NewGuid():N}");
        try
        {
            RandomWeights.WriteUNet(UNetPresets.Get("tiny"), dir, DType.F32, 1, cancel: TestContext.Current.CancellationToken);
            using var unet = UNet2DCondition.Load(dir, CpuBackend.Instance, null);
            var e = unet.Config.EncoderHidDim;
            var scheduler = new DdpmScheduler(SchedulerConfig.Parse(IFStage.SchedulerJson(false), "IF scheduler"));
            using var cts = new CancellationTokenSource();
            int steps = 0;
            var r = IFPipelines.TextToImage(unet, scheduler, new TextConditioning(new float[8 * e], new float[8 * e]), TimestepLists.Leading(5),
                7f, 1, 16, 16, new PhiloxNoise(1)) with { OnStep = _ => { steps++; cts.Cancel(); } };
            Assert.ThrowsAny<OperationCanceledException>(() => Sampler.Run(r, cts.Token));
            Assert.Equal(1, steps);
        }
        finally { if (Directory.Exists(dir)) Directory.Delete(dir, true); }
    }

    [Fact]
    public void ACancelledConversionLeavesNoOutput()
    {
        var dir = Path.Combine(Path.GetTempPath(), $"fastif-cancel-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        try
        {
            var bin = Path.Combine(dir, "state_dict.bin");
            File.Copy(Weights.TorchCheckpointTests.Data("state_dict.bin"), bin);
            using var cts = new CancellationTokenSource();
            cts.Cancel();
            Assert.ThrowsAny<OperationCanceledException>(() => TorchConverter.Convert(bin, null, null, cancel: cts.Token));
            Assert.Equal(["state_dict.bin"], Directory.GetFiles(dir).Select(Path.GetFileName));
        }
        finally { Directory.Delete(dir, true); }
    }
}
