using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using FastIF.Backends;
using FastIF.Backends.Cpu;
using FastIF.Backends.Cuda;
using FastIF.Native;
using FastIF.Tensors;

namespace FastIF.Tests.Cuda;

/// <summary>
/// Every op of the CUDA backend against the CPU reference on fresh random inputs of several shapes, in each storage
/// precision. Inputs are rounded to the storage type first, so the comparison measures the GPU's arithmetic and its
/// output rounding, not the input conversion. Tolerances are relative L2: fp32 1e-5, fp16 2e-3 (a few fp16 roundings of
/// 2⁻¹¹ on the way), bf16 1.6e-2 (the same with 2⁻⁸); any NaN or Inf fails.
/// </summary>
[Collection("gpu")]
public class CudaBackendParityTests
{
    private static readonly ConcurrentDictionary<DType, CudaBackend> Opened = new();

    public static TheoryData<string> Precisions() => ["fp32", "fp16", "bf16"];

    internal static DType Parse(string p) => p switch { "fp32" => DType.F32, "fp16" => DType.F16, _ => DType.BF16 };

    internal static double Tolerance(DType t) => t switch { DType.F32 => 1e-5, DType.F16 => 2e-3, _ => 1.6e-2 };

    /// <summary>The shared backend of a precision; skips with the reason where no GPU or library is present.</summary>
    internal static CudaBackend Backend(DType t)
    {
        Gpu.RequireCudaBackend();
        return Opened.GetOrAdd(t, dt => new CudaBackend(new CudaBackendOptions(dt)));
    }

    /// <summary>One input: a shape, whether it is a weight (loaded with LoadWeight), a value scale, or fixed values.</summary>
    private sealed record In(Shape Shape, bool Weight = false, float Scale = 1f, float[]? Values = null);

    private static In W(params int[] dims) => new(new Shape(dims), Weight: true);
    private static In A(params int[] dims) => new(new Shape(dims));

    internal static float[] RoundTo(DType t, float[] x)
    {
        if (t == DType.F32) return x;
        var bytes = new byte[x.Length * 2];
        DTypeConvert.FromFloat32(x, t, bytes);
        var back = new float[x.Length];
        DTypeConvert.ToFloat32(bytes, t, back);
        return back;
    }

    private static void Check(string precision, string what, Func<IBackend, Tensor[], Tensor> op, params In[] inputs)
    {
        var dt = Parse(precision);
        var gpu = Backend(dt);
        var cpu = CpuBackend.Instance;
        var data = new float[inputs.Length][];
        var seeds = new List<int>();
        for (int i = 0; i < inputs.Length; i++)
        {
            float[] raw;
            if (inputs[i].Values is { } fixedValues) raw = fixedValues;
            else
            {
                raw = Gpu.Random((int)inputs[i].Shape.Elements, out int seed);
                seeds.Add(seed);
                for (int j = 0; j < raw.Length; j++) raw[j] *= inputs[i].Scale;
            }
            // Rank-1 activations (timesteps) stay fp32 on the GPU too.
            bool fp32Input = !inputs[i].Weight && inputs[i].Shape.Rank == 1;
            data[i] = fp32Input ? raw : RoundTo(dt, raw);
        }
        var onCpu = inputs.Select((s, i) => cpu.FromHost(data[i], s.Shape)).ToArray();
        var onGpu = inputs.Select((s, i) => s.Weight
            ? gpu.LoadWeight(MemoryMarshal.AsBytes(data[i].AsSpan()), DType.F32, s.Shape)
            : gpu.FromHost(data[i], s.Shape)).ToArray();
        try
        {
            using var want = op(cpu, onCpu);
            using var got = op(gpu, onGpu);
            Assert.Equal(want.Shape, got.Shape);
            Gpu.AssertClose(got.ToArray(), want.ToArray(), Tolerance(dt), $"{what} {precision} (input seeds {string.Join(",", seeds)})");
        }
        finally
        {
            foreach (var t in onCpu.Concat(onGpu)) t.Dispose();
        }
    }

