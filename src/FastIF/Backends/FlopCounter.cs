using FastIF.Tensors;

namespace FastIF.Backends;

/// <summary>
/// A decorator that forwards every op to an inner backend and counts its FLOPs from the shapes it sees, so the
/// count comes from the graph actually built, not from a formula kept beside it. GEMM-like ops count 2 per
/// multiply-accumulate; norms, activations and elementwise ops count one per element read (a convention).
/// </summary>
public sealed class FlopCounter(IBackend inner) : IBackend
{
    /// <summary>The backend this decorator wraps.</summary>
    public IBackend Inner => inner;

    private readonly Dictionary<string, double> _flops = [];

    /// <summary>FLOPs per op kind since creation or <see cref="Reset"/>.</summary>
    public IReadOnlyDictionary<string, double> ByOp => _flops;

    /// <summary>Total FLOPs counted.</summary>
    public double Total => _flops.Values.Sum();

    /// <summary>Clears the counts.</summary>
    public void Reset() => _flops.Clear();

    private Tensor Count(string op, double flops, Tensor result)
    {
        _flops[op] = _flops.GetValueOrDefault(op) + flops;
        return result;
    }

    /// <inheritdoc/>
    public string Name => inner.Name;
    /// <inheritdoc/>
    public void Dispose() { }
    /// <inheritdoc/>
    public Tensor FromHost(ReadOnlySpan<float> data, Shape shape) => inner.FromHost(data, shape);
    /// <inheritdoc/>
    public void ToHost(Tensor t, Span<float> dest) => inner.ToHost(t, dest);
    /// <inheritdoc/>
    public Tensor LoadWeight(ReadOnlySpan<byte> raw, DType dtype, Shape shape) => inner.LoadWeight(raw, dtype, shape);
    /// <inheritdoc/>
    public void LoadFinished() => inner.LoadFinished();

    /// <inheritdoc/>
    public Tensor Conv2d(Tensor x, Tensor w, Tensor? bias, int padding, Tensor? residual = null, float outScale = 1f,
        bool upsampledResidual = false)
    {
        var y = inner.Conv2d(x, w, bias, padding, residual, outScale, upsampledResidual);
        return Count("conv2d", 2.0 * y.Shape.Elements * w.Shape[1] * w.Shape[2] * w.Shape[3], y);
    }

    /// <inheritdoc/>
    public Tensor Linear(Tensor x, Tensor w, Tensor? bias, Activation act = Activation.None, Tensor? residual = null)
    {
        var y = Count("linear", 2.0 * (x.Shape.Elements / w.Shape[1]) * w.Shape[0] * w.Shape[1], inner.Linear(x, w, bias, act, residual));
        // The residual's add, as Add or FromTokens count it.
        return residual == null ? y : Count("elementwise", y.Shape.Elements, y);
    }

    /// <inheritdoc/>
    public Tensor GroupNorm(Tensor x, int groups, float eps, Tensor gamma, Tensor beta, Tensor? scaleShift = null, Activation act = Activation.None,
        Tensor? inputBias = null)
        => Count("norm", x.Shape.Elements, inner.GroupNorm(x, groups, eps, gamma, beta, scaleShift, act, inputBias));

    /// <inheritdoc/>
    public Tensor GroupNormPool2x(Tensor x, int groups, float eps, Tensor gamma, Tensor beta, Activation act = Activation.None)
    {
        // What GroupNorm and AvgPool2x2 count apart: one per element read, each.
        var y = Count("norm", x.Shape.Elements, inner.GroupNormPool2x(x, groups, eps, gamma, beta, act));
        return Count("elementwise", x.Shape.Elements, y);
    }

    /// <inheritdoc/>
    public Tensor GroupNormTokens(Tensor x, int groups, float eps, Tensor gamma, Tensor beta)
        => Count("norm", x.Shape.Elements, inner.GroupNormTokens(x, groups, eps, gamma, beta));

