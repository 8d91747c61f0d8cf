using System.Runtime.InteropServices;
using FastIF.Runtime;
using FastIF.Sampling;
using FastIF.Tensors;

namespace FastIF.Backends.Cuda;

/// <summary>The run's fixed constants as kernels/step.cu's <c>fastif_step_run</c> reads them (128 bytes).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct StepRunConstants
{
    public ulong Seed, FirstDraw, Recorded, BeforeOriginal, BeforeMap, AfterOriginal, AfterMask, NonFinite, Counter, Rows;
    public float Ratio, Clip, MaxValue, Pad0;
    public int Batch, Hw, Steps, Bound, Learned, After, Soft, Pad1;
}

/// <summary>
/// The fused step on the GPU (kernels/step.cu): the plan's tables, images and constants uploaded once; every operation a
/// kernel launch whose arguments never change between steps (the current row comes from a device counter), so a step
/// of them around the UNet is captured once as a graph. Sample and estimates are fp32 NCHW; only the UNet's own input
/// and output are channels-last in the backend's storage type. Twin: <see cref="CpuStepKernels"/>.
/// </summary>
public sealed class CudaStepKernels : IStepKernels
{
    private const string Source = "step.cu";
    private readonly CudaBackend _be;
    private readonly List<CudaTensor> _owned = [];
    private readonly CudaTensor _run, _counter, _nonFinite, _gather, _scatter, _signs, _x, _seen, _x0, _model, _scale, _input, _timesteps, _raw;
    private readonly CudaTensor? _cond, _est, _tmp, _tapsA, _tapsB;
    private readonly CudaTensor[] _blurred = [];
    private bool _disposed;

    /// <summary>Uploads <paramref name="plan"/> to <paramref name="backend"/>'s device.</summary>
    public CudaStepKernels(CudaBackend backend, StepPlan plan)
    {
        _be = backend;
        Plan = plan;
        int hw = plan.Pixels, n = plan.SampleSize;
        try
        {
            foreach (var taps in new[] { plan.Combine.KernelA, plan.Combine.KernelB })
                if (taps != null && taps.Length / 2 >= Math.Min(plan.Height, plan.Width))
                    throw new FastIFException($"blur kernel of size {taps.Length} needs an image larger than {plan.Height}x{plan.Width}");
            var rows = Raw<StepRow>(plan.Rows);
            _counter = Raw<int>([0]);
            _nonFinite = Raw<long>(new long[2 * Math.Max(1, plan.Rows.Length)]);
            _gather = Raw<int>(plan.Gather);
            _scatter = Raw<int>(plan.Scatter);
            _signs = Raw<float>(plan.Signs);
            _cond = plan.Conditioning == null ? null : Raw<float>(plan.Conditioning);
            var recorded = plan.RecordedDraws == null ? null : Raw<float>(plan.RecordedDraws);
            var beforeOriginal = plan.Before == null ? null : Raw<float>(plan.Before.Original);
            var beforeMap = plan.BeforeMap == null ? null : Raw<float>(plan.BeforeMap);
            var afterOriginal = plan.AfterOriginal == null ? null : Raw<float>(plan.AfterOriginal);
            var afterMask = plan.AfterMask == null ? null : Raw<float>(plan.AfterMask);
            (_x, _seen, _x0) = (Floats(n), Floats(n), Floats(n));
            _model = Floats(2 * n);
            _scale = Floats(plan.Batch);
            if (plan.Combine.Kind != CombineKind.Mean)
            {
                _est = Floats((long)plan.Components * 2 * n);
                _tmp = Floats(2 * n);
                _blurred = [Floats(2 * n), Floats(2 * n), Floats(2 * n), Floats(2 * n)];
                _tapsA = plan.Combine.KernelA == null ? null : Raw<float>(plan.Combine.KernelA);
                _tapsB = plan.Combine.KernelB == null ? null : Raw<float>(plan.Combine.KernelB);
            }
            _input = Own(backend.New(new Shape(plan.UNetBatch, plan.InChannels, plan.Height, plan.Width)));
            _timesteps = Own(backend.New(new Shape(plan.UNetBatch), DType.F32));
            _raw = Own(backend.New(new Shape(plan.UNetBatch, 6, plan.Height, plan.Width)));
            var run = new StepRunConstants
            {
                Seed = plan.Seed, FirstDraw = plan.FirstDraw, Recorded = Ptr(recorded), BeforeOriginal = Ptr(beforeOriginal),
                BeforeMap = Ptr(beforeMap), AfterOriginal = Ptr(afterOriginal), AfterMask = Ptr(afterMask), NonFinite = _nonFinite.Pointer,
                Counter = _counter.Pointer, Rows = rows.Pointer, Ratio = plan.Ratio, Clip = plan.ClipRange, MaxValue = plan.MaxValue,
                Batch = plan.Batch, Hw = hw, Steps = plan.Rows.Length, Bound = (int)plan.Bound, Learned = plan.Learned ? 1 : 0,
                After = (int)plan.After, Soft = plan.Before?.Soft == true ? 1 : 0,
            };
            _run = Raw<StepRunConstants>([run]);
        }
        catch
        {
            foreach (var t in _owned) t.Dispose();
            throw;
        }
    }

