using FastIF.Backends;
using FastIF.Backends.Cpu;
using FastIF.Backends.Cuda;
using FastIF.Diffusion;
using FastIF.Models.UNet;
using FastIF.Pipelines;
using FastIF.Sampling;
using FastIF.Tensors;
using FastIF.Tests.Diffusion;

namespace FastIF.Tests.Cuda;

/// <summary>
/// kernels/step.cu against its CPU twin (<see cref="CpuStepKernels"/>, itself held to the host loop bit for bit by
/// FusedStepTests): each operation on fresh random state, then whole fused runs on the GPU against the host loop on the
/// CPU, and the graph-replayed run against the eager one. Skips without a GPU.
/// </summary>
[Collection("gpu")]
public class CudaStepKernelTests(TinyUNets models) : IClassFixture<TinyUNets>
{
    // The step kernels compute in fp32 with the twin's rounding; what differs is only fp16/bf16 storage of the UNet I/O.
    private static double Tolerance(DType t) => t switch { DType.F32 => 1e-6, DType.F16 => 2e-3, _ => 1.6e-2 };

    private static DdpmScheduler Scheduler(bool stageTwo) => new(SchedulerConfig.Parse(IFStage.SchedulerJson(stageTwo), "IF scheduler"));

    private static float[] Random(int n, int seed, float scale = 1f)
    {
        var r = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => (float)(r.NextDouble() * 2 - 1) * scale).ToArray();
    }

    /// <summary>A plan over a weightless UNet config (the plan reads only the config).</summary>
    private static (StepPlan Plan, DdpmScheduler Scheduler) Plan(string combiner, string constraints, int size, int batch, bool stageTwo = false)
    {
        var config = UNetPresets.Get(stageTwo ? "tiny-ii" : "tiny");
        var unet = new UNet2DCondition(config);
        var sched = Scheduler(stageTwo);
        int n = batch * 3 * size * size, hw = size * size;
        var text = new float[batch * 8 * config.EncoderHidDim];
        (ICombiner comb, IView[] views) = combiner switch
        {
            "mean" => (Combiners.Mean, new[] { Views.Identity, Views.Rotate270, Views.Negate }),
            "lowhigh" => (Combiners.LowHighPass(7, 2f, halve: true), new[] { Views.Identity, Views.FlipHorizontal }),
            "three-band" => (Combiners.ThreeBand(9, 3f, 3, 0.75f), new[] { Views.Identity, Views.Identity, Views.Transpose }),
            _ => (Combiners.GrayColor, new[] { Views.FlipVertical, Views.Identity }),
        };
        var cons = new List<IConstraint>();
        if (constraints.Contains("diffdiff")) cons.Add(new DifferentialDiffusionConstraint(Random(n, 1), Random(hw, 2).Select(v => (v + 1) / 2).ToArray(), soft: constraints.Contains("soft")));
        if (constraints.Contains("keep")) cons.Add(new KeepRegionConstraint(Random(batch * hw, 3).Select(v => v > 0 ? 1f : 0f).ToArray()));
        if (constraints.Contains("repaint")) cons.Add(new RePaintConstraint(Random(n, 4), Random(hw, 5).Select(v => v > 0 ? 1f : 0f).ToArray()));
        var r = new SamplerRequest
        {
            UNet = unet, Scheduler = sched, Timesteps = [900, 500, 0], Batch = batch, Height = size, Width = size, Start = Random(n, 6),
            Components = views.Select(v => new Component(text, v)).ToList(), NegativeEmbeds = text, Combiner = comb, Constraints = cons,
            Noise = new PhiloxNoise(9), Conditioning = stageTwo ? Random(n, 7) : null, ClassLabel = stageTwo ? 100 : null,
        };
        return (StepPlan.Build(r), sched);
    }

    public static TheoryData<string, string, string> Cases() => new()
    {
        { "fp32", "mean", "" }, { "fp16", "mean", "diffdiff,keep" }, { "bf16", "mean", "diffdiff,soft,repaint" },
        { "fp32", "lowhigh", "repaint" }, { "fp16", "three-band", "" }, { "fp32", "gray-color", "keep" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void EveryOperationMatchesItsCpuTwin(string precision, string combiner, string constraints)
    {
        var dt = CudaBackendParityTests.Parse(precision);
        var be = CudaBackendParityTests.Backend(dt);
        double tol = Tolerance(dt);
        foreach (var (size, batch) in new[] { (16, 2), (24, 1) })
        {
            var (plan, sched) = Plan(combiner, constraints, size, batch);
            using var cpu = new CpuStepKernels(CpuBackend.Instance, plan, sched);
            using var gpu = new CudaStepKernels(be, plan);
            int n = plan.SampleSize;
            var x = Random(n, 10, 1.5f);
            foreach (var k in new IStepKernels[] { cpu, gpu }) { k.SetSample(x); k.SetStep(1); }
            string at = $"{combiner}/{constraints} {size}px B={batch}";

            cpu.BeforeStep();
            gpu.BeforeStep();
            Compare(cpu.ReadSample, gpu.ReadSample, n, 1e-6, "before-step sample " + at);

            cpu.Assemble();
            gpu.Assemble();
            Gpu.AssertClose(gpu.Input.ToArray(), CudaBackendParityTests.RoundTo(dt, cpu.Input.ToArray()), tol, "UNet input " + at);
            Gpu.AssertClose(gpu.Timesteps.ToArray(), cpu.Timesteps.ToArray(), 0, "timesteps " + at);

            // A UNet output of the storage type's values: both sides then see identical numbers.
            var y = CudaBackendParityTests.RoundTo(dt, Random(plan.UNetBatch * 6 * plan.Pixels, 11, 2f));
            var shape = new Shape(plan.UNetBatch, 6, size, size);
            using (var yc = CpuBackend.Instance.FromHost(y, shape)) cpu.Guide(yc);
            using (var yg = be.FromHost(y, shape)) gpu.Guide(yg);
            Compare(cpu.ReadModelOutput, gpu.ReadModelOutput, 2 * n, 1e-6, "model output " + at);

            cpu.Update();
            gpu.Update();
            Compare(cpu.ReadPredX0, gpu.ReadPredX0, n, 1e-6, "bounded x0 " + at);
            Compare(cpu.ReadStepInput, gpu.ReadStepInput, n, 1e-6, "x_t " + at);
            Compare(cpu.ReadSample, gpu.ReadSample, n, 1e-6, "new sample " + at);
            Assert.Equal(cpu.NonFiniteCounts(), gpu.NonFiniteCounts());

            var move = new StepMove(-1, 0.8f, 0.6f, 0);
            cpu.Renoise(move);
            gpu.Renoise(move);
            Compare(cpu.ReadSample, gpu.ReadSample, n, 1e-6, "renoised sample " + at);
        }
    }

    [Fact]
    public void NonFiniteValuesAreCountedPerRow()
    {
        var be = CudaBackendParityTests.Backend(DType.F32);
        var (plan, sched) = Plan("mean", "", 16, 1);
        using var cpu = new CpuStepKernels(CpuBackend.Instance, plan, sched);
        using var gpu = new CudaStepKernels(be, plan);
        var y = Random(plan.UNetBatch * 6 * plan.Pixels, 12);
        y[7] = float.NaN;
        y[100] = float.PositiveInfinity;
        foreach (var k in new IStepKernels[] { cpu, gpu })
        {
            k.SetSample(Random(plan.SampleSize, 13));
            k.SetStep(0);
            k.Assemble();
            using (var t = k.Input.Backend.FromHost(y, new Shape(plan.UNetBatch, 6, 16, 16))) k.Guide(t);
            k.Update();
        }
        var counts = gpu.NonFiniteCounts();
        Assert.Equal(cpu.NonFiniteCounts(), counts);
        Assert.Equal(2, counts[0]);
    }

    [Fact]
    public void DynamicThresholdScaleEqualsTheSortedQuantile()
    {
        var be = CudaBackendParityTests.Backend(DType.F32);
        foreach (int size in new[] { 8, 64, 256 })
        {
            var (plan, sched) = Plan("mean", "", size, 2);
            using var gpu = new CudaStepKernels(be, plan);
            // A model output of pure noise predictions with many ties: x0 = (x − √(1−ᾱ)ε)/√ᾱ spans [−a, a] with repeats.
            var x = Random(plan.SampleSize, 14 + size, 3f).Select(v => MathF.Round(v * 8) / 8).ToArray();
            gpu.SetSample(x);
            gpu.SetStep(0);
            gpu.Assemble();
            using (var t = be.FromHost(new float[plan.UNetBatch * 6 * plan.Pixels], new Shape(plan.UNetBatch, 6, size, size))) gpu.Guide(t);
            gpu.Update();
            var x0 = new float[plan.SampleSize];
            gpu.ReadPredX0(x0);
            var row = plan.Rows[0];
            for (int b = 0; b < plan.Batch; b++)
            {
                var raw = x.AsSpan(b * 3 * plan.Pixels, 3 * plan.Pixels).ToArray().Select(v => v / row.SqrtAlphaBar).ToArray();
                float s = sched.ThresholdScale(raw);
                var want = raw.Select(v => Math.Clamp(v, -s, s) / s).ToArray();
                Gpu.AssertClose(x0.AsSpan(b * 3 * plan.Pixels, 3 * plan.Pixels), want, 1e-6, $"thresholded x0 {size}px image {b}");
            }
        }
    }

    public static TheoryData<string> Modes() => ["generate", "anagram", "hybrid", "inpaint", "repaint-jumps", "diffdiff", "upscale"];

    [Theory]
    [MemberData(nameof(Modes))]
    public void FusedRunOnTheGpuMatchesTheHostLoopOnTheCpu(string mode)
    {
        var be = CudaBackendParityTests.Backend(DType.F32);
        bool two = mode == "upscale";
        var dir = Path.Combine(Path.GetTempPath(), $"fastif-step-gpu-{Guid.NewGuid():N}");
        try
        {
            FastIF.Weights.RandomWeights.WriteUNet(UNetPresets.Get(two ? "tiny-ii" : "tiny"), dir, DType.F32, seed: two ? 4UL : 3UL, cancel: TestContext.Current.CancellationToken);
            // The CPU's order of operations on the GPU too: this holds the step kernels, not the UNet's rewrites.
            using var gpuUNet = UNet2DCondition.Load(dir, be, null, UNetOptions.AsDiffusers);
            var cpuUNet = two ? models.StageTwo : models.StageOne;
            float[] Run(UNet2DCondition unet, bool graph)
            {
                var r = Request(mode, unet, new PhiloxNoise(21));
                return Sampler.Run(r with { Graph = graph }, TestContext.Current.CancellationToken);
            }
            var want = Run(cpuUNet, graph: false);
            var eager = Run(gpuUNet, graph: false);
            var graphed = Run(gpuUNet, graph: true);
            // fp32 UNet on cuDNN/cuBLAS against the CPU over 4 steps; the step kernels add no error of their own.
            Gpu.AssertClose(eager, want, 1e-3, $"{mode}: fused GPU run vs CPU host loop");
            Gpu.AssertClose(graphed, eager, 1e-6, $"{mode}: graph-replayed vs eager GPU run");
        }
        finally { if (Directory.Exists(dir)) Directory.Delete(dir, true); }
    }

    private static SamplerRequest Request(string mode, UNet2DCondition unet, INoiseSource noise)
    {
        const int size = 16;
        int n = 2 * 3 * size * size;
        long[] steps = [900, 600, 300, 0];
        var text = new TextConditioning(Random(2 * 8 * 256, 30), Random(2 * 8 * 256, 31));
        var image = Random(n, 32);
        var mask = Random(size * size, 33).Select(v => v > 0 ? 1f : 0f).ToArray();
        var sched = Scheduler(mode == "upscale");
        var basic = IFPipelines.TextToImage(unet, sched, text, steps, 7f, 2, size, size, noise);
        return mode switch
        {
            "generate" => basic,
            "anagram" => basic with { Components = [new Component(text.Prompt, Views.Identity), new Component(Random(2 * 8 * 256, 34), Views.Rotate180)], Combiner = Combiners.Mean },
            "hybrid" => basic with { Components = [new Component(text.Prompt, Views.Identity), new Component(Random(2 * 8 * 256, 35), Views.Identity)], Combiner = Combiners.LowHighPass(5, 1.5f) },
            "inpaint" => IFPipelines.Inpaint(unet, sched, text, steps, 7f, 2, size, size, noise, image, mask, 1.0),
            "repaint-jumps" => basic with { Constraints = [new RePaintConstraint(image, mask)], Levels = RePaintSchedule.Levels(steps.Length, 2, 2) },
            "diffdiff" => basic with { Constraints = [new DifferentialDiffusionConstraint(image, mask.Select(v => v * 0.7f).ToArray(), soft: true)] },
            _ => IFPipelines.SuperResolution(unet, sched, new DdpmScheduler(SchedulerConfig.Parse(IFStage.ImageNoisingSchedulerJson, "noising")),
                new TextConditioning(text.Prompt[..(8 * 256)], text.Negative[..(8 * 256)]), steps, 4f, 1, size, size, noise, Random(3 * 8 * 8, 36), 8, 8, 100),
        };
    }

    private static void Compare(Action<Span<float>> cpu, Action<Span<float>> gpu, int n, double tol, string what)
    {
        var (a, b) = (new float[n], new float[n]);
        cpu(a);
        gpu(b);
        Gpu.AssertClose(b, a, tol, what);
    }
}
