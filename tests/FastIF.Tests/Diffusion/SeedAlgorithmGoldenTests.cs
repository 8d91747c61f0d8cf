using FastIF.Backends.Cpu;
using FastIF.Diffusion;
using FastIF.Models.UNet;
using FastIF.Sampling;
using FastIF.Weights;
using static FastIF.Tests.Diffusion.PipelineGoldenTests;

namespace FastIF.Tests.Diffusion;

/// <summary>
/// The course "seed" algorithms at step level (algorithms_seed.safetensors): guidance, visual anagrams, hybrid
/// images, Gaussian blur, RePaint inpainting and Differential Diffusion, each a composition of the one sampler.
/// </summary>
public class SeedAlgorithmGoldenTests : IDisposable
{
    private readonly SafetensorsFile _f;
    private readonly UNet2DCondition _unet;
    private readonly DdpmScheduler _scheduler;
    private readonly float _g;

    public SeedAlgorithmGoldenTests()
    {
        var ifDir = Fixtures.Require("if");
        _f = SafetensorsFile.Open(Fixtures.Require("if", "algorithms_seed.safetensors"));
        _unet = UNet2DCondition.Load(Path.Combine(ifDir, "if1_tiny"), CpuBackend.Instance);
        _scheduler = new DdpmScheduler(SchedulerConfig.Load(Path.Combine(ifDir, "scheduler_if1", "scheduler_config.json")));
        _g = _f.ReadFloat32("guidance_scale")[0];
    }

    public void Dispose()
    {
        _unet.Dispose();
        _f.Dispose();
    }

    private float[] R(string name) => _f.ReadFloat32(name);

    /// <summary>One step at <c>timestep</c> of the leading <c>schedule_timesteps</c>, from the stored x_t.</summary>
    private SamplerRequest OneStep(IReadOnlyList<Component> components, ICombiner combiner, params string[] draws)
    {
        var schedule = _f.ReadInt64("schedule_timesteps");
        long t = _f.ReadInt64("timestep")[0];
        return new SamplerRequest
        {
            UNet = _unet, Scheduler = _scheduler, Timesteps = schedule[Array.IndexOf(schedule, t)..], StopAfter = 1,
            GuidanceScale = _g, Height = 64, Width = 64, Start = R("x_t"), Components = components, NegativeEmbeds = R("u"),
            Combiner = combiner, Noise = new RecordedNoise(draws.Select(R)),
        };
    }

    private static StepTrace RunOne(SamplerRequest req)
    {
        StepTrace? trace = null;
        Sampler.Run(req with { OnStep = s => trace = s }, TestContext.Current.CancellationToken);
        return trace!;
    }

    private double Guided => SingleCallAbs * (1 + 2 * _g);

    [Fact]
    public void ClassifierFreeGuidance()
    {
        var s = RunOne(OneStep([new Component(R("p1"), Views.Identity)], Combiners.Single, "cfg.variance_noise"));
        Numerics.AssertWithin("cfg.unet_output_uncond_cond", R("cfg.unet_output_uncond_cond"), s.UNetOutput, SingleCallAbs);
        Numerics.AssertWithin("cfg.model_output", R("cfg.model_output"), s.ModelOutput, Guided);
        Numerics.AssertWithin("cfg.pred_original_sample", R("cfg.pred_original_sample"), s.PredX0, Guided);
        Numerics.AssertWithin("cfg.prev_sample", R("cfg.prev_sample"), s.XPrev, Guided, VarianceRel);
    }

    [Fact]
    public void VisualAnagramWithVerticalFlip()
    {
        var s = RunOne(OneStep([new Component(R("p1"), Views.Identity), new Component(R("p2"), Views.FlipVertical)],
            Combiners.Mean, "anagram.variance_noise"));
        Numerics.AssertWithin("anagram.model_output", R("anagram.model_output"), s.ModelOutput, Guided);
        Numerics.AssertWithin("anagram.prev_sample", R("anagram.prev_sample"), s.XPrev, Guided, VarianceRel);
    }

    [Fact]
    public void HybridImageByFactorizedDiffusion()
    {
        var s = RunOne(OneStep([new Component(R("p1"), Views.Identity), new Component(R("p2"), Views.Identity)],
            Combiners.LowHighPass(33, 2f), "hybrid.variance_noise"));
        Numerics.AssertWithin("hybrid.model_output", R("hybrid.model_output"), s.ModelOutput, Guided);
        Numerics.AssertWithin("hybrid.prev_sample", R("hybrid.prev_sample"), s.XPrev, Guided, VarianceRel);
    }

