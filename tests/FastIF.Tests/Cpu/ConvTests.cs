using FastIF.Backends.Cpu;

namespace FastIF.Tests.Cpu;

public class ConvTests
{
    [Theory]
    [InlineData(1, 3, 5, 7, 4, 3, 1)]
    [InlineData(3, 4, 6, 5, 2, 3, 0)]
    [InlineData(2, 5, 4, 4, 7, 1, 0)]
    [InlineData(1, 2, 9, 3, 3, 5, 2)]
    [InlineData(2, 16, 8, 8, 24, 3, 1)]
    public void MatchesDirectConvolution(int batch, int cin, int h, int w, int cout, int k, int pad)
    {
        var r = new Random(batch * 7 + cin * 13 + k);
        float[] R(int n) => Enumerable.Range(0, n).Select(_ => (float)(r.NextDouble() * 2 - 1)).ToArray();
        var x = R(batch * cin * h * w);
        var wt = R(cout * cin * k * k);
        var bias = R(cout);
        int oh = h + 2 * pad - k + 1, ow = w + 2 * pad - k + 1;
        var residual = R(batch * cout * oh * ow);
        foreach (var (useBias, useRes) in new[] { (false, false), (true, false), (true, true) })
        {
            var expected = new float[batch * cout * oh * ow];
            for (int b = 0; b < batch; b++)
                for (int co = 0; co < cout; co++)
                    for (int oy = 0; oy < oh; oy++)
                        for (int ox = 0; ox < ow; ox++)
                        {
                            double s = useBias ? bias[co] : 0;
                            for (int ci = 0; ci < cin; ci++)
                                for (int dy = 0; dy < k; dy++)
                                    for (int dx = 0; dx < k; dx++)
                                    {
                                        int iy = oy + dy - pad, ix = ox + dx - pad;
                                        if (iy >= 0 && iy < h && ix >= 0 && ix < w)
                                            s += (double)x[((b * cin + ci) * h + iy) * w + ix] * wt[((co * cin + ci) * k + dy) * k + dx];
                                    }
                            int o = ((b * cout + co) * oh + oy) * ow + ox;
                            if (useRes) s = (s + residual[o]) * 0.7;
                            expected[o] = (float)s;
                        }
            var y = new float[expected.Length];
            CpuConv2d.Forward(x, batch, cin, h, w, wt, cout, k, k, pad, useBias ? bias : null, y, useRes ? residual : null, useRes ? 0.7f : 1f);
            Numerics.AssertClose($"conv b{batch} {cin}->{cout} {h}x{w} k{k} p{pad} bias={useBias} res={useRes}", expected, y, 1e-5);
        }
    }
}
