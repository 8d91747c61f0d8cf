using FastIF.Backends;
using FastIF.Backends.Cpu;
using FastIF.Tensors;

namespace FastIF.Tests.Cuda;

/// <summary>
/// The tensor-core attention kernel's CPU twin (<see cref="MmaAttentionEmulator"/>) against the CPU reference on fresh
/// random inputs rounded to the storage type, with the GPU tolerances of <see cref="CudaBackendParityTests"/>: its tiling,
/// fragment indexing, masking, bias and online softmax, checked without a GPU. NaN fails.
/// </summary>
public class MmaAttentionEmulatorTests
{
    public static TheoryData<string, int, int, int, int, int, bool, float> Shapes() => new()
    {
        { "fp16", 1, 16, 1, 16, 0, false, 0.125f },      // one tile, rows and keys short of it
        { "fp16", 2, 77, 3, 100, 0, false, 0.125f },     // rows and keys off the tiles
        { "bf16", 1, 130, 2, 141, 77, false, 0.125f },   // three query blocks, key tiles crossing k/k2
        { "fp16", 2, 77, 4, 77, 0, true, 1f },           // T5-style per-item bias with masked keys and a masked row
        { "bf16", 1, 64, 2, 64, 77, false, 0.5f },       // sharper scores
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void TheTwinMatchesTheReference(string precision, int batch, int nq, int heads, int nk1, int nk2, bool withBias, float scale)
    {
        var dt = CudaBackendParityTests.Parse(precision);
        int c = heads * 64, seed = nq * 7 + nk1;
        var rng = new Random(seed);
        float[] Input(int n) => CudaBackendParityTests.RoundTo(dt, Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray());
        var q = Input(batch * nq * c);
        var k = Input(batch * nk1 * c);
        var v = Input(batch * nk1 * c);
        var k2 = nk2 > 0 ? Input(batch * nk2 * c) : null;
        var v2 = nk2 > 0 ? Input(batch * nk2 * c) : null;
        var bias = withBias ? FlashAttentionGpuTests.Bias(batch, heads, nq, nk1 + nk2, keep: 12, 1, 4) : null;

        var be = CpuBackend.Instance;
        using var qt = be.FromHost(q, new Shape(batch, nq, c));
        using var kt = be.FromHost(k, new Shape(batch, nk1, c));
        using var vt = be.FromHost(v, new Shape(batch, nk1, c));
        using var k2t = k2 == null ? null : be.FromHost(k2, new Shape(batch, nk2, c));
        using var v2t = v2 == null ? null : be.FromHost(v2, new Shape(batch, nk2, c));
        using var bt = bias == null ? null : be.FromHost(bias, new Shape(bias.Length));
        using var want = be.Attention(qt, kt, vt, heads, scale, k2t, v2t, bt);

        var shape = AttentionShape.Of(qt, kt, vt, heads, k2t, v2t, bt);
        Backends.Cuda.CudaBackend.CheckMmaAttention(shape, dt);
        var got = MmaAttentionEmulator.Run(shape, dt, q, k, v, k2, v2, bias, scale);
        Numerics.AssertClose($"mma twin vs cpu ({precision}, seed {seed})", want.ToArray(), got, CudaBackendParityTests.Tolerance(dt));
    }
}
