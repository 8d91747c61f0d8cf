using FastIF.Tensors;

namespace FastIF.Backends.Cuda;

// Norms, elementwise ops, resampling and the layout-only ops (views where the channels-last layout makes them free).
public sealed partial class CudaBackend
{
    /// <inheritdoc/>
    public Tensor GroupNorm(Tensor x, int groups, float eps, Tensor gamma, Tensor beta, Tensor? scaleShift = null,
        Activation act = Activation.None, Tensor? inputBias = null)
    {
        var xs = Act(x, "GroupNorm");
        RequireRank(x, 4, "GroupNorm");
        int n = x.Shape[0], c = x.Shape[1];
        ulong ss = 0;
        if (scaleShift != null)
        {
            if (scaleShift.Shape != new Shape(n, 2 * c))
                throw new ShapeException($"GroupNorm: scale/shift {scaleShift.Shape}, expected [{n}, {2 * c}]");
            ss = Act(scaleShift, "GroupNorm scale/shift").Pointer;
        }
        ulong ib = 0;
        if (inputBias != null)
        {
            if (inputBias.Shape.Elements != c) throw new ShapeException($"GroupNorm: input bias {inputBias.Shape} for {c} channels");
            ib = Act(inputBias, "GroupNorm input bias").Pointer;
        }
        return GroupNormCore(xs, n, x.Shape[2] * x.Shape[3], c, groups, eps, gamma, beta, ss, act, "GroupNorm", ib);
    }

    /// <inheritdoc/>
    public Tensor GroupNormPool2x(Tensor x, int groups, float eps, Tensor gamma, Tensor beta, Activation act = Activation.None)
    {
        const string Op = "GroupNormPool2x";
        var xs = Act(x, Op);
        RequireRank(x, 4, Op);
        int n = x.Shape[0], c = x.Shape[1], h = x.Shape[2], w = x.Shape[3];
        if (h % 2 != 0 || w % 2 != 0) throw new ShapeException($"{Op}: odd spatial size {x.Shape}");
        var (g, b) = GroupNormAffine(c, groups, gamma, beta, act, Op);
        var y = New(new Shape(n, c, h / 2, w / 2));
        // The statistics cover the full-resolution image; the runs are of pooled positions, the same count in both launches.
        var (chunks, blocks, partial) = GroupNormPartials(n, groups, h / 2 * (w / 2));
        try
        {
            new KernelArgs().Ptr(xs.Pointer).Ptr(0).Ptr(partial.Pointer).I32(h * w).I32(c).I32(groups).I32(chunks)
                .Launch(Fn("groupnorm_partial", GroupNormKernels), blocks, GroupNormThreads, Stream);
            new KernelArgs().Ptr(xs.Pointer).Ptr(partial.Pointer).Ptr(g.Pointer).Ptr(b.Pointer).Ptr(y.Pointer).I32(h).I32(w).I32(c).I32(groups)
                .I32(chunks).F32(eps).I32(act == Activation.Gelu ? 1 : 0)
                .Launch(Fn("groupnorm_pool2_apply", GroupNormKernels), blocks, GroupNormThreads, Stream);
        }
        finally { partial.Release(); }
        return y;
    }

    /// <inheritdoc/>
    public Tensor GroupNormTokens(Tensor x, int groups, float eps, Tensor gamma, Tensor beta)
    {
        // [B, L, C] tokens are the same memory as a channels-last image with L positions.
        var xs = Act(x, "GroupNormTokens");
        RequireRank(x, 3, "GroupNormTokens");
        return GroupNormCore(xs, x.Shape[0], x.Shape[1], x.Shape[2], groups, eps, gamma, beta, 0, Activation.None, "GroupNormTokens");
    }

    private const uint GroupNormThreads = GroupNormPlan.Threads;
    private const string GroupNormKernels = "groupnorm.cu";

