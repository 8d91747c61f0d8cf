using System.Numerics.Tensors;
using FastIF.Tensors;

namespace FastIF.Backends.Cpu;

/// <summary>
/// The fp32 reference backend: every op in plain, multithreaded managed code over row-major NCHW arrays.
/// It is the oracle the CUDA backend is tested against, and it answers to the diffusers goldens.
/// Statistics (norms, softmax) accumulate in double where that is cheap, so it is at least as exact as PyTorch fp32.
/// </summary>
public sealed partial class CpuBackend : IBackend
{
    /// <summary>A shared instance; the backend holds no native resources.</summary>
    public static CpuBackend Instance { get; } = new();

    /// <inheritdoc/>
    public string Name => "cpu";

    /// <inheritdoc/>
    public void Dispose() { }

    private CpuTensor New(Shape shape) => new(this, shape, GC.AllocateUninitializedArray<float>(checked((int)shape.Elements)));

    private CpuTensor Wrap(Shape shape, float[] data) => new(this, shape, data);

    private CpuTensor Own(Tensor t, string what)
    {
        if (t is not CpuTensor c || !ReferenceEquals(t.Backend, this))
            throw new ShapeException($"{what}: expected a cpu tensor, got {t}");
        if (c.IsDisposed) throw new ObjectDisposedException(what, $"{what}: tensor {t.Shape} was disposed");
        return c;
    }

    private static void RequireRank(Tensor t, int rank, string what)
    {
        if (t.Shape.Rank != rank) throw new ShapeException($"{what}: expected rank {rank}, got {t.Shape}");
    }

    /// <inheritdoc/>
    public Tensor FromHost(ReadOnlySpan<float> data, Shape shape)
    {
        if (data.Length != shape.Elements)
            throw new ShapeException($"FromHost: {data.Length} values for shape {shape} ({shape.Elements} elements)");
        return Wrap(shape, data.ToArray());
    }

    /// <inheritdoc/>
    public void ToHost(Tensor t, Span<float> dest)
    {
        var c = Own(t, "ToHost");
        if (dest.Length != c.Data.Length)
            throw new ShapeException($"ToHost: destination holds {dest.Length} values, tensor {t.Shape} has {c.Data.Length}");
        c.Data.CopyTo(dest);
    }

    /// <inheritdoc/>
    public void LoadFinished() { }

    /// <inheritdoc/>
    public Tensor LoadWeight(ReadOnlySpan<byte> raw, DType dtype, Shape shape)
    {
        var t = New(shape);
        DTypeConvert.ToFloat32(raw, dtype, t.Data);
        return t;
    }

    /// <inheritdoc/>
    public Tensor Conv2d(Tensor x, Tensor w, Tensor? bias, int padding, Tensor? residual = null, float outScale = 1f,
        bool upsampledResidual = false)
    {
        var cs = ConvShape.Of(x, w, bias, padding, residual, upsampledResidual);
        var xs = Own(x, "Conv2d input");
        var ws = Own(w, "Conv2d weight");
        float[]? b = bias == null ? null : Own(bias, "Conv2d bias").Data;
        float[]? r = residual == null ? null : Own(residual, "Conv2d residual").Data;
        int n = cs.Batch, cin = cs.InChannels, h = cs.Height, wd = cs.Width, cout = cs.OutChannels, kh = cs.KernelH, kw = cs.KernelW;
        var y = New(cs.Output);
        CpuConv2d.Forward(xs.Data, n, cin, h, wd, ws.Data, cout, kh, kw, padding, b, y.Data, r, outScale, upsampledResidual);
        return y;
    }