    [Theory, MemberData(nameof(Precisions))]
    public void Conv2d(string p)
    {
        Check(p, "conv 3x3 pad 1 + bias", (b, x) => b.Conv2d(x[0], x[1], x[2], 1), A(2, 8, 9, 7), W(16, 8, 3, 3), W(16));
        Check(p, "conv 3x3 + residual, scaled", (b, x) => b.Conv2d(x[0], x[1], x[2], 1, x[3], 1 / 1.414f), A(1, 32, 16, 16), W(32, 32, 3, 3), W(32), A(1, 32, 16, 16));
        Check(p, "conv 1x1 no bias", (b, x) => b.Conv2d(x[0], x[1], null, 0), A(3, 24, 5, 6), W(40, 24, 1, 1));
        Check(p, "conv 3x3 pad 0", (b, x) => b.Conv2d(x[0], x[1], x[2], 0), A(1, 6, 8, 8), W(12, 6, 3, 3), W(12));
        // The sub-pixel upsampler's phase convolution: an even kernel whose output outgrows its input.
        Check(p, "conv 3x3 + upsampled residual", (b, x) => b.Conv2d(x[0], x[1], x[2], 1, x[3], 0.5f, upsampledResidual: true),
            A(2, 8, 6, 10), W(12, 8, 3, 3), W(12), A(2, 12, 3, 5));
        Check(p, "conv 2x2 pad 1 (phases)", (b, x) => b.Conv2d(x[0], x[1], x[2], 1), A(2, 16, 8, 6), W(64, 16, 2, 2), W(64));
    }

    [Theory, MemberData(nameof(Precisions))]
    public void Linear(string p)
    {
        Check(p, "linear tokens + bias", (b, x) => b.Linear(x[0], x[1], x[2]), A(3, 5, 40), W(24, 40), W(24));
        Check(p, "linear no bias", (b, x) => b.Linear(x[0], x[1], null), A(2, 7, 64), W(96, 64));
        Check(p, "linear + exact GELU", (b, x) => b.Linear(x[0], x[1], x[2], Activation.Gelu), A(2, 64), W(128, 64), W(128));
        Check(p, "linear + residual (beta 1)", (b, x) => b.Linear(x[0], x[1], x[2], residual: x[3]), A(2, 6, 48), W(40, 48), W(40), A(2, 6, 40));
        Check(p, "linear single row", (b, x) => b.Linear(x[0], x[1], x[2]), A(1, 33), W(17, 33), W(17));
    }

    /// <summary>
    /// cuBLASLt assumes every matrix starts 256-byte aligned unless the plan says otherwise. A GEMM whose weight, input,
    /// residual and output all start one element into their allocations must be planned for that: the emulator (like the
    /// library) refuses a broken promise, and the offset results must still match the CPU.
    /// </summary>
    [Theory, MemberData(nameof(Precisions))]
    public void LinearGemmTakesEveryMatrixAtAnyOffset(string p)
    {
        var t = Parse(p);
        var be = Backend(t);
        // Rank 2: rank-1 uploads stay fp32 (step numbers), and these are activations in the backend's precision.
        const int rows = 5, inF = 12, outF = 9, off = 1;
        var rng = new Random(7);
        float[] Rand(int n) => Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        using var w = (CudaTensor)be.FromHost(Rand(outF * inF + off), new Shape(1, outF * inF + off));
        using var x = (CudaTensor)be.FromHost(Rand(rows * inF + off), new Shape(1, rows * inF + off));
        using var c = (CudaTensor)be.FromHost(Rand(rows * outF + off), new Shape(1, rows * outF + off));
        using var y = (CudaTensor)be.FromHost(new float[rows * outF + off], new Shape(1, rows * outF + off));
        ulong es = (ulong)t.Size() * off;
        be.LinearGemm(rows, inF, outF, w.Pointer + es, inF, x.Pointer + es, 0, y.Pointer + es, 1f, "offset operands", c.Pointer + es);
        float[] Host(CudaTensor d) { var h = new float[d.Shape.Elements]; be.ToHost(d, h); return h; }
        float[] wh = Host(w), xh = Host(x), ch = Host(c), got = Host(y);
        var expected = new float[rows * outF];
        for (int r = 0; r < rows; r++)
            for (int o = 0; o < outF; o++)
            {
                double acc = ch[off + r * outF + o];
                for (int i = 0; i < inF; i++) acc += (double)xh[off + r * inF + i] * wh[off + o * inF + i];
                expected[r * outF + o] = (float)acc;
            }
        Numerics.AssertClose($"{p} linear at offset {off}", expected, got.AsSpan(off), Tolerance(t));
    }

