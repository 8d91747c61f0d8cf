namespace FastIF.Backends.Cpu;

/// <summary>
/// Stride-1 2-D convolution over NCHW fp32 arrays as GEMM: <c>y_b[Cout×HW] = W[Cout×Cin·kh·kw] · col_b</c>, where
/// <c>col_b</c> is the im2col matrix of batch item b (skipped for unpadded 1×1 kernels, whose input already is it).
/// </summary>
public static class CpuConv2d
{
    /// <summary>y = conv(x, weight) + bias; x [batch, cin, h, w], weight [cout, cin, kh, kw], zero padding <paramref name="pad"/>.</summary>
    public static void Forward(float[] x, int batch, int cin, int h, int w, float[] weight, int cout, int kh, int kw,
        int pad, float[]? bias, float[] y) => Forward(x, batch, cin, h, w, weight, cout, kh, kw, pad, bias, y, null, 1f);

    /// <summary>y = (conv(x, weight) + bias + residual) · outScale (the ResNet tail, fused into the epilogue); with
    /// <paramref name="upsampledResidual"/> the residual has half the output's size and is read through nearest ×2.</summary>
    public static void Forward(float[] x, int batch, int cin, int h, int w, float[] weight, int cout, int kh, int kw,
        int pad, float[]? bias, float[] y, float[]? residual, float outScale, bool upsampledResidual = false)
    {
        int oh = h + 2 * pad - kh + 1, ow = w + 2 * pad - kw + 1, p = oh * ow, k = cin * kh * kw;
        bool direct = kh == 1 && kw == 1 && pad == 0;
        var col = direct ? null : GC.AllocateUninitializedArray<float>(k * p);
        for (int b = 0; b < batch; b++)
        {
            ReadOnlySpan<float> src;
            if (direct) src = x.AsSpan(b * cin * h * w, cin * h * w);
            else
            {
                Im2Col(x, b, cin, h, w, kh, kw, pad, oh, ow, col!);
                src = col;
            }
            CpuGemm.Gemm(cout, p, k, weight, k, false, src, p, false, y.AsSpan(b * cout * p, cout * p), p, false);
        }
        if (bias == null && residual == null && outScale == 1f) return;
        Parallel.For(0, batch * cout, bc =>
        {
            int co = bc % cout;
            var dst = y.AsSpan(bc * p, p);
            float bv = bias?[co] ?? 0f;
            if (residual == null)
                for (int i = 0; i < p; i++) dst[i] = (dst[i] + bv) * outScale;
            else if (!upsampledResidual)
            {
                var res = residual.AsSpan(bc * p, p);
                for (int i = 0; i < p; i++) dst[i] = (dst[i] + bv + res[i]) * outScale;
            }
            else
            {
                int rw = ow / 2;
                var res = residual.AsSpan(bc * (p / 4), p / 4);
                for (int i = 0; i < oh; i++)
                    for (int j = 0; j < ow; j++)
                        dst[i * ow + j] = (dst[i * ow + j] + bv + res[(i >> 1) * rw + (j >> 1)]) * outScale;
            }
        });
    }

    /// <summary>Row (ci, dy, dx) of col holds the input shifted by (dy − pad, dx − pad), zero outside.</summary>
    private static void Im2Col(float[] x, int b, int cin, int h, int w, int kh, int kw, int pad, int oh, int ow, float[] col)
    {
        int p = oh * ow;
        Parallel.For(0, cin * kh * kw, row =>
        {
            int ci = row / (kh * kw), dy = row / kw % kh, dx = row % kw;
            var dst = col.AsSpan(row * p, p);
            var plane = x.AsSpan((b * cin + ci) * h * w, h * w);
            for (int oy = 0; oy < oh; oy++)
            {
                int iy = oy + dy - pad;
                var drow = dst.Slice(oy * ow, ow);
                if (iy < 0 || iy >= h) { drow.Clear(); continue; }
                int x0 = Math.Max(0, pad - dx), x1 = Math.Min(ow, w + pad - dx);
                if (x0 > 0) drow[..Math.Min(x0, ow)].Clear();
                if (x1 < ow) drow[Math.Max(x1, 0)..].Clear();
                if (x1 > x0) plane.Slice(iy * w + x0 + dx - pad, x1 - x0).CopyTo(drow.Slice(x0, x1 - x0));
            }
        });
    }
}