    /// <summary>The checks every GroupNorm form shares (groups, the activations the kernels implement, affine sizes) and its
    /// affine parameters on the device.</summary>
    private (CudaTensor Gamma, CudaTensor Beta) GroupNormAffine(int c, int groups, Tensor gamma, Tensor beta, Activation act, string what)
    {
        if (groups <= 0 || c % groups != 0) throw new ShapeException($"{what}: {c} channels do not split into {groups} groups");
        if (act is not (Activation.None or Activation.Gelu)) throw new ShapeException($"{what}: activation {act} is not supported by the cuda backend");
        if (gamma.Shape.Elements != c || beta.Shape.Elements != c)
            throw new ShapeException($"{what}: affine {gamma.Shape}/{beta.Shape} for {c} channels");
        return (Act(gamma, what + " weight"), Act(beta, what + " bias"));
    }

    /// <summary>The runs per group (<see cref="GroupNormPlan"/>), the blocks of both launches, and the partial statistics
    /// they pass between them (three floats per block, rented stream-ordered: release it once both are queued).</summary>
    private (int Chunks, uint Blocks, DeviceBuffer Partial) GroupNormPartials(int batch, int groups, int positions)
    {
        int chunks = GroupNormPlan.Chunks(Context.MultiprocessorCount, batch, groups, positions);
        uint blocks = (uint)(batch * groups * chunks);
        return (chunks, blocks, _pool.Rent(blocks * 3L * sizeof(float), "groupnorm partials"));
    }

    private CudaTensor GroupNormCore(CudaTensor x, int n, int spatial, int c, int groups, float eps, Tensor gamma, Tensor beta,
        ulong scaleShift, Activation act, string what, ulong inputBias = 0)
    {
        var (g, b) = GroupNormAffine(c, groups, gamma, beta, act, what);
        var y = New(x.Shape);
        var (chunks, blocks, partial) = GroupNormPartials(n, groups, spatial);
        try
        {
            new KernelArgs().Ptr(x.Pointer).Ptr(inputBias).Ptr(partial.Pointer).I32(spatial).I32(c).I32(groups).I32(chunks)
                .Launch(Fn("groupnorm_partial", GroupNormKernels), blocks, GroupNormThreads, Stream);
            new KernelArgs().Ptr(x.Pointer).Ptr(inputBias).Ptr(partial.Pointer).Ptr(g.Pointer).Ptr(b.Pointer).Ptr(scaleShift).Ptr(y.Pointer)
                .I32(spatial).I32(c).I32(groups).I32(chunks).F32(eps).I32(act == Activation.Gelu ? 1 : 0)
                .Launch(Fn("groupnorm_apply", GroupNormKernels), blocks, GroupNormThreads, Stream);
        }
        finally { partial.Release(); }
        return y;
    }

    /// <inheritdoc/>
    public Tensor LayerNorm(Tensor x, float eps, Tensor gamma, Tensor beta)
    {
        var xs = Act(x, "LayerNorm");
        int width = x.Shape[-1];
        if (gamma.Shape.Elements != width || beta.Shape.Elements != width)
            throw new ShapeException($"LayerNorm: affine {gamma.Shape}/{beta.Shape} for width {width}");
        if (x.Shape.Rank == 4) throw new ShapeException("LayerNorm: images are not supported (tokens or vectors only)");
        var y = New(x.Shape);
        long rows = x.Shape.Elements / width;
        if (rows == 0) return y;
        new KernelArgs().Ptr(xs.Pointer).Ptr(Act(gamma, "LayerNorm weight").Pointer).Ptr(Act(beta, "LayerNorm bias").Pointer)
            .Ptr(y.Pointer).I32(width).F32(eps)
            .Launch(Fn("layernorm"), (uint)rows, 256, Stream);
        return y;
    }

    /// <inheritdoc/>
    public Tensor Reshape(Tensor x, Shape shape)
    {
        var xs = Own(x, "Reshape");
        if (shape.Elements != x.Shape.Elements) throw new ShapeException($"Reshape: {x.Shape} to {shape} changes the element count");
        if (x.Shape.Rank == 4 || shape.Rank == 4)
            throw new ShapeException($"Reshape: {x.Shape} to {shape}: images are stored channels-last; only token and vector tensors reshape");
        return View(xs, shape);
    }

