namespace FastIF.Imaging;

/// <summary>
/// PNG encoding and decoding in managed code over the BCL's <see cref="System.IO.Compression.ZLibStream"/>.
/// The reader accepts every standard PNG (color types 0/2/3/4/6, bit depths 1–16, PLTE/tRNS, Adam7) and
/// returns RGBA (<see cref="PngImage"/>); the writer produces 8-bit Gray, GrayAlpha, Rgb and Rgba.
/// Every failure is a <see cref="PngException"/>.
/// </summary>
public static partial class Png
{
    /// <summary>Writes an 8-bit RGB image (row-major, 3 bytes per pixel) to <paramref name="path"/> atomically.</summary>
    public static void WriteRgb8(string path, int width, int height, ReadOnlySpan<byte> rgb) =>
        Write(path, width, height, PngColorType.Rgb, rgb);

    /// <summary>Writes an 8-bit RGB image (row-major, 3 bytes per pixel) to <paramref name="stream"/>.</summary>
    public static void WriteRgb8(Stream stream, int width, int height, ReadOnlySpan<byte> rgb) =>
        Write(stream, width, height, PngColorType.Rgb, rgb);

    /// <summary>
    /// Writes an 8-bit image to <paramref name="path"/> atomically: the PNG goes to a temporary
    /// <c>.NAME.tmp-*</c> file beside the target, which then replaces the target; on failure it is deleted.
    /// </summary>
    /// <param name="path">Target file; its directory must exist.</param>
    /// <param name="width">Width in pixels (at least 1).</param>
    /// <param name="height">Height in pixels (at least 1).</param>
    /// <param name="colorType">Gray, GrayAlpha, Rgb or Rgba.</param>
    /// <param name="pixels">Row-major samples, width × height × channels bytes, no row padding.</param>
    /// <param name="options">Encoder settings; null for <see cref="PngWriteOptions.Default"/>.</param>
    public static void Write(string path, int width, int height, PngColorType colorType, ReadOnlySpan<byte> pixels,
        PngWriteOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        options ??= PngWriteOptions.Default;
        string target = $"PNG '{path}'";
        PngEncoder.Validate(width, height, colorType, pixels.Length, options, target);
        string full, tmp;
        try
        {
            full = Path.GetFullPath(path);
            string dir = Path.GetDirectoryName(full) ?? throw new PngException($"{target}: path has no directory");
            tmp = Path.Combine(dir, $".{Path.GetFileName(full)}.tmp-{Guid.NewGuid():N}");
        }
        catch (Exception e) when (e is ArgumentException or NotSupportedException or PathTooLongException)
        {
            throw new PngException($"{target}: invalid path: {e.Message}", e);
        }
        try
        {
            using (var fs = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                PngEncoder.Encode(fs, width, height, colorType, pixels, options, target);
                fs.Flush(flushToDisk: true);
            }
            File.Move(tmp, full, overwrite: true);
        }
        catch (Exception e)
        {
            try { File.Delete(tmp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            if (e is IOException or UnauthorizedAccessException)
                throw new PngException($"{target}: cannot write: {e.Message}", e);
            throw;
        }
    }

    /// <summary>Writes an 8-bit image as PNG to <paramref name="stream"/> (not closed). See <see cref="Write(string, int, int, PngColorType, ReadOnlySpan{byte}, PngWriteOptions?)"/>.</summary>
    public static void Write(Stream stream, int width, int height, PngColorType colorType, ReadOnlySpan<byte> pixels,
        PngWriteOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        try
        {
            PngEncoder.Encode(stream, width, height, colorType, pixels, options ?? PngWriteOptions.Default, "PNG stream");
        }
        catch (IOException e)
        {
            throw new PngException($"PNG stream: cannot write: {e.Message}", e);
        }
    }

    /// <summary>Encodes an 8-bit image as a PNG file image in memory.</summary>
    public static byte[] Encode(int width, int height, PngColorType colorType, ReadOnlySpan<byte> pixels,
        PngWriteOptions? options = null)
    {
        var ms = new MemoryStream();
        PngEncoder.Encode(ms, width, height, colorType, pixels, options ?? PngWriteOptions.Default, "PNG data");
        return ms.ToArray();
    }

    /// <summary>Reads and decodes the PNG file at <paramref name="path"/>; data after IEND is an error.</summary>
    public static PngImage Read(string path, PngReadOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        string source = $"PNG '{path}'";
        FileStream fs;
        try
        {
            fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new PngException($"{source}: cannot open: {e.Message}", e);
        }
        using (fs) return PngDecoder.Decode(fs, source, options, requireEnd: true);
    }

    /// <summary>
    /// Reads one PNG from <paramref name="stream"/> (not closed), stopping right after the IEND chunk so that
    /// anything following stays unread.
    /// </summary>
    public static PngImage Read(Stream stream, PngReadOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        return PngDecoder.Decode(stream, "PNG stream", options, requireEnd: false);
    }

    /// <summary>Decodes a PNG held in memory; <paramref name="data"/> must be exactly one PNG (nothing after IEND).</summary>
    public static PngImage Decode(byte[] data, PngReadOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(data);
        return PngDecoder.Decode(new MemoryStream(data, writable: false), "PNG data", options, requireEnd: true);
    }
}