    [Theory, MemberData(nameof(Precisions))]
    public void Norms(string p)
    {
        Check(p, "groupnorm", (b, x) => b.GroupNorm(x[0], 8, 1e-5f, x[1], x[2]), A(2, 32, 6, 5), W(32), W(32));
        Check(p, "groupnorm + scale/shift + GELU", (b, x) => b.GroupNorm(x[0], 4, 1e-5f, x[1], x[2], x[3], Activation.Gelu),
            A(2, 16, 7, 3), W(16), W(16), A(2, 32));
        Check(p, "groupnorm large group", (b, x) => b.GroupNorm(x[0], 2, 1e-6f, x[1], x[2]), A(1, 64, 32, 32), W(64), W(64));
        Check(p, "groupnorm + input bias + scale/shift + GELU", (b, x) => b.GroupNorm(x[0], 4, 1e-5f, x[1], x[2], x[3], Activation.Gelu, x[4]),
            A(2, 16, 7, 3), W(16), W(16), A(2, 32), W(16));
        Check(p, "groupnorm + GELU, 2x2 pooled", (b, x) => b.GroupNormPool2x(x[0], 4, 1e-5f, x[1], x[2], Activation.Gelu),
            A(2, 16, 8, 6), W(16), W(16));
        Check(p, "groupnorm pooled, large group", (b, x) => b.GroupNormPool2x(x[0], 2, 1e-6f, x[1], x[2]), A(1, 64, 32, 32), W(64), W(64));
        Check(p, "groupnorm tokens", (b, x) => b.GroupNormTokens(x[0], 8, 1e-5f, x[1], x[2]), A(2, 10, 32), W(32), W(32));
        Check(p, "layernorm", (b, x) => b.LayerNorm(x[0], 1e-5f, x[1], x[2]), A(2, 7, 48), W(48), W(48));
        Check(p, "layernorm wide", (b, x) => b.LayerNorm(x[0], 1e-5f, x[1], x[2]), A(3, 1000), W(1000), W(1000));
    }

    [Theory, MemberData(nameof(Precisions))]
    public void Elementwise(string p)
    {
        Check(p, "gelu", (b, x) => b.Activate(x[0], Activation.Gelu), new In(new Shape(3, 100), Scale: 4f));
        Check(p, "identity", (b, x) => b.Activate(x[0], Activation.None), A(2, 9, 4));
        Check(p, "add images", (b, x) => b.Add(x[0], x[1]), A(2, 4, 5, 6), A(2, 4, 5, 6));
        Check(p, "add broadcast", (b, x) => b.Add(x[0], x[1]), A(2, 7, 16), A(7, 16));
        Check(p, "add vector broadcast", (b, x) => b.Add(x[0], x[1]), A(3, 5, 16), A(1, 16));
    }

    [Theory, MemberData(nameof(Precisions))]
    public void Resampling(string p)
    {
        Check(p, "avgpool", (b, x) => b.AvgPool2x2(x[0]), A(2, 6, 8, 10));
        Check(p, "upsample", (b, x) => b.UpsampleNearest2x(x[0]), A(2, 6, 4, 5));
        Check(p, "shuffle phases", (b, x) => b.ShufflePhases2x(x[0]), A(2, 24, 5, 4));
        Check(p, "shuffle phases 1x1", (b, x) => b.ShufflePhases2x(x[0]), A(1, 8, 2, 2));
    }

