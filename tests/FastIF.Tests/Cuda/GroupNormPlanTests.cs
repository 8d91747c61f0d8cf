using FastIF.Backends;
using FastIF.Backends.Cpu;
using FastIF.Backends.Cuda;
using FastIF.Tensors;

namespace FastIF.Tests.Cuda;

/// <summary>
/// The CUDA GroupNorm's way of cutting its work (<see cref="GroupNormPlan"/>: runs of positions per (sample, group),
/// per-run count, mean and squared deviations, merged pairwise), emulated on the CPU in fp32 as the kernels compute it
/// and held to the CPU reference on fresh random inputs, including uneven runs, one position per run, groups wider than
/// a block, and the pooled apply's runs over pooled positions. The kernels themselves are held to the reference by
/// <see cref="CudaBackendParityTests"/> on a GPU.
/// </summary>
public class GroupNormPlanTests
{
    private static readonly CpuBackend Be = CpuBackend.Instance;

    /// <summary>Channels-last [B, S, C] → per (sample, group, run) (count, mean, m2), in fp32 as groupnorm_partial.</summary>
    private static float[] Partials(float[] x, int batch, int spatial, int channels, int groups, int chunks)
    {
        int cpg = channels / groups;
        var partial = new float[batch * groups * chunks * 3];
        for (int blk = 0; blk < batch * groups * chunks; blk++)
        {
            int k = blk % chunks, bg = blk / chunks, b = bg / groups, c0 = bg % groups * cpg;
            var (q0, q1) = GroupNormPlan.Run(spatial, k, chunks);
            float count = (float)(q1 - q0) * cpg, s = 0, q = 0;
            for (int p = q0; p < q1; p++) for (int c = 0; c < cpg; c++) s += x[((long)b * spatial + p) * channels + c0 + c];
            float mean = count > 0 ? s / count : 0;
            for (int p = q0; p < q1; p++)
                for (int c = 0; c < cpg; c++) { float d = x[((long)b * spatial + p) * channels + c0 + c] - mean; q += d * d; }
            (partial[3 * blk], partial[3 * blk + 1], partial[3 * blk + 2]) = (count, mean, q);
        }
        return partial;
    }

    /// <summary>groupnorm_merge: Chan et al.'s pairwise update over a group's runs, in fp32.</summary>
    private static (float Mean, float Rstd) Merge(float[] partial, int bg, int chunks, float eps)
    {
        float n = 0, mean = 0, m2 = 0;
        for (int k = 0; k < chunks; k++)
        {
            int at = 3 * (bg * chunks + k);
            float nk = partial[at];
            if (nk == 0) continue;
            float total = n + nk, d = partial[at + 1] - mean;
            mean += d * (nk / total);
            m2 += partial[at + 2] + d * d * (n * nk / total);
            n = total;
        }
        return (mean, 1f / MathF.Sqrt(m2 / n + eps));
    }

    private static float[] ChannelsLast(float[] nchw, int b, int c, int s)
    {
        var y = new float[nchw.Length];
        for (int i = 0; i < b; i++) for (int ch = 0; ch < c; ch++) for (int p = 0; p < s; p++) y[(i * s + p) * c + ch] = nchw[(i * c + ch) * s + p];
        return y;
    }

    [Theory]
    [InlineData(2, 32, 8, 9, 7, 3)]       // uneven runs (63 positions in 3)
    [InlineData(1, 12, 4, 2, 3, 6)]       // one position per run
    [InlineData(2, 300, 1, 4, 4, 5)]      // a group wider than a block (300 channels)
    [InlineData(1, 40, 8, 16, 16, 64)]    // the most runs
    public void RunsMergedGiveTheReferenceGroupNorm(int batch, int channels, int groups, int h, int w, int chunks)
    {
        var r = new Random(channels * 7 + chunks);
        var x = Enumerable.Range(0, batch * channels * h * w).Select(_ => (float)(r.NextDouble() * 4 - 1.5)).ToArray();
        var g = Enumerable.Range(0, channels).Select(_ => (float)(r.NextDouble() + 0.5)).ToArray();
        var bt = Enumerable.Range(0, channels).Select(_ => (float)r.NextDouble() - 0.5f).ToArray();
        using var xt = Be.FromHost(x, new Shape(batch, channels, h, w));
        using var gt = Be.FromHost(g, new Shape(channels));
        using var btt = Be.FromHost(bt, new Shape(channels));
        using var want = Be.GroupNorm(xt, groups, 1e-5f, gt, btt);
        var expected = ChannelsLast(want.ToArray(), batch, channels, h * w);

        int s = h * w, cpg = channels / groups;
        var xl = ChannelsLast(x, batch, channels, s);
        var partial = Partials(xl, batch, s, channels, groups, chunks);
        var got = new float[xl.Length];
        for (int blk = 0; blk < batch * groups * chunks; blk++)
        {
            int k = blk % chunks, bg = blk / chunks, b = bg / groups, c0 = bg % groups * cpg;
            var (mean, rstd) = Merge(partial, bg, chunks, 1e-5f);
            var (q0, q1) = GroupNormPlan.Run(s, k, chunks);
            for (int p = q0; p < q1; p++)
                for (int c = c0; c < c0 + cpg; c++)
                {
                    long i = ((long)b * s + p) * channels + c;
                    got[i] = (xl[i] - mean) * rstd * g[c] + bt[c];
                }
        }
        Numerics.AssertClose("chunked GroupNorm (emulated)", expected, got, 1e-5, 1e-5);
    }

    [Theory]
    [InlineData(132, 2, 32, 4096)]   // IF-I-XL at B=2: 9 runs, 576 blocks
    [InlineData(132, 2, 32, 64)]
    [InlineData(132, 128, 32, 4096)] // a large batch needs no runs
    [InlineData(132, 1, 1, 3)]       // never more runs than positions
    public void EveryRunHoldsPositionsAndTheGridFillsTheDevice(int sms, int batch, int groups, int positions)
    {
        int chunks = GroupNormPlan.Chunks(sms, batch, groups, positions);
        Assert.InRange(chunks, 1, Math.Min(64, positions));
        Assert.True(batch * groups * chunks >= Math.Min(8 * sms, batch * groups * Math.Min(64, positions)),
            $"{batch * groups * chunks} blocks for {sms} SMs");
        int covered = 0;
        for (int k = 0; k < chunks; k++)
        {
            var (q0, q1) = GroupNormPlan.Run(positions, k, chunks);
            Assert.Equal(covered, q0);
            Assert.True(q1 > q0, $"run {k} of {chunks} over {positions} positions is empty");
            covered = q1;
        }
        Assert.Equal(positions, covered);
    }
}
