using FastIF.Backends.Cpu;
using FastIF.Diffusion;
using FastIF.Models.UNet;
using FastIF.Pipelines;
using FastIF.Sampling;
using FastIF.Tensors;
using FastIF.Weights;

namespace FastIF.Tests.Reliability;

/// <summary>NaN/Inf detection after every sampling step: on by default, naming stage, step, timestep and tensor.</summary>
public class NonFiniteTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"fastif-nan-{Guid.NewGuid():N}");
    private readonly UNet2DCondition _unet;

    public NonFiniteTests()
    {
        RandomWeights.WriteUNet(UNetPresets.Get("tiny"), _dir, DType.F32, seed: 1);
        _unet = UNet2DCondition.Load(_dir, CpuBackend.Instance, null);
    }

    public void Dispose()
    {
        _unet.Dispose();
        Directory.Delete(_dir, true);
    }

    private SamplerRequest Request(int poisonAt)
    {
        var c = _unet.Config;
        var text = new TextConditioning(new float[8 * c.EncoderHidDim], new float[8 * c.EncoderHidDim]);
        var scheduler = new DdpmScheduler(SchedulerConfig.Parse(IFStage.SchedulerJson(false), "IF scheduler"));
        var r = IFPipelines.TextToImage(_unet, scheduler, text, TimestepLists.Leading(3), 7f, 1, 16, 16, new PhiloxNoise(2));
        if (poisonAt >= 0) r.Start[poisonAt] = float.NaN;
        return r with { Stage = "stage I" };
    }

    [Fact]
    public void AFiniteRunPasses() => Assert.All(Sampler.Run(Request(-1), TestContext.Current.CancellationToken), v => Assert.True(float.IsFinite(v)));

    [Fact]
    public void ANaNStopsTheRunAtTheFirstStepNamingIt()
    {
        var e = Assert.Throws<NonFiniteException>(() => Sampler.Run(Request(5), TestContext.Current.CancellationToken));
        Assert.Contains("stage I step 1/3 (t=666)", e.Message);
        Assert.Contains("the UNet output", e.Message);
        Assert.Contains("--precision bf16", e.Message);
    }

    [Fact]
    public void TheCheckCanBeTurnedOff()
    {
        var x = Sampler.Run(Request(5) with { CheckFinite = false }, TestContext.Current.CancellationToken);
        Assert.Contains(x, v => float.IsNaN(v));
    }
}