    /// <inheritdoc/>
    public StepPlan Plan { get; }
    /// <inheritdoc/>
    public Tensor Input => _input;
    /// <inheritdoc/>
    public Tensor Timesteps => _timesteps;

    private CudaTensor Own(CudaTensor t)
    {
        _owned.Add(t);
        return t;
    }

    private CudaTensor Raw<T>(ReadOnlySpan<T> data) where T : unmanaged => Own(_be.UploadRaw(data));

    private CudaTensor Floats(long n)
    {
        var t = Own(_be.New(new Shape(checked((int)n)), DType.F32));
        _be.Zero(t);
        return t;
    }

    private static ulong Ptr(CudaTensor? t) => t?.Pointer ?? 0;

    /// <summary>
    /// Every kernel of step.cu this class launches and its parameter count: checked at each launch, and against the
    /// compiled PTX by the NVRTC tests (no GPU needed), so a kernel and its launch cannot drift apart unnoticed.
    /// </summary>
    internal static readonly IReadOnlyDictionary<string, int> Arity = new Dictionary<string, int>
    {
        ["timesteps"] = 3, ["before"] = 2, ["assemble"] = 10, ["guide"] = 10, ["blur"] = 8, ["combine"] = 10,
        ["x0"] = 4, ["quantile"] = 3, ["update"] = 6, ["advance"] = 1, ["renoise"] = 5,
    };

    private void Launch(string name, in KernelArgs args, uint grid, uint block)
    {
        if (!Arity.TryGetValue(name, out int n) || n != args.Count)
            throw new InvalidOperationException($"step kernel {name}: launched with {args.Count} arguments, its table says {(Arity.ContainsKey(name) ? n : "nothing")}");
        args.Launch(_be.Kernel(Source, "fastif_step_" + name), grid, block, _be.Stream);
    }

    private uint Grid(long n) => _be.GridFor(n);

    /// <inheritdoc/>
    public void SetStep(int row) => _be.WriteRaw<int>([row], _counter);
    /// <inheritdoc/>
    public void SetSample(ReadOnlySpan<float> x) => _be.WriteRaw(Sized(x, Plan.SampleSize), _x);
    /// <inheritdoc/>
    public void ReadSample(Span<float> x) => _be.ReadRaw(_x, Sized(x, Plan.SampleSize));
    /// <inheritdoc/>
    public void ReadStepInput(Span<float> x) => _be.ReadRaw(_seen, Sized(x, Plan.SampleSize));
    /// <inheritdoc/>
    public void ReadUNetOutput(Span<float> dst) => _be.ToHost(_raw, dst);
    /// <inheritdoc/>
    public void ReadModelOutput(Span<float> dst) => _be.ReadRaw(_model, Sized(dst, 2 * Plan.SampleSize));
    /// <inheritdoc/>
    public void ReadPredX0(Span<float> dst) => _be.ReadRaw(_x0, Sized(dst, Plan.SampleSize));

    private static ReadOnlySpan<float> Sized(ReadOnlySpan<float> s, int n) =>
        s.Length == n ? s : throw new ShapeException($"step state: {s.Length} values given, {n} expected");

    private static Span<float> Sized(Span<float> s, int n) =>
        s.Length == n ? s : throw new ShapeException($"step state: room for {s.Length} values, {n} needed");

    /// <inheritdoc/>
    public void BeforeStep()
    {
        if (Plan.Before == null) return;
        Launch("before", new KernelArgs().Ptr(_run.Pointer).Ptr(_x.Pointer), Grid(Plan.SampleSize / 4 + 1), 256);
    }

    /// <inheritdoc/>
    public void Assemble()
    {
        var p = Plan;
        Launch("timesteps", new KernelArgs().Ptr(_run.Pointer).Ptr(_timesteps.Pointer).I32(p.UNetBatch), 1, 256);
        Launch("assemble", new KernelArgs().Ptr(_run.Pointer).Ptr(_x.Pointer).Ptr(Ptr(_cond)).Ptr(_gather.Pointer).Ptr(_signs.Pointer).Ptr(_input.Pointer)
            .I32(CudaBackend.TypeCode(_input.Storage)).I32(p.Components).I32(p.Halves).I32(p.InChannels), Grid(_input.Shape.Elements), 256);
    }

