using FastIF.Backends;
using FastIF.Backends.Cpu;
using FastIF.Backends.Cuda;
using FastIF.Diffusion;

namespace FastIF.Sampling;

/// <summary>
/// The sampling loop over a <see cref="StepPlan"/>: per step the backend's step kernels assemble the UNet batch, the UNet
/// runs, and the kernels guide, combine, step and constrain, reading everything from the plan's table. On a CUDA backend
/// the first step runs eagerly and the second is captured as one graph (UNet included) that every later step replays:
/// the host only launches. Same draws, same order, same arithmetic as <see cref="Sampler.Run"/>'s host loop.
/// </summary>
public static class FusedSampler
{
    /// <summary>Runs <paramref name="r"/> and returns the final sample <c>[B, 3, H, W]</c>.</summary>
    /// <remarks>
    /// Non-finite values are counted on the device and reported after the run (after each step when
    /// <see cref="SamplerRequest.OnStep"/> is set, which reads the step's tensors back and so synchronizes).
    /// </remarks>
    public static float[] Run(SamplerRequest r, CancellationToken cancel = default)
    {
        var unet = r.UNet;
        var be = unet.Backend ?? throw new InvalidOperationException("UNet has no weights loaded");
        var plan = StepPlan.Build(r);
        // The UNet may run through a counting or profiling decorator; the step's state belongs to the backend under it.
        var device = be.Innermost();
        using var k = CreateKernels(device, plan, r.Scheduler);
        k.SetSample(r.Start);
        k.SetStep(0);
        using var ehs = Sampler.TextStates(r, device, plan.Halves);
        using var cls = Sampler.ClassLabels(r, device, plan.UNetBatch);
        void Step()
        {
            k.BeforeStep();
            k.Assemble();
            using (var y = unet.Forward(k.Input, k.Timesteps, ehs, cls)) k.Guide(y);
            k.Update();
        }
        using var runner = device is CudaBackend cuda && r.Graph ? new CudaStepGraph(cuda, Step) : null;
        int steps = plan.Rows.Length;
        foreach (var move in plan.Moves)
        {
            cancel.ThrowIfCancellationRequested();
            if (move.Row < 0)
            {
                k.Renoise(move);
                continue;
            }
            int token = r.StepClock?.Start() ?? -1;
            if (runner != null) runner.Run();
            else Step();
            r.StepClock?.Stop(token);
            if (r.OnStep == null) continue;
            if (r.CheckFinite) RequireFinite(r, plan, k.NonFiniteCounts(), move.Row);
            r.OnStep(Trace(k, plan, move.Row));
        }
        if (r.CheckFinite) RequireFinite(r, plan, k.NonFiniteCounts(), steps - 1);
        var x = new float[plan.SampleSize];
        k.ReadSample(x);
        return x;
    }

    /// <summary>The step kernels of <paramref name="backend"/> for <paramref name="plan"/>.</summary>
    public static IStepKernels CreateKernels(IBackend backend, StepPlan plan, DdpmScheduler scheduler) => backend switch
    {
        CpuBackend cpu => new CpuStepKernels(cpu, plan, scheduler),
        CudaBackend cuda => new CudaStepKernels(cuda, plan),
        _ => throw new FastIFException($"backend {backend.Name} has no fused step kernels"),
    };

    private static StepTrace Trace(IStepKernels k, StepPlan plan, int row)
    {
        var x = new float[plan.SampleSize];
        var prev = new float[plan.SampleSize];
        var x0 = new float[plan.SampleSize];
        var model = new float[2 * plan.SampleSize];
        var raw = new float[plan.UNetBatch * 6 * plan.Pixels];
        k.ReadStepInput(x);
        k.ReadSample(prev);
        k.ReadPredX0(x0);
        k.ReadModelOutput(model);
        k.ReadUNetOutput(raw);
        return new StepTrace(row, plan.Timesteps[row], x, raw, model, x0, prev);
    }

    /// <summary>Throws for the first of rows 0..<paramref name="last"/> that produced NaN or Inf.</summary>
    private static void RequireFinite(SamplerRequest r, StepPlan plan, long[] counts, int last)
    {
        for (int row = 0; row <= last; row++)
        {
            long output = counts[2 * row], sample = counts[2 * row + 1];
            if (output > 0)
                throw Sampler.NonFinite(r, "the UNet output", row, plan.Rows.Length, plan.Timesteps[row], output, (long)plan.UNetBatch * 6 * plan.Pixels, "counted on the device");
            if (sample > 0)
                throw Sampler.NonFinite(r, "the new sample", row, plan.Rows.Length, plan.Timesteps[row], sample, plan.SampleSize, "counted on the device");
        }
    }
}
