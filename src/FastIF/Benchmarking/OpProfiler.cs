using System.Diagnostics;
using FastIF.Backends;
using FastIF.Native;
using FastIF.Tensors;

namespace FastIF.Benchmarking;

/// <summary>One op call as the profiler saw it.</summary>
/// <param name="Op">The op kind (conv2d, linear, attention, groupnorm, ...).</param>
/// <param name="Shapes">The input shapes, then "->" and the output shape.</param>
/// <param name="Ms">Time of the call (CUDA events on a GPU backend, a monotonic clock on the CPU).</param>
/// <param name="Flops">FLOPs counted from the shapes (the <see cref="FlopCounter"/> conventions).</param>
/// <param name="Bytes">Bytes of the inputs read plus the output written, in their storage types.</param>
public sealed record OpCall(string Op, string Shapes, double Ms, double Flops, long Bytes);

/// <summary>Brackets each op with a start and a stop mark; a GPU clock resolves its marks only in <see cref="Resolve"/>.</summary>
public interface IOpClock : IDisposable
{
    /// <summary>Marks the start of an op; returns a token for <see cref="Stop"/>.</summary>
    int Start();
    /// <summary>Marks the end of the op begun with <paramref name="token"/>.</summary>
    void Stop(int token);
    /// <summary>Milliseconds of every started op, in start order (waits for the device when needed), and forgets them.</summary>
    double[] Resolve();
}

/// <summary>A host clock: right for backends whose ops return when done (the CPU backend).</summary>
public sealed class HostOpClock : IOpClock
{
    private readonly List<(long Start, long Stop)> _marks = [];

    /// <inheritdoc/>
    public int Start()
    {
        _marks.Add((Stopwatch.GetTimestamp(), 0));
        return _marks.Count - 1;
    }

    /// <inheritdoc/>
    public void Stop(int token) => _marks[token] = (_marks[token].Start, Stopwatch.GetTimestamp());

    /// <inheritdoc/>
    public double[] Resolve()
    {
        var ms = _marks.Select(m => (m.Stop - m.Start) * 1000.0 / Stopwatch.Frequency).ToArray();
        _marks.Clear();
        return ms;
    }

    /// <inheritdoc/>
    public void Dispose() { }
}

/// <summary>
/// A decorator that times every op of a forward pass and counts its FLOPs and bytes, for <c>fastif profile</c>: the
/// per-op and per-kind table of one un-graphed step. Ops forward to the inner backend unchanged. Each op is also an NVTX
/// range named like its table row (<see cref="Nvtx"/>), for Nsight timelines.
/// </summary>
public sealed class OpProfiler(IBackend inner, IOpClock clock) : IBackend
{
    /// <summary>The backend this decorator wraps.</summary>
    public IBackend Inner => inner;

    private readonly FlopCounter _flops = new(inner);
    private readonly List<(string Op, string Shapes, double Flops, long Bytes)> _pending = [];

    /// <summary>The calls recorded since the last <see cref="Collect"/>, with their times resolved.</summary>
    public IReadOnlyList<OpCall> Collect()
    {
        var ms = clock.Resolve();
        var calls = _pending.Select((p, i) => new OpCall(p.Op, p.Shapes, ms[i], p.Flops, p.Bytes)).ToList();
        _pending.Clear();
        return calls;
    }

    /// <summary>Times work that is not a backend op (the fused step's kernels) into the same profile, with no FLOPs and the
    /// bytes its tensors hold.</summary>
    public void Measure(string op, string shapes, long bytes, Action work)
    {
        int token = clock.Start();
        Nvtx.Push(op);
        try { work(); }
        finally { Nvtx.Pop(); }
        clock.Stop(token);
        _pending.Add((op, shapes, 0, bytes));
    }

