using System.Numerics.Tensors;
using FastIF.Tensors;

namespace FastIF.Backends.Cpu;

public sealed partial class CpuBackend
{
    /// <inheritdoc/>
    public Tensor Attention(Tensor q, Tensor k, Tensor v, int heads, float scale, Tensor? k2 = null, Tensor? v2 = null, Tensor? scoreBias = null)
    {
        var a = AttentionShape.Of(q, k, v, heads, k2, v2, scoreBias);
        var qs = Own(q, "Attention q");
        var ks = Own(k, "Attention k");
        var vs = Own(v, "Attention v");
        var k2s = k2 == null ? null : Own(k2, "Attention k2");
        var v2s = v2 == null ? null : Own(v2, "Attention v2");
        var bias = scoreBias == null ? null : Own(scoreBias, "Attention score bias").Data;
        int n = a.Batch, nq = a.Queries, c = a.Channels, nk1 = a.Keys1, nk2 = a.Keys2, nk = a.Keys, d = a.HeadDim, biasBatches = a.BiasBatches;
        var y = New(new Shape(n, nq, c));
        Parallel.For(0, n * heads, p =>
        {
            int b = p / heads, h = p % heads;
            var qh = Gather(qs.Data, b, nq, c, h * d, d, null, 0);
            var kh = Gather(ks.Data, b, nk1, c, h * d, d, k2s?.Data, nk2);
            var vh = Gather(vs.Data, b, nk1, c, h * d, d, v2s?.Data, nk2);
            var s = new float[nq * nk];
            CpuGemm.Gemm(nq, nk, d, qh, d, false, kh, d, true, s, nk, false);
            for (int i = 0; i < nq; i++)
            {
                var row = s.AsSpan(i * nk, nk);
                TensorPrimitives.Multiply(row, scale, row);
                if (bias != null) TensorPrimitives.Add(row, bias.AsSpan(((((biasBatches == 1 ? 0 : b) * heads) + h) * nq + i) * nk, nk), row);
                SoftmaxRow(row);
            }
            var o = new float[nq * d];
            CpuGemm.Gemm(nq, d, nk, s, nk, false, vh, d, false, o, d, false);
            for (int i = 0; i < nq; i++) o.AsSpan(i * d, d).CopyTo(y.Data.AsSpan((b * nq + i) * c + h * d, d));
        });
        return y;
    }

    /// <summary>Copies one head's channels of batch item b (then of the second key set, if any) into a dense [rows, d] array.</summary>
    private static float[] Gather(float[] src, int b, int rows, int c, int offset, int d, float[]? src2, int rows2)
    {
        var dst = new float[(rows + rows2) * d];
        for (int r = 0; r < rows; r++) src.AsSpan((b * rows + r) * c + offset, d).CopyTo(dst.AsSpan(r * d));
        for (int r = 0; r < rows2; r++) src2!.AsSpan((b * rows2 + r) * c + offset, d).CopyTo(dst.AsSpan((rows + r) * d));
        return dst;
    }

    private static void SoftmaxRow(Span<float> row)
    {
        float max = TensorPrimitives.Max(row);
        TensorPrimitives.Subtract(row, max, row);
        TensorPrimitives.Exp(row, row);
        TensorPrimitives.Multiply(row, 1f / TensorPrimitives.Sum(row), row);
    }
}
