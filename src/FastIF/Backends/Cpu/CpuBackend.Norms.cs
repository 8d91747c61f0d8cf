using FastIF.Tensors;

namespace FastIF.Backends.Cpu;

public sealed partial class CpuBackend
{
    /// <inheritdoc/>
    /// <remarks>An input bias is added first, exactly as the convolution's epilogue would have stored it.</remarks>
    public Tensor GroupNorm(Tensor x, int groups, float eps, Tensor gamma, Tensor beta, Tensor? scaleShift = null,
        Activation act = Activation.None, Tensor? inputBias = null)
    {
        var xs = Own(x, "GroupNorm");
        if (x.Shape.Rank < 3) throw new ShapeException($"GroupNorm: expected [B, C, spatial...], got {x.Shape}");
        if (inputBias != null)
        {
            if (inputBias.Shape.Elements != x.Shape[1]) throw new ShapeException($"GroupNorm: input bias {inputBias.Shape} for {x.Shape[1]} channels");
            using var biased = New(x.Shape);
            AddChannelBias(xs.Data, biased.Data, x.Shape[0], x.Shape[1], (int)(x.Shape.Elements / ((long)x.Shape[0] * x.Shape[1])),
                Own(inputBias, "GroupNorm input bias").Data);
            return GroupNorm(biased, groups, eps, gamma, beta, scaleShift, act);
        }
        int n = x.Shape[0], c = x.Shape[1];
        int spatial = (int)(x.Shape.Elements / ((long)n * c));
        var (g, bt) = Affine(gamma, beta, c, groups, "GroupNorm");
        float[]? ss = null;
        if (scaleShift != null)
        {
            if (scaleShift.Shape != new Shape(n, 2 * c))
                throw new ShapeException($"GroupNorm: scale/shift {scaleShift.Shape}, expected [{n}, {2 * c}]");
            ss = Own(scaleShift, "GroupNorm scale/shift").Data;
        }
        return GroupNorm(new ChannelPlanes(xs.Data, c, [], 0, spatial), x.Shape, n, c, spatial, groups, eps, g, bt, ss, act);
    }

    /// <summary>
    /// The one GroupNorm of the backend, over channels given as planes (a single image, or a concatenation read in place):
    /// statistics per (sample, group) in double, then affine, FiLM and the activation per channel.
    /// </summary>
    private CpuTensor GroupNorm(ChannelPlanes x, Shape shape, int n, int c, int spatial, int groups, float eps, float[] g, float[] bt,
        float[]? ss, Activation act)
    {
        var y = New(shape);
        int cpg = c / groups;
        Parallel.For(0, n * groups, p =>
        {
            int b = p / groups, grp = p % groups;
            x.Runs(b, grp * cpg, (grp + 1) * cpg, out var first, out var second);
            var (mean, rstd) = Stats(first, second, eps);
            for (int ch = grp * cpg; ch < (grp + 1) * cpg; ch++)
            {
                float a = (float)(rstd * g[ch]);
                float o = (float)(bt[ch] - mean * rstd * g[ch]);
                float mul = 1f, add = 0f;
                if (ss != null) { mul = 1f + ss[b * 2 * c + ch]; add = ss[b * 2 * c + c + ch]; }
                var src = x.Plane(b, ch);
                var dst = y.Data.AsSpan((b * c + ch) * spatial, spatial);
                for (int i = 0; i < spatial; i++) dst[i] = (src[i] * a + o) * mul + add;
                Activate(dst, act);
            }
        });
        return y;
    }

    /// <summary><c>dst = src + bias[c]</c> per channel of an NCHW image of n samples, c channels and planes of
    /// <paramref name="plane"/> values, in fp32 (what a convolution's bias epilogue stores); src and dst may be one array.</summary>
    private static void AddChannelBias(float[] src, float[] dst, int n, int c, int plane, float[] bias)
    {
        Parallel.For(0, n * c, bc =>
            System.Numerics.Tensors.TensorPrimitives.Add(src.AsSpan(bc * plane, plane), bias[bc % c], dst.AsSpan(bc * plane, plane)));
    }

    /// <inheritdoc/>
    /// <remarks>The reference is the composition itself, so the fused GPU kernel is held to exactly what it replaces.</remarks>
    public Tensor GroupNormPool2x(Tensor x, int groups, float eps, Tensor gamma, Tensor beta, Activation act = Activation.None)
    {
        RequireRank(x, 4, "GroupNormPool2x");
        if (x.Shape[2] % 2 != 0 || x.Shape[3] % 2 != 0) throw new ShapeException($"GroupNormPool2x: odd spatial size {x.Shape}");
        using var full = GroupNorm(x, groups, eps, gamma, beta, null, act);
        return AvgPool2x2(full);
    }

