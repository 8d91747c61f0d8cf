namespace FastIF.Imaging;

/// <summary>
/// Conversions between IF's image tensors (float, CHW, 3 channels, values in [-1, 1]) and interleaved 8-bit RGB
/// (HWC, row-major) as PNG files hold them. The byte mapping follows diffusers' postprocessing:
/// round(clamp((x + 1) / 2, 0, 1) × 255), rounding half to even; NaN maps to 0.
/// </summary>
public static class ImageTensor
{
    /// <summary>Channels of the images these helpers convert (RGB).</summary>
    public const int Channels = 3;

    /// <summary>Converts a CHW float image in [-1, 1] to interleaved RGB8; out-of-range values are clamped.</summary>
    /// <param name="chw">3 × height × width floats, channel planes R, G, B.</param>
    /// <param name="width">Width in pixels.</param>
    /// <param name="height">Height in pixels.</param>
    /// <param name="rgb">Destination, height × width × 3 bytes.</param>
    public static void ChwToRgb8(ReadOnlySpan<float> chw, int width, int height, Span<byte> rgb)
    {
        int plane = CheckSizes(chw.Length, rgb.Length, width, height);
        var r = chw[..plane];
        var g = chw.Slice(plane, plane);
        var b = chw.Slice(2 * plane, plane);
        for (int i = 0, j = 0; i < plane; i++, j += 3)
        {
            rgb[j] = ToByte(r[i]);
            rgb[j + 1] = ToByte(g[i]);
            rgb[j + 2] = ToByte(b[i]);
        }
    }

    /// <summary>Converts a CHW float image in [-1, 1] to a new interleaved RGB8 array (height × width × 3).</summary>
    public static byte[] ChwToRgb8(ReadOnlySpan<float> chw, int width, int height)
    {
        var rgb = new byte[PlaneSize(width, height) * 3];
        ChwToRgb8(chw, width, height, rgb);
        return rgb;
    }

    /// <summary>Converts interleaved RGB8 to a CHW float image in [-1, 1]: x = v / 255 × 2 − 1.</summary>
    /// <param name="rgb">height × width × 3 bytes.</param>
    /// <param name="width">Width in pixels.</param>
    /// <param name="height">Height in pixels.</param>
    /// <param name="chw">Destination, 3 × height × width floats.</param>
    public static void Rgb8ToChw(ReadOnlySpan<byte> rgb, int width, int height, Span<float> chw)
    {
        int plane = CheckSizes(chw.Length, rgb.Length, width, height);
        var r = chw[..plane];
        var g = chw.Slice(plane, plane);
        var b = chw.Slice(2 * plane, plane);
        for (int i = 0, j = 0; i < plane; i++, j += 3)
        {
            r[i] = ToFloat(rgb[j]);
            g[i] = ToFloat(rgb[j + 1]);
            b[i] = ToFloat(rgb[j + 2]);
        }
    }

    /// <summary>Converts interleaved RGB8 to a new CHW float array in [-1, 1] (3 × height × width).</summary>
    public static float[] Rgb8ToChw(ReadOnlySpan<byte> rgb, int width, int height)
    {
        var chw = new float[PlaneSize(width, height) * 3];
        Rgb8ToChw(rgb, width, height, chw);
        return chw;
    }

    /// <summary>One sample in [-1, 1] to a byte: round(clamp((x + 1) / 2, 0, 1) × 255), NaN → 0.</summary>
    public static byte ToByte(float x)
    {
        float v = (x + 1f) * 0.5f;
        if (!(v > 0f)) return 0; // also NaN
        if (v >= 1f) return 255;
        return (byte)MathF.Round(v * 255f, MidpointRounding.ToEven);
    }

    /// <summary>One byte to a sample in [-1, 1]: v / 255 × 2 − 1 (0 → −1, 255 → 1).</summary>
    public static float ToFloat(byte v) => v / 255f * 2f - 1f;

    private static int PlaneSize(int width, int height)
    {
        if (width <= 0 || height <= 0)
            throw new ShapeException($"image size {width}x{height} is invalid; width and height must be at least 1");
        long plane = (long)width * height;
        if (plane * 3 > Array.MaxLength)
            throw new ShapeException($"image {width}x{height}x3 is too large for one array");
        return (int)plane;
    }

    private static int CheckSizes(int floats, int bytes, int width, int height)
    {
        int plane = PlaneSize(width, height);
        if (floats != plane * 3)
            throw new ShapeException($"CHW float image has {floats} values, expected {plane * 3} (3x{height}x{width})");
        if (bytes != plane * 3)
            throw new ShapeException($"RGB8 image has {bytes} bytes, expected {plane * 3} ({height}x{width}x3)");
        return plane;
    }
}
