using System.Collections.Concurrent;
using FastIF.Backends;
using FastIF.Backends.Cpu;
using FastIF.Backends.Cuda;
using FastIF.Native;
using FastIF.Tensors;

namespace FastIF.Tests.Cuda;

/// <summary>
/// The fused attention kernel (<see cref="AttentionKernel.Flash"/>) on a GPU against the CPU reference and against the
/// cuBLAS path (<see cref="AttentionKernel.Gemm"/>), in each storage precision, on fresh random inputs rounded to the
/// storage type first. Tolerances are relative L2 as in <see cref="CudaBackendParityTests"/> (fp32 1e-5, fp16 2e-3,
/// bf16 1.6e-2) against the CPU; flash against Gemm may differ by both paths' error, so twice that. NaN or Inf fails.
/// Skips where no GPU is present.
/// </summary>
[Collection("gpu")]
public class FlashAttentionGpuTests
{
    private static readonly ConcurrentDictionary<(DType, AttentionKernel), CudaBackend> Opened = new();

    public static TheoryData<string> Precisions() => CudaBackendParityTests.Precisions();

    private static DType Parse(string p) => CudaBackendParityTests.Parse(p);

    private static double Tolerance(DType t) => CudaBackendParityTests.Tolerance(t);

    private static CudaBackend Fused(DType t, AttentionKernel kernel = AttentionKernel.Flash)
    {
        _ = CudaBackendParityTests.Backend(t);  // skips without GPU or libraries
        return Opened.GetOrAdd((t, kernel), key => new CudaBackend(new CudaBackendOptions(key.Item1, AttentionKernel: key.Item2)));
    }

    /// <summary>q [B, Nq, C], k/v [B, Nk1, C], optional k2/v2 [B, Nk2, C] and flat fp32 bias; compares the fused kernel
    /// (<paramref name="kernel"/>) with the CPU and with Gemm.</summary>
    internal static void Check(string precision, string what, int batch, int nq, int nk1, int nk2, int heads, int d, float scale,
        float[]? bias = null, float sharp = 1f, AttentionKernel kernel = AttentionKernel.Flash)
    {
        var dt = Parse(precision);
        var flash = Fused(dt, kernel);
        var gemm = CudaBackendParityTests.Backend(dt);
        int c = heads * d;
        var seeds = new List<int>();
        float[] Input(int n, float s = 1f)
        {
            var x = Gpu.Random(n, out int seed);
            seeds.Add(seed);
            for (int i = 0; i < x.Length; i++) x[i] *= s;
            return CudaBackendParityTests.RoundTo(dt, x);
        }
        var shapes = new List<Shape> { new(batch, nq, c), new(batch, nk1, c), new(batch, nk1, c) };
        var data = new List<float[]> { Input(batch * nq * c, sharp), Input(batch * nk1 * c, sharp), Input(batch * nk1 * c) };
        if (nk2 > 0)
        {
            shapes.AddRange([new Shape(batch, nk2, c), new Shape(batch, nk2, c)]);
            data.AddRange([Input(batch * nk2 * c, sharp), Input(batch * nk2 * c)]);
        }
        if (bias != null)
        {
            shapes.Add(new Shape(bias.Length));
            data.Add(bias);  // rank 1: fp32 on every backend
        }
        float[] Run(IBackend be)
        {
            var t = shapes.Select((s, i) => be.FromHost(data[i], s)).ToArray();
            try
            {
                using var y = be.Attention(t[0], t[1], t[2], heads, scale, nk2 > 0 ? t[3] : null, nk2 > 0 ? t[4] : null,
                    bias != null ? t[^1] : null);
                return y.ToArray();
            }
            finally { foreach (var x in t) x.Dispose(); }
        }
        var want = Run(CpuBackend.Instance);
        var got = Run(flash);
        var viaGemm = Run(gemm);
        string tag = $"{what} ({precision}, seeds {string.Join(",", seeds)})", name = kernel.ToString().ToLowerInvariant();
        Gpu.AssertClose(got, want, Tolerance(dt), $"{name} vs cpu: " + tag);
        Gpu.AssertClose(got, viaGemm, 2 * Tolerance(dt), $"{name} vs gemm: " + tag);
    }

    /// <summary>T5-style bias: random position bias; in the last item keys from <paramref name="keep"/> on are masked, and rows in <paramref name="dead"/> entirely.</summary>
    internal static float[] Bias(int blocks, int heads, int nq, int nk, int keep, params int[] dead)
    {
        var rng = new Random(3);
        var bias = new float[blocks * heads * nq * nk];
        for (int i = 0; i < bias.Length; i++) bias[i] = (float)(rng.NextDouble() * 4 - 2);
        int b = blocks - 1;
        for (int h = 0; h < heads; h++)
            for (int i = 0; i < nq; i++)
                for (int j = 0; j < nk; j++)
                    if (j >= keep || dead.Contains(i)) bias[((b * heads + h) * nq + i) * nk + j] = float.MinValue;
        return bias;
    }

    [Theory, MemberData(nameof(Precisions))]
    public void SmallShapes(string p)
    {
        Check(p, "self attention", 2, 10, 12, 0, 4, 8, 1 / MathF.Sqrt(8));
        Check(p, "text keys", 2, 10, 5, 10, 4, 8, 1 / MathF.Sqrt(8));
        Check(p, "one head, 77 keys", 1, 64, 77, 0, 1, 64, 0.125f);
        Check(p, "sharp scores", 1, 16, 16, 0, 2, 8, 1f, sharp: 3f);
        Check(p, "odd head dim, tiles crossing k/k2", 1, 37, 100, 77, 3, 40, 1 / MathF.Sqrt(40));
        Check(p, "head dim 32", 2, 33, 65, 0, 4, 32, 1 / MathF.Sqrt(32));
        Check(p, "head dim 128", 1, 50, 70, 13, 2, 128, 1 / MathF.Sqrt(128));
    }

    [Theory, MemberData(nameof(Precisions))]
    public void ScoreBiasAndMaskedRows(string p)
    {
        int n = 2, heads = 4, l = 9;
        Check(p, "per-item bias, masked keys and rows", n, l, l, 0, heads, 32, 1f, bias: Bias(n, heads, l, l, keep: 6, 1, 4));
        Check(p, "shared bias", n, l, l, 0, heads, 32, 1f, bias: Bias(1, heads, l, l, keep: l));
        // T5-XXL's encoder: 64 heads of 64 over 77 tokens, a shared position bias, padding masked in the second prompt.
        Check(p, "T5-XXL sized", n, 77, 77, 0, 64, 64, 1f, bias: Bias(n, 64, 77, 77, keep: 12));
    }

    [Theory, MemberData(nameof(Precisions))]
    public void IfSizedShapes(string p)
    {
        Gpu.SkipOnEmulator("IF-sized attention takes minutes on the emulator's one CPU thread; SmallShapes runs the same kernel there");
        // IF's UNet: 64-channel heads; image tokens attend to themselves and to 77 text tokens.
        Check(p, "32x32 image + 77 text tokens", 2, 32 * 32, 32 * 32, 77, 4, 64, 0.125f);
        Check(p, "64x64 image + 77 text tokens", 1, 64 * 64, 64 * 64, 77, 2, 64, 0.125f);
    }

    [Fact]
    public void HeadDimOverTheKernelsLimitIsRefused()
    {
        var be = Fused(DType.F16);
        using var q = be.FromHost(new float[2 * 320], new Shape(1, 2, 320));
        var e = Assert.Throws<ShapeException>(() => be.Attention(q, q, q, 2, 1f));
        Assert.Contains("AttentionKernel", e.Message);
    }
}
