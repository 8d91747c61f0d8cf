using FastIF.Backends;
using FastIF.Backends.Cpu;
using FastIF.Backends.Cuda;
using FastIF.Tensors;

namespace FastIF.Tests.Cuda;

/// <summary>
/// The flash kernel's algorithm without a GPU: <see cref="FlashAttentionEmulator"/> (the kernel's tiling and online
/// softmax, step for step) against <see cref="CpuBackend.Attention"/> (a plain fp32 softmax over all keys) on random
/// inputs, relative L2 within 1e-5. Shapes cover self attention, text keys beside image keys with tiles crossing the
/// boundary, shared and per-item score bias, fully masked rows, query and key counts off the tile sizes, and head dims
/// from 1 to 128.
/// </summary>
public class FlashAttentionEmulatorTests
{
    public enum Bias { None, Shared, PerItem }

    /// <summary>batch, queries, keys, text keys, heads, head dim, bias, value scale of q and k (sharp scores when large).</summary>
    public static TheoryData<int, int, int, int, int, int, Bias, float> Shapes() => new()
    {
        { 2, 10, 12, 0, 4, 8, Bias.None, 1f },
        { 2, 10, 5, 10, 4, 8, Bias.None, 1f },
        { 1, 37, 77, 0, 1, 64, Bias.None, 1f },
        { 1, 33, 100, 77, 2, 64, Bias.None, 1f },
        { 1, 64, 64, 77, 1, 64, Bias.None, 3f },
        { 2, 9, 9, 0, 4, 32, Bias.PerItem, 1f },
        { 2, 9, 9, 0, 4, 32, Bias.Shared, 1f },
        { 1, 20, 70, 13, 2, 128, Bias.PerItem, 2f },
        { 1, 17, 40, 0, 3, 40, Bias.None, 1f },
        { 2, 50, 30, 41, 2, 96, Bias.Shared, 1f },
        { 1, 5, 1, 0, 1, 1, Bias.None, 1f },
        { 1, 1, 200, 0, 2, 16, Bias.PerItem, 4f },
        { 1, 256, 256, 77, 2, 64, Bias.None, 1f },
    };