    /// <inheritdoc/>
    public Tensor Activate(Tensor x, Activation act)
    {
        var xs = Act(x, "Activate");
        var y = New(x.Shape);
        if (act == Activation.None)
        {
            Copy(xs, y);
            return y;
        }
        Gelu(xs.Pointer, y.Pointer, x.Shape.Elements, act);
        return y;
    }

    /// <summary>GELU (erf or tanh form) from <paramref name="x"/> into <paramref name="y"/>; in place when they are equal.</summary>
    private void Gelu(ulong x, ulong y, long n, Activation act)
    {
        int approx = act switch
        {
            Activation.Gelu => 0,
            Activation.GeluTanh => 1,
            _ => throw new ShapeException($"activation {act} is not supported by the cuda backend"),
        };
        if (n > 0) new KernelArgs().Ptr(x).Ptr(y).I64(n).I32(approx).Launch(Fn("gelu"), Blocks(n), 256, Stream);
    }

    /// <inheritdoc/>
    public Tensor RmsNorm(Tensor x, float eps, Tensor gamma)
    {
        var xs = Act(x, "RmsNorm");
        int width = x.Shape[-1];
        if (gamma.Shape.Elements != width) throw new ShapeException($"RmsNorm: weight {gamma.Shape} for width {width}");
        if (x.Shape.Rank == 4) throw new ShapeException("RmsNorm: images are not supported (tokens or vectors only)");
        var y = New(x.Shape);
        long rows = x.Shape.Elements / Math.Max(width, 1);
        if (rows > 0)
            new KernelArgs().Ptr(xs.Pointer).Ptr(Act(gamma, "RmsNorm weight").Pointer).Ptr(y.Pointer).I32(width).F32(eps)
                .Launch(Fn("rmsnorm"), (uint)rows, 256, Stream);
        return y;
    }

    /// <inheritdoc/>
    public Tensor Multiply(Tensor a, Tensor b, Activation actA = Activation.None)
    {
        var av = Act(a, "Multiply lhs");
        var bv = Act(b, "Multiply rhs");
        if (a.Shape != b.Shape) throw new ShapeException($"Multiply: {a.Shape} and {b.Shape} differ");
        var y = New(a.Shape);
        long n = a.Shape.Elements;
        if (n > 0) new KernelArgs().Ptr(av.Pointer).Ptr(bv.Pointer).Ptr(y.Pointer).I64(n).I32((int)actA).Launch(Fn("mul"), Blocks(n), 256, Stream);
        return y;
    }

    private void Copy(CudaTensor src, CudaTensor dst)
    {
        Context.MakeCurrent();
        Native.CudaDriver.Check(Native.CudaDriver.cuMemcpyDtoDAsync_v2(dst.Pointer, src.Pointer, (nuint)src.Bytes, Stream.Value), "cuMemcpyDtoDAsync_v2");
    }

    /// <summary>Sets every byte of <paramref name="t"/> to zero (0.0 in every storage type), queued on the stream.</summary>
    public void Zero(Tensor t)
    {
        var c = Own(t, "Zero");
        if (c.Bytes == 0) return;
        Context.MakeCurrent();
        Native.CudaDriver.Check(Native.CudaDriver.cuMemsetD8Async(c.Pointer, 0, (nuint)c.Bytes, Stream.Value), "cuMemsetD8Async");
    }

    /// <summary>Copies <paramref name="src"/>'s values into <paramref name="dst"/> (same shape and storage), queued on the stream.</summary>
    public void CopyInto(Tensor src, Tensor dst)
    {
        var s = Own(src, "CopyInto source");
        var d = Own(dst, "CopyInto destination");
        if (s.Shape != d.Shape || s.Storage != d.Storage) throw new ShapeException($"CopyInto: {src} into {dst}");
        if (s.Bytes > 0) Copy(s, d);
    }

