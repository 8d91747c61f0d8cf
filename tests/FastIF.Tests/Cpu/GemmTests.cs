using FastIF.Backends.Cpu;

namespace FastIF.Tests.Cpu;

public class GemmTests
{
    private static float[] Rand(Random r, int n) => Enumerable.Range(0, n).Select(_ => (float)(r.NextDouble() * 2 - 1)).ToArray();

    [Theory]
    [InlineData(1, 1, 1)]
    [InlineData(6, 16, 1)]
    [InlineData(7, 17, 3)]
    [InlineData(67, 131, 97)]
    [InlineData(96, 192, 256)]
    [InlineData(97, 193, 257)]
    [InlineData(200, 50, 600)]
    [InlineData(5, 400, 33)]
    public void MatchesNaiveReference(int m, int n, int k)
    {
        var r = new Random(m * 1000 + n * 10 + k);
        foreach (var (ta, tb, acc) in new[] { (false, false, false), (true, false, true), (false, true, false), (true, true, true) })
        {
            int lda = (ta ? m : k) + 3, ldb = (tb ? k : n) + 1, ldc = n + 2;
            var a = Rand(r, (ta ? k : m) * lda);
            var b = Rand(r, (tb ? n : k) * ldb);
            var c = Rand(r, m * ldc);
            var expected = (float[])c.Clone();
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++)
                {
                    double s = acc ? c[i * ldc + j] : 0;
                    for (int p = 0; p < k; p++)
                        s += (double)(ta ? a[p * lda + i] : a[i * lda + p]) * (tb ? b[j * ldb + p] : b[p * ldb + j]);
                    expected[i * ldc + j] = (float)s;
                }
            CpuGemm.Gemm(m, n, k, a, lda, ta, b, ldb, tb, c, ldc, acc);
            Numerics.AssertClose($"gemm {m}x{n}x{k} transA={ta} transB={tb} acc={acc}", expected, c, 1e-5);
        }
    }

    [Fact]
    public void ZeroDepthClearsOrKeeps()
    {
        var c = new float[] { 1, 2, 3, 4 };
        CpuGemm.Gemm(2, 2, 0, [], 1, false, [], 2, false, c, 2, accumulate: true);
        Assert.Equal(new float[] { 1, 2, 3, 4 }, c);
        CpuGemm.Gemm(2, 2, 0, [], 1, false, [], 2, false, c, 2, accumulate: false);
        Assert.Equal(new float[4], c);
    }

    [Fact]
    public void TooSmallBuffersAreRejected()
        => Assert.Throws<ArgumentException>(() => CpuGemm.Gemm(4, 4, 4, new float[15], 4, false, new float[16], 4, false, new float[16], 4, false));
}