    private Tensor Run(string op, Func<Tensor> call, params Tensor?[] inputs)
    {
        double before = _flops.Total;
        int token = clock.Start();
        // The same name as the tables print, so an nsys/ncu timeline lines up with this profile (free without a tool).
        Nvtx.Push(op);
        Tensor y;
        try { y = call(); }
        finally { Nvtx.Pop(); }
        clock.Stop(token);
        long bytes = y.Shape.Elements * y.Storage.Size();
        foreach (var t in inputs) if (t != null) bytes += t.Shape.Elements * t.Storage.Size();
        var shapes = string.Join(" ", inputs.Where(t => t != null).Select(t => t!.Shape.ToString())) + " -> " + y.Shape;
        _pending.Add((op, shapes, _flops.Total - before, bytes));
        return y;
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
        bool upsampledResidual = false) =>
        Run($"conv2d {w.Shape[2]}x{w.Shape[3]}", () => _flops.Conv2d(x, w, bias, padding, residual, outScale, upsampledResidual), x, w, bias, residual);
    /// <inheritdoc/>
    public Tensor Linear(Tensor x, Tensor w, Tensor? bias, Activation act = Activation.None, Tensor? residual = null) =>
        Run("linear", () => _flops.Linear(x, w, bias, act, residual), x, w, bias, residual);
    /// <inheritdoc/>
    public Tensor GroupNorm(Tensor x, int groups, float eps, Tensor gamma, Tensor beta, Tensor? scaleShift = null, Activation act = Activation.None,
        Tensor? inputBias = null) =>
        Run("groupnorm", () => _flops.GroupNorm(x, groups, eps, gamma, beta, scaleShift, act, inputBias), x, gamma, beta, scaleShift, inputBias);
    /// <inheritdoc/>
    public Tensor GroupNormPool2x(Tensor x, int groups, float eps, Tensor gamma, Tensor beta, Activation act = Activation.None) =>
        Run("groupnorm", () => _flops.GroupNormPool2x(x, groups, eps, gamma, beta, act), x, gamma, beta);
    /// <inheritdoc/>
    public Tensor GroupNormTokens(Tensor x, int groups, float eps, Tensor gamma, Tensor beta) =>
        Run("groupnorm", () => _flops.GroupNormTokens(x, groups, eps, gamma, beta), x, gamma, beta);
    /// <inheritdoc/>
    public Tensor LayerNorm(Tensor x, float eps, Tensor gamma, Tensor beta) => Run("layernorm", () => _flops.LayerNorm(x, eps, gamma, beta), x, gamma, beta);
    /// <inheritdoc/>
    public Tensor Reshape(Tensor x, Shape shape) => inner.Reshape(x, shape);
    /// <inheritdoc/>
    public Tensor Activate(Tensor x, Activation act) => Run("activate", () => _flops.Activate(x, act), x);
    /// <inheritdoc/>
    public Tensor Add(Tensor a, Tensor b) => Run("add", () => _flops.Add(a, b), a, b);
    /// <inheritdoc/>
    public Tensor AvgPool2x2(Tensor x) => Run("avgpool", () => _flops.AvgPool2x2(x), x);
    /// <inheritdoc/>
    public Tensor UpsampleNearest2x(Tensor x) => Run("upsample", () => _flops.UpsampleNearest2x(x), x);
    /// <inheritdoc/>
    public Tensor ShufflePhases2x(Tensor phases) => Run("upsample", () => _flops.ShufflePhases2x(phases), phases);
    /// <inheritdoc/>
    public Tensor ConcatChannels(Tensor a, Tensor b) => Run("concat", () => _flops.ConcatChannels(a, b), a, b);
    /// <inheritdoc/>
    public Tensor ConcatTokens(Tensor a, Tensor b) => Run("concat", () => _flops.ConcatTokens(a, b), a, b);
    // The concat-reading ops are rows of the kinds they replace, so profiles before and after stay comparable; their
    // bytes are both halves read and the output written, without the concatenation's round trip.
    /// <inheritdoc/>
    public Tensor GroupNormConcat(Tensor a, Tensor b, int groups, float eps, Tensor gamma, Tensor beta, Activation act = Activation.None) =>
        Run("groupnorm", () => _flops.GroupNormConcat(a, b, groups, eps, gamma, beta, act), a, b, gamma, beta);
    /// <inheritdoc/>
    public Tensor Conv1x1Concat(Tensor a, Tensor b, Tensor w, Tensor? bias) =>
        Run("conv2d 1x1", () => _flops.Conv1x1Concat(a, b, w, bias), a, b, w, bias);
    /// <inheritdoc/>
    public Tensor MeanTokens(Tensor x) => Run("mean", () => _flops.MeanTokens(x), x);
    /// <inheritdoc/>
    public Tensor ToTokens(Tensor x) => Run("layout", () => _flops.ToTokens(x), x);
    /// <inheritdoc/>
    public Tensor FromTokens(Tensor x, int height, int width, Tensor? residual = null) =>
        Run(residual == null ? "layout" : "add", () => _flops.FromTokens(x, height, width, residual), x, residual);
    /// <inheritdoc/>
    public Tensor Attention(Tensor q, Tensor k, Tensor v, int heads, float scale, Tensor? k2 = null, Tensor? v2 = null, Tensor? scoreBias = null) =>
        Run("attention", () => _flops.Attention(q, k, v, heads, scale, k2, v2, scoreBias), q, k, v, k2, v2, scoreBias);
    /// <inheritdoc/>
    public Tensor RmsNorm(Tensor x, float eps, Tensor gamma) => Run("rmsnorm", () => _flops.RmsNorm(x, eps, gamma), x, gamma);
    /// <inheritdoc/>
    public Tensor Multiply(Tensor a, Tensor b, Activation actA = Activation.None) => Run("multiply", () => _flops.Multiply(a, b, actA), a, b);
    /// <inheritdoc/>
    public Tensor Sinusoid(Tensor timesteps, int dim, bool flipSinToCos, float freqShift) =>
        Run("sinusoid", () => _flops.Sinusoid(timesteps, dim, flipSinToCos, freqShift), timesteps);
}
