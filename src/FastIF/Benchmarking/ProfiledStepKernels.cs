using FastIF.Sampling;
using FastIF.Tensors;

namespace FastIF.Benchmarking;

/// <summary>
/// Step kernels that time each of their operations into an <see cref="OpProfiler"/>'s profile (as <c>step.assemble</c>,
/// <c>step.guide</c>, ...), so a profiled sampling step shows the fused kernels beside the UNet's ops. Bytes are those of
/// the tensors each operation reads and writes.
/// </summary>
public sealed class ProfiledStepKernels(IStepKernels inner, OpProfiler profiler) : IStepKernels
{
    private long Sample => (long)inner.Plan.SampleSize * 4;
    private string Shape => $"[{inner.Plan.Batch}, 3, {inner.Plan.Height}, {inner.Plan.Width}]";

    /// <inheritdoc/>
    public StepPlan Plan => inner.Plan;
    /// <inheritdoc/>
    public Tensor Input => inner.Input;
    /// <inheritdoc/>
    public Tensor Timesteps => inner.Timesteps;
    /// <inheritdoc/>
    public void SetStep(int row) => inner.SetStep(row);
    /// <inheritdoc/>
    public void SetSample(ReadOnlySpan<float> x) => inner.SetSample(x);
    /// <inheritdoc/>
    public void ReadSample(Span<float> x) => inner.ReadSample(x);
    /// <inheritdoc/>
    public void ReadStepInput(Span<float> x) => inner.ReadStepInput(x);
    /// <inheritdoc/>
    public void ReadUNetOutput(Span<float> dst) => inner.ReadUNetOutput(dst);
    /// <inheritdoc/>
    public void ReadModelOutput(Span<float> dst) => inner.ReadModelOutput(dst);
    /// <inheritdoc/>
    public void ReadPredX0(Span<float> dst) => inner.ReadPredX0(dst);
    /// <inheritdoc/>
    public long[] NonFiniteCounts() => inner.NonFiniteCounts();

    /// <inheritdoc/>
    public void BeforeStep()
    {
        if (Plan.Before == null) return;
        profiler.Measure("step.before", Shape, 3 * Sample, inner.BeforeStep);
    }

    /// <inheritdoc/>
    public void Assemble() => profiler.Measure("step.assemble", $"{Shape} -> {Input.Shape}",
        Sample * (Plan.InChannels / 3) + Input.Shape.Elements * Input.Storage.Size(), inner.Assemble);

    /// <inheritdoc/>
    public void Guide(Tensor unetOutput) => profiler.Measure("step.guide", $"{unetOutput.Shape} -> [{Plan.Batch}, 6, {Plan.Height}, {Plan.Width}]",
        unetOutput.Shape.Elements * unetOutput.Storage.Size() * 2 + 2 * Sample, () => inner.Guide(unetOutput));

    /// <inheritdoc/>
    public void Update() => profiler.Measure("step.update", Shape, 2 * Sample + 6 * Sample, inner.Update);

    /// <inheritdoc/>
    public void Renoise(in StepMove move)
    {
        var m = move;
        profiler.Measure("step.renoise", Shape, 2 * Sample, () => inner.Renoise(m));
    }

    /// <summary>Releases the wrapped kernels.</summary>
    public void Dispose() => inner.Dispose();
}