    /// <inheritdoc/>
    public Tensor LayerNorm(Tensor x, float eps, Tensor gamma, Tensor beta)
        => Count("norm", x.Shape.Elements, inner.LayerNorm(x, eps, gamma, beta));

    /// <inheritdoc/>
    public Tensor RmsNorm(Tensor x, float eps, Tensor gamma) => Count("norm", x.Shape.Elements, inner.RmsNorm(x, eps, gamma));

    /// <inheritdoc/>
    public Tensor Multiply(Tensor a, Tensor b, Activation actA = Activation.None) =>
        Count("elementwise", a.Shape.Elements * (actA == Activation.None ? 1 : 2), inner.Multiply(a, b, actA));

    /// <inheritdoc/>
    public Tensor Reshape(Tensor x, Shape shape) => inner.Reshape(x, shape);

    /// <inheritdoc/>
    public Tensor Activate(Tensor x, Activation act) => Count("elementwise", x.Shape.Elements, inner.Activate(x, act));

    /// <inheritdoc/>
    public Tensor Add(Tensor a, Tensor b) => Count("elementwise", a.Shape.Elements, inner.Add(a, b));

    /// <inheritdoc/>
    public Tensor AvgPool2x2(Tensor x) => Count("elementwise", x.Shape.Elements, inner.AvgPool2x2(x));

    /// <inheritdoc/>
    public Tensor UpsampleNearest2x(Tensor x) => inner.UpsampleNearest2x(x);

    /// <inheritdoc/>
    public Tensor ShufflePhases2x(Tensor phases) => inner.ShufflePhases2x(phases);

    /// <inheritdoc/>
    public Tensor ConcatChannels(Tensor a, Tensor b) => inner.ConcatChannels(a, b);

    /// <inheritdoc/>
    public Tensor ConcatTokens(Tensor a, Tensor b) => inner.ConcatTokens(a, b);

    // The concat-reading ops count what their composition counts (the concat itself counts nothing).

    /// <inheritdoc/>
    public Tensor GroupNormConcat(Tensor a, Tensor b, int groups, float eps, Tensor gamma, Tensor beta, Activation act = Activation.None)
        => Count("norm", a.Shape.Elements + b.Shape.Elements, inner.GroupNormConcat(a, b, groups, eps, gamma, beta, act));

    /// <inheritdoc/>
    public Tensor Conv1x1Concat(Tensor a, Tensor b, Tensor w, Tensor? bias)
    {
        var y = inner.Conv1x1Concat(a, b, w, bias);
        return Count("conv2d", 2.0 * y.Shape.Elements * w.Shape[1], y);
    }

    /// <inheritdoc/>
    public Tensor MeanTokens(Tensor x) => Count("elementwise", x.Shape.Elements, inner.MeanTokens(x));

    /// <inheritdoc/>
    public Tensor ToTokens(Tensor x) => inner.ToTokens(x);

    /// <inheritdoc/>
    public Tensor FromTokens(Tensor x, int height, int width, Tensor? residual = null)
        => Count("elementwise", residual == null ? 0 : x.Shape.Elements, inner.FromTokens(x, height, width, residual));

    /// <inheritdoc/>
    public Tensor Attention(Tensor q, Tensor k, Tensor v, int heads, float scale, Tensor? k2 = null, Tensor? v2 = null, Tensor? scoreBias = null)
    {
        long keys = k.Shape[1] + (k2?.Shape[1] ?? 0);
        // Q·Kᵀ and P·V: 2 GEMMs of B·Nq·keys·C multiply-accumulates each.
        return Count("attention", 4.0 * q.Shape[0] * q.Shape[1] * keys * q.Shape[2], inner.Attention(q, k, v, heads, scale, k2, v2, scoreBias));
    }

    /// <inheritdoc/>
    public Tensor Sinusoid(Tensor timesteps, int dim, bool flipSinToCos, float freqShift)
        => inner.Sinusoid(timesteps, dim, flipSinToCos, freqShift);
}
