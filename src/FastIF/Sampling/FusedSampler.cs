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
        using var run = FusedRun.Start(r);
        var (plan, k) = (run.Plan, run.Kernels);
        using var runner = run.Device is CudaBackend cuda && r.Graph ? new CudaStepGraph(cuda, run.Step) : null;
        // Without per-step reads (OnStep) nothing else would stop the host from queueing the whole run at once.
        using var throttle = run.Device is CudaBackend gpu ? new CudaStepThrottle(gpu) : null;
        int steps = plan.Rows.Length;
        foreach (var move in plan.Moves)
        {
            cancel.ThrowIfCancellationRequested();
            if (move.Row < 0)
            {
                k.Renoise(move);
                continue;
            }
            throttle?.BeforeStep();
            int token = r.StepClock?.Start() ?? -1;
            if (runner != null) runner.Run();
            else run.Step();
            r.StepClock?.Stop(token);
            throttle?.AfterStep();
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

/// <summary>
/// The state of one fused sampling run: the plan, the backend's step kernels holding the sample, and the text states;
/// <see cref="Step"/> is the one definition of a step (before-constraint, assemble, UNet, guide, update) that the sampler
/// replays and the profiler times.
/// </summary>
public sealed class FusedRun : IDisposable
{
    private readonly Models.UNet.UNet2DCondition _unet;
    private readonly Tensors.Tensor _ehs;
    private readonly Tensors.Tensor? _cls;

    private FusedRun(SamplerRequest r, StepPlan plan, IBackend device, IStepKernels kernels, Tensors.Tensor ehs, Tensors.Tensor? cls)
    {
        (_unet, Plan, Device, Kernels, _ehs, _cls) = (r.UNet, plan, device, kernels, ehs, cls);
    }

    /// <summary>The plan.</summary>
    public StepPlan Plan { get; }
    /// <summary>The backend the state lives on (under any decorator the UNet runs through).</summary>
    public IBackend Device { get; }
    /// <summary>The step kernels (after <c>decorate</c>).</summary>
    public IStepKernels Kernels { get; }

    /// <summary>
    /// Plans <paramref name="r"/> (consuming its draws), creates the step kernels of its UNet's backend (wrapped by
    /// <paramref name="decorate"/>, e.g. to time them), uploads the start sample and text states, and sets step 0.
    /// </summary>
    public static FusedRun Start(SamplerRequest r, Func<IStepKernels, IStepKernels>? decorate = null)
    {
        var be = r.UNet.Backend ?? throw new InvalidOperationException("UNet has no weights loaded");
        var plan = StepPlan.Build(r);
        // The UNet may run through a counting or profiling decorator; the step's state belongs to the backend under it.
        var device = be.Innermost();
        var k = FusedSampler.CreateKernels(device, plan, r.Scheduler);
        Tensors.Tensor? ehs = null;
        try
        {
            if (decorate != null) k = decorate(k);
            k.SetSample(r.Start);
            k.SetStep(0);
            ehs = Sampler.TextStates(r, device, plan.Halves);
            return new FusedRun(r, plan, device, k, ehs, Sampler.ClassLabels(r, device, plan.UNetBatch));
        }
        catch
        {
            ehs?.Dispose();
            k.Dispose();
            throw;
        }
    }

    /// <summary>Queues the current step.</summary>
    public void Step()
    {
        var k = Kernels;
        k.BeforeStep();
        k.Assemble();
        using (var y = _unet.Forward(k.Input, k.Timesteps, _ehs, _cls)) k.Guide(y);
        k.Update();
    }

    /// <summary>Releases the kernels' state and the text states.</summary>
    public void Dispose()
    {
        Kernels.Dispose();
        _ehs.Dispose();
        _cls?.Dispose();
    }
}
