// PLACEHOLDER (correct, simple): the GEMM helper replaces it with a tuned implementation of the same API.
namespace FastIF.Backends.Cpu;

/// <summary>Stride-1 2-D convolution over NCHW fp32 arrays via im2col + <see cref="CpuGemm"/>.</summary>
public static class CpuConv2d
{
    /// <summary>y = conv(x, weight) + bias; x [batch, cin, h, w], weight [cout, cin, kh, kw], zero padding <paramref name="pad"/>.</summary>
    public static void Forward(float[] x, int batch, int cin, int h, int w, float[] weight, int cout, int kh, int kw,
        int pad, float[]? bias, float[] y) => Forward(x, batch, cin, h, w, weight, cout, kh, kw, pad, bias, y, null, 1f);

    /// <summary>y = (conv(x, weight) + bias + residual) · outScale.</summary>
    public static void Forward(float[] x, int batch, int cin, int h, int w, float[] weight, int cout, int kh, int kw,
        int pad, float[]? bias, float[] y, float[]? residual, float outScale)
    {
        int oh = h + 2 * pad - kh + 1, ow = w + 2 * pad - kw + 1, p = oh * ow, k = cin * kh * kw;
        var col = new float[k * p];
        for (int b = 0; b < batch; b++)
        {
            for (int ci = 0; ci < cin; ci++)
                for (int dy = 0; dy < kh; dy++)
                    for (int dx = 0; dx < kw; dx++)
                    {
                        int row = (ci * kh + dy) * kw + dx;
                        for (int oy = 0; oy < oh; oy++)
                        {
                            int iy = oy + dy - pad;
                            for (int ox = 0; ox < ow; ox++)
                            {
                                int ix = ox + dx - pad;
                                col[row * p + oy * ow + ox] = iy >= 0 && iy < h && ix >= 0 && ix < w
                                    ? x[((b * cin + ci) * h + iy) * w + ix] : 0f;
                            }
                        }
                    }
            var yb = y.AsSpan(b * cout * p, cout * p);
            CpuGemm.Gemm(cout, p, k, weight, k, false, col, p, false, yb, p, false);
            for (int co = 0; co < cout; co++)
            {
                float bv = bias?[co] ?? 0f;
                for (int i = 0; i < p; i++)
                {
                    int idx = co * p + i;
                    float v = yb[idx] + bv;
                    if (residual != null) v += residual[b * cout * p + idx];
                    yb[idx] = v * outScale;
                }
            }
        }
    }
}
