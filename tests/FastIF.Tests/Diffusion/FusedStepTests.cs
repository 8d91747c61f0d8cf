using FastIF.Backends.Cpu;
using FastIF.Diffusion;
using FastIF.Models.UNet;
using FastIF.Pipelines;
using FastIF.Sampling;
using FastIF.Tensors;
using FastIF.Weights;

namespace FastIF.Tests.Diffusion;

/// <summary>Tiny stage I and II UNets with random weights, made once for the fused-step tests.</summary>
public sealed class TinyUNets : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"fastif-fused-{Guid.NewGuid():N}");

    public TinyUNets()
    {
        RandomWeights.WriteUNet(UNetPresets.Get("tiny"), Path.Combine(_dir, "i"), DType.F32, seed: 3);
        RandomWeights.WriteUNet(UNetPresets.Get("tiny-ii"), Path.Combine(_dir, "ii"), DType.F32, seed: 4);
        StageOne = UNet2DCondition.Load(Path.Combine(_dir, "i"), CpuBackend.Instance, null);
        StageOneDir = Path.Combine(_dir, "i");
        StageTwo = UNet2DCondition.Load(Path.Combine(_dir, "ii"), CpuBackend.Instance, null);
    }

    public UNet2DCondition StageOne { get; }
    public string StageOneDir { get; }
    public UNet2DCondition StageTwo { get; }

    public void Dispose()
    {
        StageOne.Dispose();
        StageTwo.Dispose();
        Directory.Delete(_dir, true);
    }
}

/// <summary>
/// The fused step (plan + CPU twin kernels) against the host sampling loop, which the diffusers goldens pin down: for
/// every mode the same final sample, the same per-step tensors, bit for bit, and the same number of draws consumed.
/// </summary>
public class FusedStepTests(TinyUNets models) : IClassFixture<TinyUNets>
{
    private const int Size = 16;
    private static readonly long[] Steps = [900, 600, 300, 0];
    private static DdpmScheduler Scheduler(bool stageTwo) => new(SchedulerConfig.Parse(IFStage.SchedulerJson(stageTwo), "IF scheduler"));