    /// <inheritdoc/>
    public Tensor Linear(Tensor x, Tensor w, Tensor? bias, Activation act = Activation.None, Tensor? residual = null)
    {
        var xs = Own(x, "Linear input");
        var ws = Own(w, "Linear weight");
        RequireRank(w, 2, "Linear weight");
        int inF = w.Shape[1], outF = w.Shape[0];
        if (x.Shape.Rank < 1 || x.Shape[-1] != inF)
            throw new ShapeException($"Linear: input {x.Shape} last axis must be {inF} for weight {w.Shape}");
        int rows = (int)(x.Shape.Elements / inF);
        var dims = x.Shape.ToArray();
        dims[^1] = outF;
        var y = New(new Shape(dims));
        LinearShape.CheckResidual(residual, y.Shape, act);
        float[]? r = residual == null ? null : Own(residual, "Linear residual").Data;
        CpuGemm.Gemm(rows, outF, inF, xs.Data, inF, false, ws.Data, inF, true, y.Data, outF, false);
        float[]? b = null;
        if (bias != null)
        {
            b = Own(bias, "Linear bias").Data;
            if (b.Length != outF) throw new ShapeException($"Linear: bias {bias.Shape} for {outF} outputs");
        }
        if (b != null || act != Activation.None || r != null)
        {
            Parallel.For(0, rows, i =>
            {
                var row = y.Data.AsSpan(i * outF, outF);
                if (b != null) TensorPrimitives.Add(row, b, row);
                if (act != Activation.None) Activate(row, act);
                if (r != null) TensorPrimitives.Add(row, r.AsSpan(i * outF, outF), row);
            });
        }
        return y;
    }

    private static void Activate(Span<float> v, Activation act)
    {
        switch (act)
        {
            case Activation.None: return;
            case Activation.Gelu:
                CpuMath.Gelu(v);
                return;
            case Activation.GeluTanh:
                for (int i = 0; i < v.Length; i++) v[i] = CpuMath.GeluTanh(v[i]);
                return;
            default: throw new ArgumentOutOfRangeException(nameof(act), act, "unknown activation");
        }
    }

    /// <inheritdoc/>
    public Tensor Multiply(Tensor a, Tensor b, Activation actA = Activation.None)
    {
        var av = Own(a, "Multiply lhs");
        var bv = Own(b, "Multiply rhs");
        if (a.Shape != b.Shape) throw new ShapeException($"Multiply: {a.Shape} and {b.Shape} differ");
        var y = New(a.Shape);
        const int Chunk = 1 << 14;
        Parallel.For(0, (av.Data.Length + Chunk - 1) / Chunk, c =>
        {
            int s = c * Chunk, len = Math.Min(Chunk, av.Data.Length - s);
            var dst = y.Data.AsSpan(s, len);
            if (actA == Activation.None)
            {
                TensorPrimitives.Multiply(av.Data.AsSpan(s, len), bv.Data.AsSpan(s, len), dst);
                return;
            }
            av.Data.AsSpan(s, len).CopyTo(dst);
            Activate(dst, actA);
            TensorPrimitives.Multiply(dst, bv.Data.AsSpan(s, len), dst);
        });
        return y;
    }

    /// <inheritdoc/>
    public Tensor Reshape(Tensor x, Shape shape)
    {
        var xs = Own(x, "Reshape");
        if (shape.Elements != x.Shape.Elements) throw new ShapeException($"Reshape: {x.Shape} to {shape} changes the element count");
        return Wrap(shape, (float[])xs.Data.Clone());
    }

    /// <inheritdoc/>
    public Tensor Activate(Tensor x, Activation act)
    {
        var xs = Own(x, "Activate");
        var y = New(x.Shape);
        const int Chunk = 1 << 14;
        int chunks = (xs.Data.Length + Chunk - 1) / Chunk;
        Parallel.For(0, chunks, c =>
        {
            int s = c * Chunk, len = Math.Min(Chunk, xs.Data.Length - s);
            xs.Data.AsSpan(s, len).CopyTo(y.Data.AsSpan(s, len));
            Activate(y.Data.AsSpan(s, len), act);
        });
        return y;
    }

    /// <inheritdoc/>
    public Tensor Add(Tensor a, Tensor b)
    {
        var av = Own(a, "Add lhs");
        var bv = Own(b, "Add rhs");
        int ra = a.Shape.Rank, rb = b.Shape.Rank;
        // b may drop leading axes of a or carry leading 1s: its trailing dims must match a's.
        var bd = b.Shape.ToArray().SkipWhile(d => d == 1).ToArray();
        bool ok = bd.Length <= ra;
        for (int i = 0; ok && i < bd.Length; i++) ok = bd[^(i + 1)] == a.Shape[ra - 1 - i];
        if (!ok || av.Data.Length % Math.Max(1, bv.Data.Length) != 0)
            throw new ShapeException($"Add: {b.Shape} does not broadcast to {a.Shape} (rank {rb} vs {ra})");
        var y = New(a.Shape);
        int inner = bv.Data.Length;
        int outer = inner == 0 ? 0 : av.Data.Length / inner;
        Parallel.For(0, outer, o =>
            TensorPrimitives.Add(av.Data.AsSpan(o * inner, inner), bv.Data, y.Data.AsSpan(o * inner, inner)));
        return y;
    }

