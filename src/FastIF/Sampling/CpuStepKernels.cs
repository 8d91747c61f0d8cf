using FastIF.Backends;
using FastIF.Backends.Cpu;
using FastIF.Diffusion;
using FastIF.Tensors;

namespace FastIF.Sampling;

/// <summary>
/// The CPU twin of the fused step kernels: the same operations on host arrays, reading only the plan (gather tables,
/// combiner spec, step rows, numbered draws) as the GPU kernels do, with the per-element arithmetic of the host sampling
/// loop (<see cref="DdpmScheduler.Step(in StepCoefficients, ReadOnlySpan{float}, ReadOnlySpan{float}, int, int, ReadOnlySpan{float}, Span{float}, Span{float})"/>,
/// <see cref="Combiners"/>, <see cref="Masks"/>, <see cref="DifferentialDiffusionConstraint.Reset"/>).
/// </summary>
public sealed class CpuStepKernels : IStepKernels
{
    private readonly DdpmScheduler _scheduler;
    private readonly ICombiner _combiner;
    private readonly CpuTensor _input, _timesteps;
    private float[] _raw = [];
    private readonly float[] _x, _seen, _model, _x0, _prev, _draw, _known, _concat, _u;
    private readonly float[][] _estimates;
    private readonly long[] _nonFinite;
    private int _row;

    /// <summary>State for <paramref name="plan"/> on <paramref name="backend"/>.</summary>
    public CpuStepKernels(CpuBackend backend, StepPlan plan, DdpmScheduler scheduler)
    {
        Plan = plan;
        _scheduler = scheduler;
        _combiner = Combiners.FromSpec(plan.Combine);
        int n = plan.SampleSize, img = 3 * plan.Pixels;
        _input = (CpuTensor)backend.FromHost(new float[plan.UNetBatch * plan.InChannels * plan.Pixels], new Shape(plan.UNetBatch, plan.InChannels, plan.Height, plan.Width));
        _timesteps = (CpuTensor)backend.FromHost(new float[plan.UNetBatch], new Shape(plan.UNetBatch));
        (_x, _seen, _x0, _prev, _draw, _known) = (new float[n], new float[n], new float[n], new float[n], new float[n], new float[n]);
        _model = new float[2 * n];
        _concat = new float[plan.InChannels * plan.Pixels];
        _u = new float[2 * img];
        _estimates = Enumerable.Range(0, plan.Components).Select(_ => new float[2 * img]).ToArray();
        _nonFinite = new long[2 * plan.Rows.Length];
    }

    /// <inheritdoc/>
    public StepPlan Plan { get; }
    /// <inheritdoc/>
    public Tensor Input => _input;
    /// <inheritdoc/>
    public Tensor Timesteps => _timesteps;

    /// <inheritdoc/>
    public void SetStep(int row) => _row = row;
    /// <inheritdoc/>
    public void SetSample(ReadOnlySpan<float> x) => x.CopyTo(_x);
    /// <inheritdoc/>
    public void ReadSample(Span<float> x) => _x.CopyTo(x);
    /// <inheritdoc/>
    public void ReadStepInput(Span<float> x) => _seen.CopyTo(x);
    /// <inheritdoc/>
    public void ReadUNetOutput(Span<float> dst) => _raw.CopyTo(dst);
    /// <inheritdoc/>
    public void ReadModelOutput(Span<float> dst) => _model.CopyTo(dst);
    /// <inheritdoc/>
    public void ReadPredX0(Span<float> dst) => _x0.CopyTo(dst);

    private ref readonly StepRow Row => ref Plan.Rows[_row];

    /// <inheritdoc/>
    public void BeforeStep()
    {
        var p = Plan;
        if (p.Before == null || Row.BeforeDraw < 0) return;
        p.Draw(Row.BeforeDraw, _draw);
        ForwardNoise(p.Before.Original, _draw, Row.BeforeSa, Row.BeforeSb, _known);
        DifferentialDiffusionConstraint.Reset(_x, _known, p.BeforeMap!, p.Batch, p.Pixels, Row.Index, p.Rows.Length, p.Before.Soft);
    }

    /// <inheritdoc/>
    public void Assemble()
    {
        var p = Plan;
        int hw = p.Pixels, img = 3 * hw, cin = p.InChannels;
        var dst = _input.Data;
        for (int half = 0; half < p.Halves; half++)
            for (int c = 0; c < p.Components; c++)
                for (int b = 0; b < p.Batch; b++)
                {
                    _x.AsSpan(b * img, img).CopyTo(_concat);
                    p.Conditioning?.AsSpan(b * img, img).CopyTo(_concat.AsSpan(img));
                    int n = (half * p.Components + c) * p.Batch + b;
                    Permute(_concat, dst.AsSpan(n * cin * hw, cin * hw), p.Gather.AsSpan(c * hw, hw), p.Signs[c], cin, hw);
                }
        Array.Fill(_timesteps.Data, Row.TimestepValue);
    }

