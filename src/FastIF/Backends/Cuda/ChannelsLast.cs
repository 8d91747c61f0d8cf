using FastIF.Tensors;

namespace FastIF.Backends.Cuda;

/// <summary>
/// The gather that <c>fastif_convert4d</c> performs: output contiguous over <see cref="Dims"/>, element (i0..i3) read from
/// <c>src[i0·s0 + i1·s1 + i2·s2 + i3·s3]</c>. Rank-4 tensors move axis 1 last on the way to the device (NCHW → NHWC,
/// OIHW → OHWI) and back on the way out; every other rank is a plain copy. <see cref="Apply"/> is the CPU twin the
/// tests hold the index arithmetic to.
/// </summary>
internal readonly record struct ChannelsLast(long D0, long D1, long D2, long D3, long S0, long S1, long S2, long S3)
{
    /// <summary>The gather for a tensor of logical <paramref name="shape"/>, to the device layout or back from it.</summary>
    public static ChannelsLast For(Shape shape, bool toDevice)
    {
        if (shape.Rank != 4) return new ChannelsLast(1, 1, 1, shape.Elements, 0, 0, 0, 1);
        long n = shape[0], c = shape[1], h = shape[2], w = shape[3];
        return toDevice
            ? new ChannelsLast(n, h, w, c, c * h * w, w, 1, h * w)   // out [n, h, w, c] from NCHW
            : new ChannelsLast(n, c, h, w, c * h * w, 1, w * c, c);  // out [n, c, h, w] from NHWC
    }

    /// <summary>The extents of the output, outermost first.</summary>
    public long[] Dims => [D0, D1, D2, D3];

    /// <summary>Performs the gather on the host, exactly as the kernel indexes.</summary>
    public void Apply<T>(ReadOnlySpan<T> src, Span<T> dst)
    {
        long n = D0 * D1 * D2 * D3;
        if (dst.Length != n) throw new ArgumentException($"destination holds {dst.Length}, the gather writes {n}");
        for (long i = 0; i < n; i++)
        {
            long r = i;
            long i3 = r % D3; r /= D3;
            long i2 = r % D2; r /= D2;
            long i1 = r % D1; r /= D1;
            dst[(int)i] = src[(int)(r * S0 + i1 * S1 + i2 * S2 + i3 * S3)];
        }
    }
}
