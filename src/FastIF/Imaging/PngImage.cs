namespace FastIF.Imaging;

/// <summary>PNG color types (IHDR byte 9). The writer supports every type but <see cref="Indexed"/>.</summary>
public enum PngColorType
{
    /// <summary>Grayscale (1 channel).</summary>
    Gray = 0,
    /// <summary>Truecolor RGB (3 channels).</summary>
    Rgb = 2,
    /// <summary>Palette indices (PLTE, optional tRNS alpha).</summary>
    Indexed = 3,
    /// <summary>Grayscale plus alpha (2 channels).</summary>
    GrayAlpha = 4,
    /// <summary>Truecolor RGB plus alpha (4 channels).</summary>
    Rgba = 6,
}

/// <summary>
/// A decoded PNG, always expanded to RGBA in row-major order (4 samples per pixel, no padding).
/// Sources of bit depth 1–8 (and every palette image) decode to 8-bit samples in <see cref="Rgba8"/>;
/// 16-bit sources decode to 16-bit samples in <see cref="Rgba16"/>, so no precision is lost.
/// Gray is replicated into R, G and B; low bit depths are scaled to the full range (a 2-bit 3 becomes 255);
/// alpha is the maximum (255 or 65535) unless the image has an alpha channel or a tRNS chunk applies.
/// Use <see cref="ToRgba8"/> or <see cref="ToRgb8"/> for 8 bits whatever the source.
/// </summary>
public sealed class PngImage
{
    internal PngImage(int width, int height, byte[]? rgba8, ushort[]? rgba16,
        PngColorType colorType, int sourceBitDepth, bool interlaced)
    {
        Width = width;
        Height = height;
        Rgba8 = rgba8;
        Rgba16 = rgba16;
        SourceColorType = colorType;
        SourceBitDepth = sourceBitDepth;
        SourceInterlaced = interlaced;
    }

    /// <summary>Width in pixels (at least 1).</summary>
    public int Width { get; }

    /// <summary>Height in pixels (at least 1).</summary>
    public int Height { get; }

    /// <summary>Bits per sample of the pixel data held: 8 (<see cref="Rgba8"/>) or 16 (<see cref="Rgba16"/>).</summary>
    public int BitDepth => Rgba16 != null ? 16 : 8;

    /// <summary>RGBA samples (Width × Height × 4) when <see cref="BitDepth"/> is 8, otherwise null.</summary>
    public byte[]? Rgba8 { get; }

    /// <summary>RGBA samples (Width × Height × 4) when <see cref="BitDepth"/> is 16, otherwise null.</summary>
    public ushort[]? Rgba16 { get; }

    /// <summary>The color type stored in the file.</summary>
    public PngColorType SourceColorType { get; }

    /// <summary>The bit depth stored in the file (1, 2, 4, 8 or 16).</summary>
    public int SourceBitDepth { get; }

    /// <summary>True when the file used Adam7 interlacing.</summary>
    public bool SourceInterlaced { get; }

    /// <summary>Reduces a 16-bit sample to 8 bits with rounding: round(v × 255 / 65535).</summary>
    public static byte To8(ushort v) => (byte)((v * 255u + 32895u) >> 16);

    /// <summary>RGBA at 8 bits per sample: a copy of <see cref="Rgba8"/>, or <see cref="Rgba16"/> reduced by <see cref="To8"/>.</summary>
    public byte[] ToRgba8()
    {
        if (Rgba8 != null) return (byte[])Rgba8.Clone();
        var src = Rgba16!;
        var dst = new byte[src.Length];
        for (int i = 0; i < src.Length; i++) dst[i] = To8(src[i]);
        return dst;
    }

    /// <summary>RGB at 8 bits per sample (Width × Height × 3); alpha is dropped, not composited.</summary>
    public byte[] ToRgb8()
    {
        var dst = new byte[checked(Width * Height * 3)];
        if (Rgba8 != null)
        {
            var src = Rgba8;
            for (int i = 0, j = 0; j < dst.Length; i += 4, j += 3)
            {
                dst[j] = src[i]; dst[j + 1] = src[i + 1]; dst[j + 2] = src[i + 2];
            }
        }
        else
        {
            var src = Rgba16!;
            for (int i = 0, j = 0; j < dst.Length; i += 4, j += 3)
            {
                dst[j] = To8(src[i]); dst[j + 1] = To8(src[i + 1]); dst[j + 2] = To8(src[i + 2]);
            }
        }
        return dst;
    }
}

/// <summary>Limits applied while decoding; they are checked before any pixel memory is allocated.</summary>
public sealed record PngReadOptions
{
    /// <summary>The defaults: at most 2^28 pixels.</summary>
    public static PngReadOptions Default { get; } = new();

    /// <summary>Largest accepted Width × Height; larger images are rejected before allocation. Default 2^28.</summary>
    public long MaxPixels { get; init; } = 1L << 28;
}

/// <summary>Row filter choice for the writer.</summary>
public enum PngFilterMode
{
    /// <summary>Pick, per row, the filter whose output has the smallest sum of absolute (signed) byte values.</summary>
    Adaptive = -1,
    /// <summary>Filter type 0 on every row.</summary>
    None = 0,
    /// <summary>Filter type 1 (Sub) on every row.</summary>
    Sub = 1,
    /// <summary>Filter type 2 (Up) on every row.</summary>
    Up = 2,
    /// <summary>Filter type 3 (Average) on every row.</summary>
    Average = 3,
    /// <summary>Filter type 4 (Paeth) on every row.</summary>
    Paeth = 4,
}

/// <summary>Encoder settings.</summary>
public sealed record PngWriteOptions
{
    /// <summary>The defaults: adaptive filters, <see cref="System.IO.Compression.CompressionLevel.Optimal"/>, 64 KiB IDAT chunks.</summary>
    public static PngWriteOptions Default { get; } = new();

    /// <summary>zlib compression level.</summary>
    public System.IO.Compression.CompressionLevel Compression { get; init; } = System.IO.Compression.CompressionLevel.Optimal;

    /// <summary>Row filter strategy.</summary>
    public PngFilterMode Filter { get; init; } = PngFilterMode.Adaptive;

    /// <summary>Largest IDAT chunk payload in bytes (at least 1); the zlib stream is split across as many chunks as needed.</summary>
    public int MaxIdatSize { get; init; } = 1 << 16;
}
