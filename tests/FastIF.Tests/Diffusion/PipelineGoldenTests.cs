using System.Text.Json;
using FastIF.Backends.Cpu;
using FastIF.Diffusion;
using FastIF.Models.UNet;
using FastIF.Pipelines;
using FastIF.Sampling;
using FastIF.Weights;

namespace FastIF.Tests.Diffusion;

/// <summary>
/// The diffusers IF pipelines replayed with their recorded draws: every step's input, UNet output, guided estimate,
/// x0 and x_prev, and the output. Our own UNet runs at every step, so the fixture README's pipeline tolerance applies.
/// </summary>
[Collection("gpu")]
public class PipelineGoldenTests
{
    // Fixture README: ~5e-3 absolute when the implementation runs its own UNet for every step (guidance and the
    // learned variance amplify single-call differences of ~1e-5).
    internal const double PipelineAbs = 5e-3;

    // One UNet call: ~1e-5 absolute (fixture README: fp32 vs fp64 of the reference itself), with margin.
    internal const double SingleCallAbs = 1e-4;

    // Relative part for x_prev, whose learned-variance noise term scales errors with its (large) magnitude.
    internal const double VarianceRel = 1e-3;

    public static TheoryData<string> Files()
    {
        var data = new TheoryData<string>();
        var root = Fixtures.Root;
        var dir = root == null ? null : Path.Combine(root, "if");
        if (dir == null || !Directory.Exists(dir))
        {
            if (Fixtures.Explicit) throw new InvalidOperationException($"missing {dir}");
            data.Add("");
            return data;
        }
        foreach (var f in Directory.GetFiles(dir, "pipeline_*.safetensors").Order()) data.Add(Path.GetFileName(f));
        return data;
    }

    /// <summary>Teacher forcing: each step starts from diffusers' recorded x_t, so errors cannot compound.</summary>
    private sealed class RecordedInput(SafetensorsFile f) : IConstraint
    {
        public void BeforeStep(StepState s) => f.ReadFloat32($"step.{s.Index:D3}.x_t").CopyTo(s.X, 0);
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void PipelineMatchesDiffusers(string file) => Run(file, teacherForced: false);

    [Theory]
    [MemberData(nameof(Files))]
    public void EveryStepMatchesFromRecordedInputs(string file) => Run(file, teacherForced: true);

    /// <summary>The fused step (plan + CPU twin kernels) against diffusers directly, not only against the host loop.</summary>
    [Theory]
    [MemberData(nameof(Files))]
    public void TheFusedStepMatchesDiffusers(string file) => Run(file, teacherForced: false, fused: true);

    /// <summary>The fused step on the GPU (fp32 storage, graph-replayed) against diffusers; skips without a GPU.</summary>
    [Theory]
    [MemberData(nameof(Files))]
    public void TheFusedStepOnTheGpuMatchesDiffusers(string file)
    {
        if (file == "") Assert.Skip("golden fixtures not found");
        // Free-running inpainting amplifies reordered fp32 sums: the CPU, in diffusers' order, sits at 0.77 of this
        // tolerance. The CUDA backend's orders (cuDNN, cuBLAS, two-pass GroupNorm) took step 4 to 1.2x of it on the CUDA
        // emulator. The fused inpaint step is held to the CPU host loop instead (CudaStepKernelTests, mode "inpaint").
        if (file.Contains("inpaint"))
            Assert.Skip("free-running inpainting exceeds the diffusers tolerance under the GPU's summation orders (1.2x on the CUDA emulator); see CudaStepKernelTests");
        Run(file, teacherForced: false, fused: true, backend: Cuda.CudaBackendParityTests.Backend(Tensors.DType.F32));
    }

    /// <summary>
    /// The GPU UNet (fp32) inside every pipeline, inpainting included, each step from diffusers' recorded input, so the
    /// GPU's summation orders cannot compound; skips without a GPU.
    /// </summary>
    [Theory]
    [MemberData(nameof(Files))]
    public void EveryStepOnTheGpuMatchesFromRecordedInputs(string file)
    {
        if (file == "") Assert.Skip("golden fixtures not found");
        Run(file, teacherForced: true, backend: Cuda.CudaBackendParityTests.Backend(Tensors.DType.F32));
    }