    private static float[] Random(int n, int seed, float scale = 1f)
    {
        var r = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => (float)(r.NextDouble() * 2 - 1) * scale).ToArray();
    }

    private static TextConditioning Text(int batch, int seed) => new(Random(batch * 8 * 256, seed), Random(batch * 8 * 256, seed + 100));

    private static float[] Mask(int batch, int seed) => Random(batch * Size * Size, seed).Select(v => v > 0 ? 1f : 0f).ToArray();

    /// <summary>Runs <paramref name="make"/>'s request (built twice from the same seed) both ways and compares everything.</summary>
    private static void SameBothWays(Func<INoiseSource, SamplerRequest> make, Func<INoiseSource>? noise = null)
    {
        noise ??= () => new PhiloxNoise(77);
        var (hostNoise, fusedNoise) = (noise(), noise());
        var hostTraces = new List<StepTrace>();
        var fusedTraces = new List<StepTrace>();
        var host = Sampler.Run(make(hostNoise) with { Fused = false, OnStep = hostTraces.Add }, TestContext.Current.CancellationToken);
        var fused = Sampler.Run(make(fusedNoise) with { Fused = true, OnStep = fusedTraces.Add }, TestContext.Current.CancellationToken);
        Assert.Equal(hostTraces.Count, fusedTraces.Count);
        for (int i = 0; i < hostTraces.Count; i++)
        {
            var (h, f) = (hostTraces[i], fusedTraces[i]);
            Assert.Equal((h.Index, h.T), (f.Index, f.T));
            Assert.Equal(h.X, f.X);
            Assert.Equal(h.UNetOutput, f.UNetOutput);
            Assert.Equal(h.ModelOutput, f.ModelOutput);
            Assert.Equal(h.PredX0, f.PredX0);
            Assert.Equal(h.XPrev, f.XPrev);
        }
        Assert.Equal(host, fused);
        if (hostNoise is PhiloxNoise hp) Assert.Equal(hp.DrawIndex, ((PhiloxNoise)fusedNoise).DrawIndex);
        if (hostNoise is RecordedNoise hr) Assert.Equal(hr.Remaining, ((RecordedNoise)fusedNoise).Remaining);
    }

    private SamplerRequest TextToImage(INoiseSource noise, int batch = 2, float guidance = 7f) =>
        IFPipelines.TextToImage(models.StageOne, Scheduler(false), Text(batch, 1), Steps, guidance, batch, Size, Size, noise);

    [Fact]
    public void TextToImageWithGuidance() => SameBothWays(n => TextToImage(n));

    [Fact]
    public void WithoutGuidanceOnlyTheConditionalHalfRuns() => SameBothWays(n => TextToImage(n, batch: 1, guidance: 1f));

    [Fact]
    public void RecordedNoiseIsMaterialisedInDrawOrder() =>
        SameBothWays(n => TextToImage(n), () => new RecordedNoise(Enumerable.Range(0, 8).Select(i => Random(2 * 3 * Size * Size, 500 + i))));

    [Fact]
    public void AnagramViewsAreGatherTables() => SameBothWays(n => TextToImage(n) with
    {
        Components = [new Component(Text(2, 1).Prompt, Views.Identity), new Component(Text(2, 2).Prompt, Views.Rotate90),
            new Component(Text(2, 3).Prompt, Views.Negate), new Component(Text(2, 4).Prompt, Views.Patches(Size, Size, 4, [3, 2, 1, 0, 4, 5, 6, 7, 8, 9, 10, 11, 15, 14, 13, 12]))],
        Combiner = Combiners.Mean,
    });

    public static TheoryData<string> FilterCombiners() => ["lowhigh", "lowhigh-halved", "three-band", "gray-color"];

    [Theory]
    [MemberData(nameof(FilterCombiners))]
    public void FilterCombinersRunFromTheirSpec(string name)
    {
        ICombiner combiner = name switch
        {
            "lowhigh" => Combiners.LowHighPass(5, 1.5f),
            "lowhigh-halved" => Combiners.LowHighPass(7, 2f, halve: true),
            "three-band" => Combiners.ThreeBand(9, 3f, 3, 0.75f),
            _ => Combiners.GrayColor,
        };
        int k = name == "three-band" ? 3 : 2;
        SameBothWays(n => TextToImage(n) with
        {
            Components = Enumerable.Range(0, k).Select(i => new Component(Text(2, 10 + i).Prompt, Views.Identity)).ToList(),
            Combiner = combiner,
        });
    }

    [Fact]
    public void InpaintingKeepsTheRegion() => SameBothWays(n =>
        IFPipelines.Inpaint(models.StageOne, Scheduler(false), Text(2, 1), Steps, 7f, 2, Size, Size, n, Random(2 * 3 * Size * Size, 9), Mask(2, 10), 1.0));

    [Fact]
    public void RePaintWithJumpsRenoisesBetweenSteps() => SameBothWays(n => TextToImage(n) with
    {
        Constraints = [new RePaintConstraint(Random(2 * 3 * Size * Size, 11), Mask(1, 12))],
        Levels = RePaintSchedule.Levels(Steps.Length, 2, 2),
    });

    [Fact]
    public void DifferentialDiffusionHardWithTheDiscardedDraw() => SameBothWays(n => TextToImage(n) with
    {
        Constraints = [new DifferentialDiffusionConstraint(Random(2 * 3 * Size * Size, 13), Random(Size * Size, 14).Select(v => (v + 1) / 2).ToArray())],
    });

    [Fact]
    public void SoftDifferentialDiffusionComposesWithRePaint() => SameBothWays(n => TextToImage(n) with
    {
        Constraints = [new DifferentialDiffusionConstraint(Random(2 * 3 * Size * Size, 15), Random(2 * Size * Size, 16).Select(v => (v + 1) / 2).ToArray(), false, soft: true),
            new RePaintConstraint(Random(2 * 3 * Size * Size, 17), Mask(2, 18))],
    });

    [Fact]
    public void StageTwoConditioningAndClassLabels() => SameBothWays(n =>
        IFPipelines.SuperResolution(models.StageTwo, Scheduler(true), Scheduler(false) is var _ ? new DdpmScheduler(SchedulerConfig.Parse(IFStage.ImageNoisingSchedulerJson, "noising")) : null!,
            Text(1, 1), Steps, 4f, 1, Size, Size, n, Random(3 * 8 * 8, 19), 8, 8, noiseLevel: 100));

    [Fact]
    public void TheFusedStepRunsUnderACountingDecorator()
    {
        var counter = new Backends.FlopCounter(CpuBackend.Instance);
        using var counted = UNet2DCondition.Load(models.StageOneDir, counter, null);
        var host = Sampler.Run(TextToImage(new PhiloxNoise(8)) with { Fused = false }, TestContext.Current.CancellationToken);
        var fused = Sampler.Run(TextToImage(new PhiloxNoise(8)) with { UNet = counted, Fused = true }, TestContext.Current.CancellationToken);
        Assert.Equal(host, fused);
        Assert.True(counter.Total > 0);
    }

    [Fact]
    public void StopAfterRunsAPrefix() => SameBothWays(n => TextToImage(n) with { StopAfter = 2 });

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void AStepClockTimesEveryDenoisingStepButNoRenoising(bool fused)
    {
        using var clock = new FastIF.Benchmarking.HostOpClock();
        Sampler.Run(TextToImage(new PhiloxNoise(4)) with
        {
            Fused = fused, StepClock = clock,
            Constraints = [new RePaintConstraint(Random(2 * 3 * Size * Size, 11), Mask(1, 12))], Levels = RePaintSchedule.Levels(Steps.Length, 2, 2),
        }, TestContext.Current.CancellationToken);
        var ms = clock.Resolve();
        Assert.Equal(RePaintSchedule.Levels(Steps.Length, 2, 2).Zip(RePaintSchedule.Levels(Steps.Length, 2, 2).Skip(1)).Count(p => p.Second < p.First), ms.Length);
        Assert.All(ms, v => Assert.True(v > 0));
    }

    [Fact]
    public void PlanNumbersEveryDrawInConsumptionOrder()
    {
        var noise = new PhiloxNoise(5);
        var r = TextToImage(noise) with
        {
            Constraints = [new DifferentialDiffusionConstraint(new float[2 * 3 * Size * Size], new float[Size * Size]), new RePaintConstraint(new float[2 * 3 * Size * Size], new float[Size * Size])],
        };
        ulong first = noise.DrawIndex;
        var plan = StepPlan.Build(r);
        // Step 0: the discarded draw (0), the forward draw (1), variance noise (2), RePaint (3); then 3 per step; t = 0 draws no
        // variance noise and RePaint's last blend uses the original itself.
        Assert.Equal([(1L, 2L, 3L), (4, 5, 6), (7, 8, 9), (10, -1, -1)], plan.Rows.Select(w => (w.BeforeDraw, w.NoiseDraw, w.AfterDraw)));
        Assert.Equal(11, plan.DrawCount);
        Assert.Equal(first + 11, noise.DrawIndex);
        Assert.Equal((first, 5UL), (plan.FirstDraw, plan.Seed));
        Assert.Equal([0f, 0.25f, 0.5f, 0.75f], plan.Rows.Select(w => w.Threshold));
    }

    [Fact]
    public void PlanRefusesWhatTheKernelsCannotRun()
    {
        var custom = new CustomView();
        var e1 = Assert.Throws<FastIFException>(() => StepPlan.Build(TextToImage(new PhiloxNoise(1)) with { Components = [new Component(Text(2, 1).Prompt, custom)] }));
        Assert.Contains("custom", e1.Message);
        var e2 = Assert.Throws<FastIFException>(() => StepPlan.Build(TextToImage(new PhiloxNoise(1)) with
        {
            Constraints = [new KeepRegionConstraint(new float[Size * Size]), new RePaintConstraint(new float[2 * 3 * Size * Size], new float[Size * Size])],
        }));
        Assert.Contains("at most one", e2.Message);
        var e3 = Assert.Throws<FastIFException>(() => StepPlan.Build(TextToImage(new PhiloxNoise(1)) with { Constraints = [new NoOpConstraint()] }));
        Assert.Contains(nameof(NoOpConstraint), e3.Message);
    }

    [Fact]
    public void FusedRunReportsTheFirstNonFiniteStep()
    {
        var r = TextToImage(new PhiloxNoise(3));
        r.Start[5] = float.NaN;
        var e = Assert.Throws<NonFiniteException>(() => Sampler.Run(r with { Fused = true, Stage = "stage I" }, TestContext.Current.CancellationToken));
        Assert.Contains("stage I step 1/4", e.Message);
    }

    private sealed class CustomView : IView
    {
        public string Name => "custom";
        public void Apply(ReadOnlySpan<float> src, Span<float> dst, int c, int h, int w) => src.CopyTo(dst);
        public void Invert(ReadOnlySpan<float> src, Span<float> dst, int c, int h, int w) => src.CopyTo(dst);
    }

    private sealed class NoOpConstraint : IConstraint;
}
