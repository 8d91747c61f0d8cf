namespace FastIF.Imaging;

/// <summary>
/// A PNG that cannot be read or written: malformed or corrupted data (bad signature, CRC, chunk order,
/// zlib stream, sizes), an image over the configured limits, or an I/O failure. The message names the
/// problem and, when reading or writing a path, the file.
/// </summary>
public sealed class PngException : FastIFException
{
    /// <summary>Creates the exception with a message naming the problem.</summary>
    public PngException(string message) : base(message) { }

    /// <summary>Creates the exception wrapping the lower-level cause (I/O or zlib error).</summary>
    public PngException(string message, Exception inner) : base(message, inner) { }
}