    /// <inheritdoc/>
    public Tensor AvgPool2x2(Tensor x)
    {
        var xs = Own(x, "AvgPool2x2");
        RequireRank(x, 4, "AvgPool2x2");
        int n = x.Shape[0], c = x.Shape[1], h = x.Shape[2], w = x.Shape[3];
        if (h % 2 != 0 || w % 2 != 0) throw new ShapeException($"AvgPool2x2: odd spatial size {x.Shape}");
        int oh = h / 2, ow = w / 2;
        var y = New(new Shape(n, c, oh, ow));
        Parallel.For(0, n * c, p =>
        {
            var src = xs.Data.AsSpan(p * h * w, h * w);
            var dst = y.Data.AsSpan(p * oh * ow, oh * ow);
            for (int i = 0; i < oh; i++)
                for (int j = 0; j < ow; j++)
                {
                    int s = 2 * i * w + 2 * j;
                    dst[i * ow + j] = (src[s] + src[s + 1] + src[s + w] + src[s + w + 1]) * 0.25f;
                }
        });
        return y;
    }

    /// <inheritdoc/>
    public Tensor UpsampleNearest2x(Tensor x)
    {
        var xs = Own(x, "UpsampleNearest2x");
        RequireRank(x, 4, "UpsampleNearest2x");
        int n = x.Shape[0], c = x.Shape[1], h = x.Shape[2], w = x.Shape[3];
        int oh = 2 * h, ow = 2 * w;
        var y = New(new Shape(n, c, oh, ow));
        Parallel.For(0, n * c, p =>
        {
            var src = xs.Data.AsSpan(p * h * w, h * w);
            var dst = y.Data.AsSpan(p * oh * ow, oh * ow);
            for (int i = 0; i < oh; i++)
                for (int j = 0; j < ow; j++)
                    dst[i * ow + j] = src[(i >> 1) * w + (j >> 1)];
        });
        return y;
    }

    /// <inheritdoc/>
    public Tensor ShufflePhases2x(Tensor phases)
    {
        var ps = Own(phases, "ShufflePhases2x");
        var (n, c, h, w) = PhaseShape.Of(phases);
        int ph = h + 1, pw = w + 1, oh = 2 * h, ow = 2 * w;
        var y = New(new Shape(n, c, oh, ow));
        Parallel.For(0, n * c, bc =>
        {
            int b = bc / c, ch = bc % c;
            var dst = y.Data.AsSpan(bc * oh * ow, oh * ow);
            for (int p = 0; p < 4; p++)
            {
                int a = p >> 1, e = p & 1;
                var src = ps.Data.AsSpan(((b * 4 + p) * c + ch) * ph * pw, ph * pw);
                for (int i = 0; i < h; i++)
                    for (int j = 0; j < w; j++)
                        dst[(2 * i + a) * ow + 2 * j + e] = src[(i + a) * pw + j + e];
            }
        });
        return y;
    }

    /// <inheritdoc/>
    public Tensor ConcatChannels(Tensor a, Tensor b)
    {
        var av = Own(a, "ConcatChannels lhs");
        var bv = Own(b, "ConcatChannels rhs");
        RequireRank(a, 4, "ConcatChannels lhs");
        RequireRank(b, 4, "ConcatChannels rhs");
        if (a.Shape[0] != b.Shape[0] || a.Shape[2] != b.Shape[2] || a.Shape[3] != b.Shape[3])
            throw new ShapeException($"ConcatChannels: {a.Shape} and {b.Shape} differ outside the channel axis");
        return ConcatAxis1(av, bv, new Shape(a.Shape[0], a.Shape[1] + b.Shape[1], a.Shape[2], a.Shape[3]));
    }

    /// <inheritdoc/>
    public Tensor ConcatTokens(Tensor a, Tensor b)
    {
        var av = Own(a, "ConcatTokens lhs");
        var bv = Own(b, "ConcatTokens rhs");
        RequireRank(a, 3, "ConcatTokens lhs");
        RequireRank(b, 3, "ConcatTokens rhs");
        if (a.Shape[0] != b.Shape[0] || a.Shape[2] != b.Shape[2])
            throw new ShapeException($"ConcatTokens: {a.Shape} and {b.Shape} differ outside the token axis");
        return ConcatAxis1(av, bv, new Shape(a.Shape[0], a.Shape[1] + b.Shape[1], a.Shape[2]));
    }

