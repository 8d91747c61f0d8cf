// PLACEHOLDER: the Imaging helper replaces this file with the real codec (same public API at least).
namespace FastIF.Imaging;

/// <summary>PNG encoding and decoding in managed code.</summary>
public static partial class Png
{
    /// <summary>Writes an 8-bit RGB image (row-major, 3 bytes per pixel) to <paramref name="path"/> atomically.</summary>
    public static void WriteRgb8(string path, int width, int height, ReadOnlySpan<byte> rgb) => throw new NotImplementedException();
}