    private static float[] Random(int n, int seed, float scale = 1f)
    {
        var r = new Random(seed);
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float)(r.NextDouble() * 2 - 1) * scale;
        return a;
    }

    /// <summary>
    /// A bias like T5's: random values, and where <paramref name="mask"/> holds, masked keys (float.MinValue) in the
    /// last item: every key of query rows 1 and 4 (fully masked), the first 70 keys of row 0 (a first tile with nothing
    /// but masked keys, then real ones), and the keys from 6 on of the other rows.
    /// </summary>
    private static float[] MakeBias(int blocks, int heads, int nq, int nk, int seed, bool mask)
    {
        var bias = Random(blocks * heads * nq * nk, seed, 2f);
        if (!mask) return bias;
        int b = blocks - 1;
        for (int h = 0; h < heads; h++)
            for (int i = 0; i < nq; i++)
                for (int j = 0; j < nk; j++)
                {
                    bool masked = i is 1 or 4 || (i == 0 ? j < Math.Min(70, nk - 1) : j >= 6);
                    if (masked) bias[((b * heads + h) * nq + i) * nk + j] = float.MinValue;
                }
        return bias;
    }

    private sealed record Case(AttentionShape Shape, float[] Q, float[] K, float[] V, float[]? K2, float[]? V2, float[]? Bias, float Scale, float[] Reference);

    private static Case Make(int batch, int nq, int nk1, int nk2, int heads, int d, Bias biasKind, float sharp, int seed)
    {
        var cpu = CpuBackend.Instance;
        int c = heads * d;
        var q = Random(batch * nq * c, seed, sharp);
        var k = Random(batch * nk1 * c, seed + 1, sharp);
        var v = Random(batch * nk1 * c, seed + 2);
        var k2 = nk2 > 0 ? Random(batch * nk2 * c, seed + 3, sharp) : null;
        var v2 = nk2 > 0 ? Random(batch * nk2 * c, seed + 4) : null;
        var bias = biasKind == Bias.None ? null
            : MakeBias(biasKind == Bias.Shared ? 1 : batch, heads, nq, nk1 + nk2, seed + 5, mask: biasKind == Bias.PerItem);
        float scale = 1f / MathF.Sqrt(d);
        using var tq = cpu.FromHost(q, new Shape(batch, nq, c));
        using var tk = cpu.FromHost(k, new Shape(batch, nk1, c));
        using var tv = cpu.FromHost(v, new Shape(batch, nk1, c));
        using var tk2 = k2 == null ? null : cpu.FromHost(k2, new Shape(batch, nk2, c));
        using var tv2 = v2 == null ? null : cpu.FromHost(v2, new Shape(batch, nk2, c));
        using var tb = bias == null ? null : cpu.FromHost(bias, new Shape(bias.Length));
        var shape = AttentionShape.Of(tq, tk, tv, heads, tk2, tv2, tb);
        using var y = cpu.Attention(tq, tk, tv, heads, scale, tk2, tv2, tb);
        return new Case(shape, q, k, v, k2, v2, bias, scale, y.ToArray());
    }

    private static float[] Emulate(Case c, FlashAttentionPlan? plan = null) =>
        FlashAttentionEmulator.Run(plan ?? FlashAttentionPlan.For(c.Shape), c.Shape, c.Q, c.K, c.V, c.K2, c.V2, c.Bias, c.Scale);

    [Theory, MemberData(nameof(Shapes))]
    public void MatchesCpuReference(int batch, int nq, int nk1, int nk2, int heads, int d, Bias bias, float sharp)
    {
        int seed = System.Random.Shared.Next(1 << 20);
        var c = Make(batch, nq, nk1, nk2, heads, d, bias, sharp, seed);
        Gpu.AssertClose(Emulate(c), c.Reference, 1e-5, $"flash emulation {c.Shape} bias {bias} (seed {seed})");
    }

    [Fact]
    public void FullyMaskedRowAveragesItsValues()
    {
        // Checked against the contract directly, not only against the CPU backend: a row with every key masked is the mean of all values.
        int nq = 6, nk1 = 70, nk2 = 9, heads = 2, d = 32, c = heads * d;
        var x = Make(2, nq, nk1, nk2, heads, d, Bias.PerItem, 1f, seed: 11);
        var y = Emulate(x);
        foreach (int row in new[] { 1, 4 })
            for (int ch = 0; ch < c; ch++)
            {
                double mean = 0;
                for (int j = 0; j < nk1; j++) mean += x.V[(1 * nk1 + j) * c + ch];
                for (int j = 0; j < nk2; j++) mean += x.V2![(1 * nk2 + j) * c + ch];
                mean /= nk1 + nk2;
                Assert.Equal(mean, y[(1 * nq + row) * c + ch], 5);
            }
        Gpu.AssertClose(y, x.Reference, 1e-5, "masked rows");
    }

    [Fact]
    public void SharedMemoryOfThePlanIsAllUsed()
    {
        // The emulation addresses one flat array of SharedBytes, as the kernel does: one float less must not be enough.
        var c = Make(1, 40, 130, 7, 2, 64, Bias.None, 1f, seed: 5);
        var plan = FlashAttentionPlan.For(c.Shape);
        Gpu.AssertClose(Emulate(c, plan), c.Reference, 1e-5, "full plan");
        Assert.Throws<IndexOutOfRangeException>(() => Emulate(c, plan with { SharedBytes = plan.SharedBytes - 4 }));
    }

    [Fact]
    public void TilesSmallerThanThePlanStillMatch()
    {
        // The kernel takes its tile sizes as parameters: the online softmax must hold for any tiling it accepts, e.g. 4-row, 32-key tiles over 64-dim heads.
        var c = Make(2, 13, 90, 77, 2, 64, Bias.Shared, 2f, seed: 8);
        var plan = FlashAttentionPlan.For(c.Shape);
        var small = plan with { BlockQ = 4, BlockK = 32, GridX = (uint)((c.Shape.Queries + 3) / 4) };
        Gpu.AssertClose(Emulate(c, small), c.Reference, 1e-5, "4 x 32 tiles");
    }
}