    /// <inheritdoc/>
    public Tensor GroupNormTokens(Tensor x, int groups, float eps, Tensor gamma, Tensor beta)
    {
        var xs = Own(x, "GroupNormTokens");
        RequireRank(x, 3, "GroupNormTokens");
        int n = x.Shape[0], l = x.Shape[1], c = x.Shape[2];
        var (g, bt) = Affine(gamma, beta, c, groups, "GroupNormTokens");
        var y = New(x.Shape);
        int cpg = c / groups;
        Parallel.For(0, n * groups, p =>
        {
            int b = p / groups, grp = p % groups;
            double s = 0, sq = 0;
            for (int t = 0; t < l; t++)
            {
                var row = xs.Data.AsSpan((b * l + t) * c + grp * cpg, cpg);
                foreach (var v in row) { s += v; sq += (double)v * v; }
            }
            int count = l * cpg;
            double mean = s / count, var = Math.Max(0, sq / count - mean * mean);
            double rstd = 1.0 / Math.Sqrt(var + eps);
            for (int t = 0; t < l; t++)
                for (int ch = grp * cpg; ch < (grp + 1) * cpg; ch++)
                {
                    int i = (b * l + t) * c + ch;
                    y.Data[i] = (float)((xs.Data[i] - mean) * rstd * g[ch] + bt[ch]);
                }
        });
        return y;
    }

    /// <inheritdoc/>
    public Tensor LayerNorm(Tensor x, float eps, Tensor gamma, Tensor beta)
    {
        var xs = Own(x, "LayerNorm");
        int c = x.Shape[-1];
        var (g, bt) = Affine(gamma, beta, c, 1, "LayerNorm");
        var y = New(x.Shape);
        int rows = xs.Data.Length / c;
        Parallel.For(0, rows, r =>
        {
            var src = xs.Data.AsSpan(r * c, c);
            var dst = y.Data.AsSpan(r * c, c);
            var (mean, rstd) = Stats(src, eps);
            for (int i = 0; i < c; i++) dst[i] = (float)((src[i] - mean) * rstd * g[i] + bt[i]);
        });
        return y;
    }

    /// <inheritdoc/>
    public Tensor RmsNorm(Tensor x, float eps, Tensor gamma)
    {
        var xs = Own(x, "RmsNorm");
        int c = x.Shape[-1];
        if (gamma.Shape.Elements != c) throw new ShapeException($"RmsNorm: weight {gamma.Shape} for width {c}");
        var g = Own(gamma, "RmsNorm weight").Data;
        var y = New(x.Shape);
        Parallel.For(0, xs.Data.Length / c, r =>
        {
            var src = xs.Data.AsSpan(r * c, c);
            var dst = y.Data.AsSpan(r * c, c);
            double sq = 0;
            foreach (var f in src) sq += (double)f * f;
            double rstd = 1.0 / Math.Sqrt(sq / c + eps);
            for (int i = 0; i < c; i++) dst[i] = (float)(src[i] * rstd * g[i]);
        });
        return y;
    }

    /// <summary>Mean and 1/sqrt(biased variance + eps), accumulated in double (two passes for stability).</summary>
    private static (double Mean, double Rstd) Stats(ReadOnlySpan<float> v, float eps) => Stats(v, default, eps);

    /// <summary>
    /// <see cref="Stats(ReadOnlySpan{float}, float)"/> of <paramref name="v"/> followed by <paramref name="w"/>, summed in
    /// that order: a group split over two sources gets the very sums (bit for bit) of the same values stored contiguously.
    /// </summary>
    private static (double Mean, double Rstd) Stats(ReadOnlySpan<float> v, ReadOnlySpan<float> w, float eps)
    {
        double s = 0;
        foreach (var f in v) s += f;
        foreach (var f in w) s += f;
        int count = v.Length + w.Length;
        double mean = s / count, sq = 0;
        foreach (var f in v) { double d = f - mean; sq += d * d; }
        foreach (var f in w) { double d = f - mean; sq += d * d; }
        return (mean, 1.0 / Math.Sqrt(sq / count + eps));
    }

    private (float[] Gamma, float[] Beta) Affine(Tensor gamma, Tensor beta, int c, int groups, string op)
    {
        if (groups <= 0 || c % groups != 0) throw new ShapeException($"{op}: {c} channels do not split into {groups} groups");
        if (gamma.Shape.Elements != c || beta.Shape.Elements != c)
            throw new ShapeException($"{op}: affine {gamma.Shape}/{beta.Shape} for {c} channels");
        return (Own(gamma, op + " weight").Data, Own(beta, op + " bias").Data);
    }
}
