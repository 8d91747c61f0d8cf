using FastIF.Tensors;

namespace FastIF.Sampling;

/// <summary>
/// The fused per-step operations of one backend over a <see cref="StepPlan"/>'s state (sample, estimates, step table,
/// step counter), all held in that backend's memory. Nothing here takes a per-step argument from the host: every
/// operation reads the row of the current step from the table, and <see cref="Update"/> advances the counter, so a whole
/// step can be captured once as a CUDA graph and replayed. <see cref="CpuStepKernels"/> is the twin the GPU kernels
/// (<c>Backends.Cuda.CudaStepKernels</c>, kernels/step.cu) are tested against.
/// </summary>
public interface IStepKernels : IDisposable
{
    /// <summary>The plan the state was built from.</summary>
    StepPlan Plan { get; }

    /// <summary>The UNet input batch <c>[UNetBatch, C_in, H, W]</c>, rewritten by <see cref="Assemble"/>.</summary>
    Tensor Input { get; }

    /// <summary>The UNet timesteps <c>[UNetBatch]</c>, rewritten by <see cref="Assemble"/>.</summary>
    Tensor Timesteps { get; }

    /// <summary>Sets the step counter (host write; outside any graph).</summary>
    void SetStep(int row);

    /// <summary>Writes the sample <c>[B, 3, H, W]</c>.</summary>
    void SetSample(ReadOnlySpan<float> x);

    /// <summary>Reads the sample.</summary>
    void ReadSample(Span<float> x);

    /// <summary>Reads x_t as the last <see cref="Update"/> saw it (after any before-step constraint).</summary>
    void ReadStepInput(Span<float> x);

    /// <summary>Reads the last raw UNet output <c>[UNetBatch, 6, H, W]</c> (kept by <see cref="Guide"/> for traces).</summary>
    void ReadUNetOutput(Span<float> dst);

    /// <summary>Reads the last combined estimate <c>[B, 6, H, W]</c>.</summary>
    void ReadModelOutput(Span<float> dst);

    /// <summary>Reads the last (bounded) predicted x0 <c>[B, 3, H, W]</c>.</summary>
    void ReadPredX0(Span<float> dst);

    /// <summary>Differential diffusion's reset of x toward the original noised to t (nothing without that constraint).</summary>
    void BeforeStep();

    /// <summary>The UNet batch: every (CFG half, component, image) sees its view of x (and the conditioning image); the timesteps.</summary>
    void Assemble();

    /// <summary>CFG mixing of the UNet output, inverse views, then the combiner: the step's model output.</summary>
    void Guide(Tensor unetOutput);

    /// <summary>x0, its bound, the posterior mean plus variance noise, the after-step constraint into x; counts non-finite
    /// values; advances the step counter.</summary>
    void Update();

    /// <summary>A forward re-noising move: <c>x ← A·x + S·z</c>.</summary>
    void Renoise(in StepMove move);

    /// <summary>Per row: non-finite values in the UNet output and in the new sample (reads device memory: synchronizes).</summary>
    long[] NonFiniteCounts();
}