    [Theory]
    [InlineData(33, 2f, "blur.kernel1d_k33", "blur.k33_s2")]
    [InlineData(9, 1.5f, "blur.kernel1d_k9", "blur.k9_s1.5")]
    public void GaussianBlurMatchesTorchvision(int size, float sigma, string kernelName, string outputName)
    {
        var k = GaussianBlur.Kernel(size, sigma);
        Numerics.AssertWithin(kernelName, R(kernelName), k, 1e-7, 1e-6);
        var input = R("blur.input");
        var dst = new float[input.Length];
        GaussianBlur.Apply(input, dst, 3, 64, 64, k);
        Numerics.AssertWithin(outputName, R(outputName), dst, 1e-5);
    }

    [Fact]
    public void RePaintTwoSteps()
    {
        var schedule = _f.ReadInt64("schedule_timesteps");
        long t0 = _f.ReadInt64("repaint.step0.timestep")[0];
        var draws = new[] { "step0.variance_noise", "step0.forward_noise", "step1.variance_noise", "step1.forward_noise" }.Select(d => R("repaint." + d));
        var req = new SamplerRequest
        {
            UNet = _unet, Scheduler = _scheduler, Timesteps = schedule[Array.IndexOf(schedule, t0)..], StopAfter = 2, GuidanceScale = _g,
            Height = 64, Width = 64, Start = R("repaint.step0.x_t"), Components = [new Component(R("p1"), Views.Identity)],
            NegativeEmbeds = R("u"), Noise = new RecordedNoise(draws),
            Constraints = [new RePaintConstraint(R("repaint.x_orig"), R("repaint.mask"))],
        };
        int steps = 0;
        Sampler.Run(req with
        {
            OnStep = s =>
            {
                string p = $"repaint.step{s.Index}.";
                Numerics.AssertWithin(p + "x_t", R(p + "x_t"), s.X, PipelineAbs, VarianceRel);
                Numerics.AssertWithin(p + "model_output", R(p + "model_output"), s.ModelOutput, PipelineAbs, VarianceRel);
                Numerics.AssertWithin(p + "x_prev", R(p + "x_prev"), s.XPrev, PipelineAbs, VarianceRel);
                steps++;
            },
        }, TestContext.Current.CancellationToken);
        Assert.Equal(2, steps);
    }

    [Fact]
    public void DifferentialDiffusion()
    {
        var ts = _f.ReadInt64("diffdiff.timesteps");
        var draws = new List<float[]> { R("diffdiff.initial_noise_discarded") };
        for (int i = 0; i < ts.Length; i++)
        {
            draws.Add(R($"diffdiff.step{i}.orig_noise"));
            if (ts[i] > 0) draws.Add(R($"diffdiff.step{i}.variance_noise"));
        }
        var noise = new RecordedNoise(draws);
        var req = new SamplerRequest
        {
            UNet = _unet, Scheduler = _scheduler, Timesteps = ts, GuidanceScale = _g, Height = 64, Width = 64,
            Start = new float[3 * 64 * 64], Components = [new Component(R("p1"), Views.Identity)], NegativeEmbeds = R("u"),
            Noise = noise, Constraints = [new DifferentialDiffusionConstraint(R("diffdiff.image"), R("diffdiff.map"))],
        };
        var output = Sampler.Run(req with
        {
            OnStep = s =>
            {
                string p = $"diffdiff.step{s.Index}.";
                Numerics.AssertWithin(p + "x_t", R(p + "x_t"), s.X, PipelineAbs, VarianceRel);
                Numerics.AssertWithin(p + "model_output", R(p + "model_output"), s.ModelOutput, PipelineAbs, VarianceRel);
                Numerics.AssertWithin(p + "x_prev", R(p + "x_prev"), s.XPrev, PipelineAbs, VarianceRel);
            },
        }, TestContext.Current.CancellationToken);
        Assert.Equal(0, noise.Remaining);
        Numerics.AssertWithin("diffdiff.output", R("diffdiff.output"), output, PipelineAbs, VarianceRel);
    }
}