    private CpuTensor ConcatAxis1(CpuTensor a, CpuTensor b, Shape outShape)
    {
        int n = outShape[0];
        int sa = a.Data.Length / n, sb = b.Data.Length / n;
        var y = New(outShape);
        for (int i = 0; i < n; i++)
        {
            a.Data.AsSpan(i * sa, sa).CopyTo(y.Data.AsSpan(i * (sa + sb)));
            b.Data.AsSpan(i * sb, sb).CopyTo(y.Data.AsSpan(i * (sa + sb) + sa));
        }
        return y;
    }

    /// <inheritdoc/>
    public Tensor MeanTokens(Tensor x)
    {
        var xs = Own(x, "MeanTokens");
        RequireRank(x, 3, "MeanTokens");
        int n = x.Shape[0], l = x.Shape[1], c = x.Shape[2];
        var y = New(new Shape(n, 1, c));
        for (int b = 0; b < n; b++)
            for (int ch = 0; ch < c; ch++)
            {
                double s = 0;
                for (int t = 0; t < l; t++) s += xs.Data[(b * l + t) * c + ch];
                y.Data[b * c + ch] = (float)(s / l);
            }
        return y;
    }

    /// <inheritdoc/>
    public Tensor ToTokens(Tensor x)
    {
        var xs = Own(x, "ToTokens");
        RequireRank(x, 4, "ToTokens");
        int n = x.Shape[0], c = x.Shape[1], hw = x.Shape[2] * x.Shape[3];
        var y = New(new Shape(n, hw, c));
        Transpose(xs.Data, y.Data, n, c, hw);
        return y;
    }

    /// <inheritdoc/>
    public Tensor FromTokens(Tensor x, int height, int width, Tensor? residual = null)
    {
        var xs = Own(x, "FromTokens");
        RequireRank(x, 3, "FromTokens");
        int n = x.Shape[0], hw = x.Shape[1], c = x.Shape[2];
        if (hw != height * width) throw new ShapeException($"FromTokens: {x.Shape} is not {height}x{width} positions");
        var y = New(new Shape(n, c, height, width));
        Transpose(xs.Data, y.Data, n, hw, c);
        if (residual != null)
        {
            if (residual.Shape != y.Shape) throw new ShapeException($"FromTokens: residual {residual.Shape} vs {y.Shape}");
            TensorPrimitives.Add(y.Data, Own(residual, "FromTokens residual").Data, y.Data);
        }
        return y;
    }

    /// <summary>Per batch item, [rows, cols] → [cols, rows].</summary>
    private static void Transpose(float[] src, float[] dst, int n, int rows, int cols)
    {
        Parallel.For(0, n * rows, p =>
        {
            int b = p / rows, r = p % rows;
            int baseIn = b * rows * cols + r * cols, baseOut = b * rows * cols + r;
            for (int k = 0; k < cols; k++) dst[baseOut + k * rows] = src[baseIn + k];
        });
    }

    /// <inheritdoc/>
    public Tensor Sinusoid(Tensor timesteps, int dim, bool flipSinToCos, float freqShift)
    {
        var ts = Own(timesteps, "Sinusoid");
        RequireRank(timesteps, 1, "Sinusoid");
        if (dim % 2 != 0) throw new ShapeException($"Sinusoid: odd width {dim} is not used by IF and not supported");
        int n = timesteps.Shape[0], half = dim / 2;
        var y = New(new Shape(n, dim));
        // Mirrors diffusers' float32 op order: exponent = -ln(1e4)·k / (half − shift); freq = exp(exponent); arg = t·freq.
        float minusLog = -MathF.Log(10000f);
        for (int b = 0; b < n; b++)
            for (int k = 0; k < half; k++)
            {
                float exponent = minusLog * k / (half - freqShift);
                float arg = ts.Data[b] * MathF.Exp(exponent);
                float s = MathF.Sin(arg), c = MathF.Cos(arg);
                y.Data[b * dim + k] = flipSinToCos ? c : s;
                y.Data[b * dim + half + k] = flipSinToCos ? s : c;
            }
        return y;
    }
}