    /// <inheritdoc/>
    public Tensor Add(Tensor a, Tensor b)
    {
        var av = Act(a, "Add lhs");
        var bv = Act(b, "Add rhs");
        long na = a.Shape.Elements, nb = b.Shape.Elements;
        bool same = a.Shape == b.Shape;
        if (!same)
        {
            var bd = b.Shape.ToArray().SkipWhile(d => d == 1).ToArray();
            bool ok = bd.Length <= a.Shape.Rank && a.Shape.Rank != 4;
            for (int i = 0; ok && i < bd.Length; i++) ok = bd[^(i + 1)] == a.Shape[a.Shape.Rank - 1 - i];
            if (!ok || nb == 0 || na % nb != 0)
                throw new ShapeException($"Add: {b.Shape} does not broadcast to {a.Shape} on cuda (same shape, or a token/vector tensor's trailing shape)");
        }
        var y = New(a.Shape);
        if (na == 0) return y;
        new KernelArgs().Ptr(av.Pointer).Ptr(bv.Pointer).Ptr(y.Pointer).I64(na).I64(nb)
            .Launch(Fn("add_bcast"), Blocks(na), 256, Stream);
        return y;
    }

    /// <inheritdoc/>
    public Tensor AvgPool2x2(Tensor x)
    {
        var xs = Act(x, "AvgPool2x2");
        RequireRank(x, 4, "AvgPool2x2");
        int n = x.Shape[0], c = x.Shape[1], h = x.Shape[2], w = x.Shape[3];
        if (h % 2 != 0 || w % 2 != 0) throw new ShapeException($"AvgPool2x2: odd spatial size {x.Shape}");
        var y = New(new Shape(n, c, h / 2, w / 2));
        new KernelArgs().Ptr(xs.Pointer).Ptr(y.Pointer).I32(n).I32(h).I32(w).I32(c)
            .Launch(Fn("avgpool2"), PixelBlocks(y), ThreadsPerPixel(y.Shape[1]), Stream);
        return y;
    }

    /// <inheritdoc/>
    public Tensor UpsampleNearest2x(Tensor x)
    {
        var xs = Act(x, "UpsampleNearest2x");
        RequireRank(x, 4, "UpsampleNearest2x");
        int n = x.Shape[0], c = x.Shape[1], h = x.Shape[2], w = x.Shape[3];
        var y = New(new Shape(n, c, 2 * h, 2 * w));
        new KernelArgs().Ptr(xs.Pointer).Ptr(y.Pointer).I32(n).I32(h).I32(w).I32(c)
            .Launch(Fn("upsample2"), PixelBlocks(y), ThreadsPerPixel(y.Shape[1]), Stream);
        return y;
    }

    /// <inheritdoc/>
    public Tensor ShufflePhases2x(Tensor phases)
    {
        var ps = Act(phases, "ShufflePhases2x");
        var (n, c, h, w) = PhaseShape.Of(phases);
        var y = New(new Shape(n, c, 2 * h, 2 * w));
        new KernelArgs().Ptr(ps.Pointer).Ptr(y.Pointer).I32(n).I32(h).I32(w).I32(c)
            .Launch(Fn("shuffle_phases2"), PixelBlocks(y), ThreadsPerPixel(y.Shape[1]), Stream);
        return y;
    }

    /// <inheritdoc/>
    public Tensor ConcatChannels(Tensor a, Tensor b)
    {
        var av = Act(a, "ConcatChannels lhs");
        var bv = Act(b, "ConcatChannels rhs");
        RequireRank(a, 4, "ConcatChannels");
        RequireRank(b, 4, "ConcatChannels");
        if (a.Shape[0] != b.Shape[0] || a.Shape[2] != b.Shape[2] || a.Shape[3] != b.Shape[3])
            throw new ShapeException($"ConcatChannels: {a.Shape} and {b.Shape} differ outside the channel axis");
        int ca = a.Shape[1], cb = b.Shape[1];
        var y = New(new Shape(a.Shape[0], ca + cb, a.Shape[2], a.Shape[3]));
        long rows = (long)a.Shape[0] * a.Shape[2] * a.Shape[3];
        new KernelArgs().Ptr(av.Pointer).Ptr(bv.Pointer).Ptr(y.Pointer).I64(rows).I32(ca).I32(cb)
            .Launch(Fn("concat_last"), Blocks(y.Shape.Elements), 256, Stream);
        return y;
    }