    [Theory, MemberData(nameof(Precisions))]
    public void Layout(string p)
    {
        Check(p, "concat channels", (b, x) => b.ConcatChannels(x[0], x[1]), A(2, 3, 4, 5), A(2, 5, 4, 5));
        Check(p, "concat tokens", (b, x) => b.ConcatTokens(x[0], x[1]), A(2, 4, 8), A(2, 6, 8));
        Check(p, "mean tokens", (b, x) => b.MeanTokens(x[0]), A(2, 9, 16));
        Check(p, "to tokens", (b, x) => b.ToTokens(x[0]), A(2, 6, 3, 4));
        Check(p, "from tokens", (b, x) => b.FromTokens(x[0], 3, 4), A(2, 12, 6));
        Check(p, "from tokens + residual", (b, x) => b.FromTokens(x[0], 3, 4, x[1]), A(2, 12, 6), A(2, 6, 3, 4));
        Check(p, "reshape", (b, x) => b.Reshape(x[0], new Shape(2, 24)), A(2, 3, 8));
        // Ops chained through a view: the view must read the right memory on the GPU too.
        Check(p, "tokens -> linear -> image", (b, x) =>
        {
            using var t = b.ToTokens(x[0]);
            using var l = b.Linear(t, x[1], null);
            return b.FromTokens(l, 4, 4, x[0]);
        }, A(2, 8, 4, 4), W(8, 8));
    }

    [Theory, MemberData(nameof(Precisions))]
    public void ConcatReaders(string p)
    {
        // The reference is the CPU op, itself equal to the composition GroupNorm/Conv2d(ConcatChannels(a, b)) (ConcatOpsTests).
        Check(p, "groupnorm concat, group across the boundary", (b, x) => b.GroupNormConcat(x[0], x[1], 4, 1e-5f, x[2], x[3]),
            A(2, 8, 5, 3), A(2, 4, 5, 3), W(12), W(12));
        Check(p, "groupnorm concat + GELU, odd sides", (b, x) => b.GroupNormConcat(x[0], x[1], 3, 1e-5f, x[2], x[3], Activation.Gelu),
            A(2, 5, 4, 4), A(2, 7, 4, 4), W(12), W(12));
        Check(p, "groupnorm concat IF-I-XL up3.0 + GELU", (b, x) => b.GroupNormConcat(x[0], x[1], 32, 1e-5f, x[2], x[3], Activation.Gelu),
            A(2, 1408, 2, 2), A(2, 704, 2, 2), W(2112), W(2112));
        Check(p, "conv 1x1 concat + bias", (b, x) => b.Conv1x1Concat(x[0], x[1], x[2], x[3]), A(2, 24, 5, 6), A(2, 40, 5, 6), W(32, 64, 1, 1), W(32));
        // Ca = 5: the second GEMM's weight block starts 5 elements in, below cuBLASLt's default 256-byte alignment.
        Check(p, "conv 1x1 concat, unaligned block", (b, x) => b.Conv1x1Concat(x[0], x[1], x[2], null), A(1, 5, 4, 3), A(1, 7, 4, 3), W(9, 12, 1, 1));
        Check(p, "conv 1x1 concat IF-I-XL up3.0", (b, x) => b.Conv1x1Concat(x[0], x[1], x[2], x[3]), A(2, 1408, 3, 3), A(2, 704, 3, 3),
            W(704, 2112, 1, 1), W(704));
    }

    [Theory, MemberData(nameof(Precisions))]
    public void Attention(string p)
    {
        Check(p, "self attention", (b, x) => b.Attention(x[0], x[1], x[2], 4, 1 / MathF.Sqrt(8)), A(2, 10, 32), A(2, 12, 32), A(2, 12, 32));
        Check(p, "attention with text keys", (b, x) => b.Attention(x[0], x[1], x[2], 4, 1 / MathF.Sqrt(8), x[3], x[4]),
            A(2, 10, 32), A(2, 5, 32), A(2, 5, 32), A(2, 10, 32), A(2, 10, 32));
        Check(p, "attention one head, 77 keys", (b, x) => b.Attention(x[0], x[1], x[2], 1, 0.125f), A(1, 64, 64), A(1, 77, 64), A(1, 77, 64));
        Check(p, "attention sharp scores", (b, x) => b.Attention(x[0], x[1], x[2], 2, 1f), new In(new Shape(1, 16, 16), Scale: 3f),
            new In(new Shape(1, 16, 16), Scale: 3f), A(1, 16, 16));
    }