    private static void Run(string file, bool teacherForced, bool fused = false, Backends.IBackend? backend = null)
    {
        if (file == "") Assert.Skip("golden fixtures not found");
        var ifDir = Fixtures.Require("if");
        using var f = SafetensorsFile.Open(Path.Combine(ifDir, file));
        var kind = f.Metadata["kind"];
        using var call = JsonDocument.Parse(f.Metadata["call"]);
        var c = call.RootElement;
        bool stage2 = kind == "IFSuperResolutionPipeline";
        // diffusers' order of operations on every backend: free-running pipelines amplify reordered sums, and what these
        // tests hold is the sampler and the fused step (the UNet's rewrites answer to UNetGoldenTests and CudaUNetTests).
        using var unet = UNet2DCondition.Load(Path.Combine(ifDir, stage2 ? "if2_tiny" : "if1_tiny"), backend ?? CpuBackend.Instance,
            options: UNetOptions.AsDiffusers);
        var scheduler = new DdpmScheduler(SchedulerConfig.Load(Path.Combine(ifDir, stage2 ? "scheduler_if2" : "scheduler_if1", "scheduler_config.json")));
        int b = c.GetProperty("B").GetInt32(), h = c.GetProperty("H").GetInt32(), w = c.GetProperty("W").GetInt32();
        float g = c.GetProperty("guidance").GetSingle();
        var timesteps = c.TryGetProperty("timesteps", out var tl) && tl.ValueKind == JsonValueKind.Array
            ? TimestepLists.Custom(tl.EnumerateArray().Select(x => x.GetInt64()).ToList())
            : TimestepLists.Leading(c.GetProperty("steps").GetInt32());
        var draws = f.Entries.Where(e => e.Name.StartsWith("randn.")).Select(e => e.Name).Order().Select(f.ReadFloat32).ToList();
        var noise = new RecordedNoise(draws);
        var text = new TextConditioning(f.ReadFloat32("prompt_embeds"), f.ReadFloat32("negative_prompt_embeds"));

        SamplerRequest req = kind switch
        {
            "IFPipeline" => IFPipelines.TextToImage(unet, scheduler, text, timesteps, g, b, h, w, noise),
            "IFImg2ImgPipeline" => IFPipelines.ImageToImage(unet, scheduler, text, timesteps, g, b, h, w, noise,
                f.ReadFloat32("image"), c.GetProperty("strength").GetDouble()),
            "IFInpaintingPipeline" => IFPipelines.Inpaint(unet, scheduler, text, timesteps, g, b, h, w, noise,
                f.ReadFloat32("image"), f.ReadFloat32("mask_image"), c.GetProperty("strength").GetDouble()),
            "IFSuperResolutionPipeline" => IFPipelines.SuperResolution(unet, scheduler,
                new DdpmScheduler(SchedulerConfig.Load(Path.Combine(ifDir, "image_noising_scheduler_if2", "scheduler_config.json"))),
                text, timesteps, g, b, h, w, noise, f.ReadFloat32("low_res_image"), c.GetProperty("low").GetInt32(),
                c.GetProperty("low").GetInt32(), c.GetProperty("noise_level").GetInt32()),
            _ => throw new InvalidOperationException($"unknown pipeline kind {kind}"),
        };
        Assert.Equal(f.ReadInt64("timesteps"), req.Timesteps);
        if (stage2)
        {
            Numerics.AssertClose("upscaled_noised", f.ReadFloat32("upscaled_noised"), req.Conditioning!, 1e-5, 1e-5);
        }

        int steps = 0;
        var output = Sampler.Run(req with
        {
            Fused = fused,
            Constraints = teacherForced ? [new RecordedInput(f), .. req.Constraints] : req.Constraints,
            OnStep = s =>
            {
                string p = $"step.{s.Index:D3}.";
                double single = teacherForced ? SingleCallAbs : PipelineAbs;
                // Free running, a step's inputs already carry the earlier steps' (relative) differences.
                double inherited = teacherForced ? 0 : VarianceRel;
                Check(f, p + "x_t", s.X, single, VarianceRel);
                Check(f, p + "unet_output", s.UNetOutput, single, inherited);
                // Guidance multiplies UNet differences by up to 1 + 2g; the learned variance scales them with the
                // noise it adds, hence a relative part for x_prev (values reach the hundreds with random tiny UNets).
                Check(f, p + "model_output", s.ModelOutput, single * (1 + 2 * g), inherited);
                Check(f, p + "pred_original_sample", s.PredX0, single * (1 + 2 * g), inherited);
                Check(f, p + (f.TryGetEntry(p + "x_prev_blended", out _) ? "x_prev_blended" : "x_prev"), s.XPrev,
                    single * (1 + 2 * g), VarianceRel);
                steps++;
            },
        }, TestContext.Current.CancellationToken);
        Assert.Equal(req.Timesteps.Length, steps);
        Assert.Equal(0, noise.Remaining);
        if (!teacherForced) Check(f, "output", output, PipelineAbs, VarianceRel);
    }

    private static void Check(SafetensorsFile f, string name, float[] actual, double abs, double rel = 0)
        => Numerics.AssertWithin($"{Path.GetFileName(f.Path)} {name}", f.ReadFloat32(name), actual, abs, rel);
}