    /// <inheritdoc/>
    public Tensor ConcatTokens(Tensor a, Tensor b)
    {
        var av = Act(a, "ConcatTokens lhs");
        var bv = Act(b, "ConcatTokens rhs");
        RequireRank(a, 3, "ConcatTokens");
        RequireRank(b, 3, "ConcatTokens");
        if (a.Shape[0] != b.Shape[0] || a.Shape[2] != b.Shape[2])
            throw new ShapeException($"ConcatTokens: {a.Shape} and {b.Shape} differ outside the token axis");
        int n = a.Shape[0], la = a.Shape[1], lb = b.Shape[1], c = a.Shape[2];
        var y = New(new Shape(n, la + lb, c));
        new KernelArgs().Ptr(av.Pointer).Ptr(bv.Pointer).Ptr(y.Pointer).I32(n).I32(la).I32(lb).I32(c)
            .Launch(Fn("concat_rows"), Blocks(y.Shape.Elements), 256, Stream);
        return y;
    }

    /// <inheritdoc/>
    public Tensor MeanTokens(Tensor x)
    {
        var xs = Act(x, "MeanTokens");
        RequireRank(x, 3, "MeanTokens");
        int n = x.Shape[0], l = x.Shape[1], c = x.Shape[2];
        if (l == 0) throw new ShapeException("MeanTokens: no tokens");
        var y = New(new Shape(n, 1, c));
        new KernelArgs().Ptr(xs.Pointer).Ptr(y.Pointer).I32(n).I32(l).I32(c)
            .Launch(Fn("mean_tokens"), Blocks((long)n * c), 256, Stream);
        return y;
    }

    /// <inheritdoc/>
    public Tensor ToTokens(Tensor x)
    {
        var xs = Act(x, "ToTokens");
        RequireRank(x, 4, "ToTokens");
        // NHWC already is [B, H·W, C]: a view.
        return View(xs, new Shape(x.Shape[0], x.Shape[2] * x.Shape[3], x.Shape[1]));
    }

    /// <inheritdoc/>
    public Tensor FromTokens(Tensor x, int height, int width, Tensor? residual = null)
    {
        var xs = Act(x, "FromTokens");
        RequireRank(x, 3, "FromTokens");
        if ((long)height * width != x.Shape[1])
            throw new ShapeException($"FromTokens: {x.Shape[1]} tokens are not {height}x{width}");
        var shape = new Shape(x.Shape[0], x.Shape[2], height, width);
        if (residual == null) return View(xs, shape);
        if (residual.Shape != shape) throw new ShapeException($"FromTokens: residual {residual.Shape} vs output {shape}");
        var r = Act(residual, "FromTokens residual");
        var y = New(shape);
        new KernelArgs().Ptr(xs.Pointer).Ptr(r.Pointer).Ptr(y.Pointer).I64(shape.Elements).I64(shape.Elements)
            .Launch(Fn("add_bcast"), Blocks(shape.Elements), 256, Stream);
        return y;
    }

    /// <inheritdoc/>
    public Tensor Sinusoid(Tensor timesteps, int dim, bool flipSinToCos, float freqShift)
    {
        var ts = Own(timesteps, "Sinusoid");
        RequireRank(timesteps, 1, "Sinusoid");
        if (ts.Storage != DType.F32) throw new ShapeException($"Sinusoid: timesteps must be fp32 (from FromHost), got {timesteps}");
        if (dim % 2 != 0) throw new ShapeException($"Sinusoid: odd width {dim} is not used by IF and not supported");
        int n = timesteps.Shape[0];
        var y = New(new Shape(n, dim));
        if (n == 0) return y;
        new KernelArgs().Ptr(ts.Pointer).Ptr(y.Pointer).I32(n).I32(dim).I32(flipSinToCos ? 1 : 0).F32(freqShift)
            .Launch(Fn("sinusoid"), Blocks((long)n * dim / 2), 256, Stream);
        return y;
    }
}