    [Theory, MemberData(nameof(Precisions))]
    public void T5Ops(string p)
    {
        Check(p, "rmsnorm", (b, x) => b.RmsNorm(x[0], 1e-6f, x[1]), new In(new Shape(2, 77, 64), Scale: 4f), W(64));
        Check(p, "rmsnorm wide", (b, x) => b.RmsNorm(x[0], 1e-6f, x[1]), A(3, 4096), W(4096));
        Check(p, "multiply", (b, x) => b.Multiply(x[0], x[1]), A(2, 7, 96), A(2, 7, 96));
        Check(p, "multiply gelu_tanh(a)", (b, x) => b.Multiply(x[0], x[1], Activation.GeluTanh), A(2, 7, 96), A(2, 7, 96));
        Check(p, "multiply gelu(a)", (b, x) => b.Multiply(x[0], x[1], Activation.Gelu), A(3, 5, 40), A(3, 5, 40));
        Check(p, "gelu_new", (b, x) => b.Activate(x[0], Activation.GeluTanh), new In(new Shape(3, 100), Scale: 4f));
        Check(p, "linear + gelu_new", (b, x) => b.Linear(x[0], x[1], null, Activation.GeluTanh), A(2, 5, 48), W(96, 48));
        // T5's attention: no scaling, a shared position bias and a per-item key mask folded into one fp32 vector.
        int n = 2, heads = 4, l = 9;
        var bias = new float[n * heads * l * l];
        var rng = new Random(3);
        for (int i = 0; i < bias.Length; i++) bias[i] = (float)(rng.NextDouble() * 4 - 2);
        for (int h = 0; h < heads; h++) for (int i = 0; i < l; i++) for (int j = 6; j < l; j++) bias[((1 * heads + h) * l + i) * l + j] = float.MinValue;
        Check(p, "attention + score bias", (b, x) => b.Attention(x[0], x[1], x[2], heads, 1f, scoreBias: x[3]),
            A(n, l, 32), A(n, l, 32), A(n, l, 32), new In(new Shape(bias.Length), Values: bias));
        var shared = bias[..(heads * l * l)];
        Check(p, "attention + shared bias", (b, x) => b.Attention(x[0], x[1], x[2], heads, 1f, scoreBias: x[3]),
            A(n, l, 32), A(n, l, 32), A(n, l, 32), new In(new Shape(shared.Length), Values: shared));
    }

    [Theory, MemberData(nameof(Precisions))]
    public void Sinusoid(string p)
    {
        var t = new In(new Shape(3), Values: [0f, 17f, 999f]);
        Check(p, "sinusoid flipped", (b, x) => b.Sinusoid(x[0], 32, true, 0f), t);
        Check(p, "sinusoid shift 1", (b, x) => b.Sinusoid(x[0], 64, false, 1f), t);
    }

    [Fact]
    public void HostRoundTripKeepsLayout()
    {
        var be = Backend(DType.F32);
        var x = Gpu.Random(2 * 3 * 4 * 5, out _);
        using var t = be.FromHost(x, new Shape(2, 3, 4, 5));
        Assert.Equal(x, t.ToArray());
    }

    [Fact]
    public void WrongTensorsAreShapeErrors()
    {
        var be = Backend(DType.F16);
        using var img = be.FromHost(new float[2 * 4 * 3 * 3], new Shape(2, 4, 3, 3));
        using var w = be.LoadWeight(new byte[8 * 5 * 9 * 4], DType.F32, new Shape(8, 5, 3, 3));
        Assert.Throws<ShapeException>(() => be.Conv2d(img, w, null, 1));
        using var cpuT = CpuBackend.Instance.FromHost(new float[4], new Shape(2, 2));
        Assert.Throws<ShapeException>(() => be.Activate(cpuT, Activation.Gelu));
        using var t = be.FromHost(new float[3], new Shape(3));
        Assert.Throws<ShapeException>(() => be.Activate(t, Activation.Gelu)); // fp32 timesteps are not activations
    }
}