    /// <inheritdoc/>
    public void Guide(Tensor unetOutput)
    {
        var p = Plan;
        if (unetOutput is not CudaTensor y || !ReferenceEquals(y.Backend, _be) || y.Shape != _raw.Shape || y.Storage != _raw.Storage)
            throw new ShapeException($"fused step: UNet output {unetOutput}, expected a {_raw.Storage} tensor {_raw.Shape} of this backend");
        _be.CopyInto(y, _raw);
        bool mean = p.Combine.Kind == CombineKind.Mean;
        Launch("guide", new KernelArgs().Ptr(_run.Pointer).Ptr(y.Pointer).I32(CudaBackend.TypeCode(y.Storage)).Ptr(_scatter.Pointer).Ptr(_signs.Pointer)
            .Ptr(mean ? _model.Pointer : _est!.Pointer).F32(p.Guidance).I32(p.Components).I32(p.Halves).I32(mean ? 1 : 0), Grid((long)p.Batch * 6 * p.Pixels), 256);
        if (mean) return;

        ulong Est(int c) => _est!.Pointer + (ulong)((long)c * 2 * p.SampleSize * 4);
        var spec = p.Combine;
        switch (spec.Kind)
        {
            case CombineKind.LowHigh:
                Blur(Est(0), _blurred[0], _tapsA!, spec.KernelA!.Length);
                Blur(Est(1), _blurred[1], _tapsA!, spec.KernelA.Length);
                break;
            case CombineKind.ThreeBand:
                Blur(Est(0), _blurred[0], _tapsA!, spec.KernelA!.Length);
                Blur(Est(1), _blurred[1], _tapsB!, spec.KernelB!.Length);
                Blur(Est(1), _blurred[2], _tapsA!, spec.KernelA.Length);
                Blur(Est(2), _blurred[3], _tapsB!, spec.KernelB.Length);
                break;
        }
        int kind = spec.Kind switch { CombineKind.LowHigh => 1, CombineKind.ThreeBand => 2, _ => 3 };
        Launch("combine", new KernelArgs().Ptr(_run.Pointer).Ptr(_est!.Pointer).Ptr(_blurred[0].Pointer).Ptr(_blurred[1].Pointer).Ptr(_blurred[2].Pointer)
            .Ptr(_blurred[3].Pointer).Ptr(_model.Pointer).I32(kind).I32(spec.Halve ? 1 : 0).I32(p.Components), Grid((long)p.Batch * 6 * p.Pixels), 256);
    }

    /// <summary>GaussianBlur.Apply on the noise channels: along rows into scratch, then along columns into <paramref name="dst"/>.</summary>
    private void Blur(ulong src, CudaTensor dst, CudaTensor taps, int size)
    {
        var p = Plan;
        uint grid = Grid(p.SampleSize);
        Launch("blur", new KernelArgs().Ptr(_run.Pointer).Ptr(src).Ptr(_tmp!.Pointer).Ptr(taps.Pointer).I32(size / 2).I32(p.Height).I32(p.Width).I32(0), grid, 256);
        Launch("blur", new KernelArgs().Ptr(_run.Pointer).Ptr(_tmp.Pointer).Ptr(dst.Pointer).Ptr(taps.Pointer).I32(size / 2).I32(p.Height).I32(p.Width).I32(1), grid, 256);
    }

    /// <inheritdoc/>
    public void Update()
    {
        var p = Plan;
        Launch("x0", new KernelArgs().Ptr(_run.Pointer).Ptr(_model.Pointer).Ptr(_x.Pointer).Ptr(_x0.Pointer), Grid(p.SampleSize), 256);
        if (p.Bound == X0Bound.Dynamic)
            Launch("quantile", new KernelArgs().Ptr(_run.Pointer).Ptr(_x0.Pointer).Ptr(_scale.Pointer), (uint)p.Batch, 1024);
        Launch("update", new KernelArgs().Ptr(_run.Pointer).Ptr(_model.Pointer).Ptr(_x.Pointer).Ptr(_seen.Pointer).Ptr(_x0.Pointer).Ptr(_scale.Pointer), Grid(p.SampleSize / 4 + 1), 256);
        Launch("advance", new KernelArgs().Ptr(_run.Pointer), 1, 32);
    }

    /// <inheritdoc/>
    public void Renoise(in StepMove move)
    {
        Launch("renoise", new KernelArgs().Ptr(_run.Pointer).Ptr(_x.Pointer).F32(move.A).F32(move.S).I64(move.Draw), Grid(Plan.SampleSize / 4 + 1), 256);
    }

    /// <inheritdoc/>
    public long[] NonFiniteCounts()
    {
        var counts = new long[2 * Math.Max(1, Plan.Rows.Length)];
        _be.ReadRaw<long>(_nonFinite, counts);
        return counts[..(2 * Plan.Rows.Length)];
    }

    /// <summary>Frees the device state once queued work has finished.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _be.Synchronize();
        foreach (var t in _owned) t.Dispose();
    }
}