    /// <inheritdoc/>
    public void Guide(Tensor unetOutput)
    {
        var p = Plan;
        var output = ((CpuTensor)unetOutput).Data;
        int hw = p.Pixels, est = 6 * hw, k = p.Components;
        _nonFinite[2 * _row] = CountNonFinite(output);
        if (_raw.Length != output.Length) _raw = new float[output.Length];
        output.CopyTo(_raw, 0);
        for (int b = 0; b < p.Batch; b++)
        {
            for (int c = 0; c < k; c++)
            {
                int cond = ((p.Halves - 1) * k + c) * p.Batch + b;
                var scatter = p.Scatter.AsSpan(c * hw, hw);
                Permute(output.AsSpan(cond * est, est), _estimates[c], scatter, p.Signs[c], 6, hw);
                if (p.Halves == 2)
                {
                    Permute(output.AsSpan((c * p.Batch + b) * est, est), _u, scatter, p.Signs[c], 6, hw);
                    var e = _estimates[c];
                    for (int j = 0; j < 3 * hw; j++) e[j] = _u[j] + p.Guidance * (e[j] - _u[j]);
                }
            }
            _combiner.Combine(_estimates, p.Height, p.Width, _model.AsSpan(b * est, est));
        }
    }

    /// <inheritdoc/>
    public void Update()
    {
        var p = Plan;
        ref readonly var row = ref Row;
        _x.CopyTo(_seen);
        var coefficients = new StepCoefficients(row.SqrtAlphaBar, row.SqrtOneMinusAlphaBar, row.X0Coef, row.XtCoef, row.MinLog, row.MaxLog, row.FixedStd);
        if (row.NoiseDraw >= 0) p.Draw(row.NoiseDraw, _draw);
        _scheduler.Step(coefficients, _model, _x, p.Batch, 3, row.NoiseDraw >= 0 ? _draw : [], _prev, _x0);
        if (p.After == AfterConstraint.KeepRegion) Masks.Blend(p.AfterMask!, p.Batch, p.Pixels, _seen, _prev, _prev);
        else if (p.After == AfterConstraint.RePaint)
        {
            if (row.AfterDraw >= 0)
            {
                p.Draw(row.AfterDraw, _draw);
                ForwardNoise(p.AfterOriginal!, _draw, row.AfterSa, row.AfterSb, _known);
            }
            else p.AfterOriginal!.CopyTo(_known, 0);
            Masks.Blend(p.AfterMask!, p.Batch, p.Pixels, _known, _prev, _prev);
        }
        _nonFinite[2 * _row + 1] = CountNonFinite(_prev);
        _prev.CopyTo(_x, 0);
        _row++;
    }

    /// <inheritdoc/>
    public void Renoise(in StepMove move)
    {
        Plan.Draw(move.Draw, _draw);
        for (int i = 0; i < _x.Length; i++) _x[i] = move.A * _x[i] + move.S * _draw[i];
    }

    /// <inheritdoc/>
    public long[] NonFiniteCounts() => (long[])_nonFinite.Clone();

    /// <summary>Nothing to release: the state is managed memory.</summary>
    public void Dispose() { }

    /// <summary><c>dst[ch, i] = sign · src[ch, table[i]]</c> for every channel: a view (gather table) or its inverse (scatter table).</summary>
    private static void Permute(ReadOnlySpan<float> src, Span<float> dst, ReadOnlySpan<int> table, float sign, int channels, int hw)
    {
        for (int ch = 0; ch < channels; ch++)
        {
            var s = src.Slice(ch * hw, hw);
            var d = dst.Slice(ch * hw, hw);
            for (int i = 0; i < hw; i++) d[i] = sign * s[table[i]];
        }
    }

    /// <summary><see cref="DdpmScheduler.AddNoise"/>'s arithmetic with the row's factors.</summary>
    private static void ForwardNoise(float[] x0, float[] z, float sa, float sb, float[] dst)
    {
        for (int i = 0; i < dst.Length; i++) dst[i] = sa * x0[i] + sb * z[i];
    }

    private static long CountNonFinite(ReadOnlySpan<float> v)
    {
        long bad = 0;
        foreach (var f in v) if (!float.IsFinite(f)) bad++;
        return bad;
    }
}
