using System.Buffers.Binary;
using System.IO.Compression;

namespace FastIF.Imaging;

/// <summary>
/// Streaming PNG decoder: chunks are read and CRC-checked as they arrive, IDAT payloads feed a
/// <see cref="ZLibStream"/> through <see cref="IdatStream"/>, and rows are unfiltered and expanded to RGBA
/// one at a time, so memory is the output image plus two rows, whatever the compressed data claims.
/// </summary>
internal sealed partial class PngDecoder
{
    private static ReadOnlySpan<byte> Signature => [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];

    private const uint IHDR = 0x49484452, PLTE = 0x504C5445, IDAT = 0x49444154, IEND = 0x49454E44, tRNS = 0x74524E53;

    private readonly Stream _s;
    private readonly string _src;
    private readonly PngReadOptions _opt;
    private long _offset; // bytes consumed from _s, for messages
    private readonly byte[] _small = new byte[8];

    // IHDR
    private int _width, _height, _depth;
    private PngColorType _color;
    private bool _interlaced;
    private int _channels;

    // PLTE / tRNS
    private byte[]? _paletteRgba; // 4 bytes per entry, alpha from tRNS
    private int _paletteCount;
    private bool _hasTrns;
    private ushort _trnsR, _trnsG, _trnsB; // gray uses _trnsG

    // current chunk
    private uint _chunkType;
    private uint _chunkLength;
    private long _chunkStart;

    private PngDecoder(Stream s, string source, PngReadOptions opt)
    {
        _s = s;
        _src = source;
        _opt = opt;
    }

    /// <summary>Decodes one PNG from <paramref name="s"/>; with <paramref name="requireEnd"/>, bytes after IEND are an error.</summary>
    public static PngImage Decode(Stream s, string source, PngReadOptions? opt, bool requireEnd)
    {
        var d = new PngDecoder(s, source, opt ?? PngReadOptions.Default);
        try
        {
            return d.Run(requireEnd);
        }
        catch (PngException) { throw; }
        catch (InvalidDataException e) { throw d.Fail($"corrupt zlib data in IDAT (invalid deflate stream or Adler-32 mismatch): {e.Message}", e); }
        catch (IOException e) { throw d.Fail($"read error: {e.Message}", e); }
        catch (OutOfMemoryException e) { throw d.Fail($"out of memory for a {d._width}x{d._height} image", e); }
    }

    private PngException Fail(string message, Exception? inner = null) =>
        inner == null ? new PngException($"{_src}: {message}") : new PngException($"{_src}: {message}", inner);

    private PngImage Run(bool requireEnd)
    {
        ReadSignature();
        if (!NextChunk()) throw Fail("file ends right after the signature; expected an IHDR chunk");
        if (_chunkType != IHDR) throw Fail($"first chunk must be IHDR, found {TypeName(_chunkType)}");
        ReadHeader();

        bool sawPlte = false;
        while (true)
        {
            if (!NextChunk()) throw Fail("file ends before any IDAT chunk (no image data)");
            switch (_chunkType)
            {
                case IHDR: throw Fail("duplicate IHDR chunk");
                case IEND: throw Fail("IEND reached before any IDAT chunk (no image data)");
                case PLTE:
                    if (sawPlte) throw Fail("duplicate PLTE chunk");
                    if (_hasTrns && _color == PngColorType.Indexed) throw Fail("PLTE after tRNS; tRNS must follow PLTE");
                    ReadPalette();
                    sawPlte = true;
                    continue;
                case tRNS:
                    ReadTransparency(sawPlte);
                    continue;
                case IDAT:
                    break;
                default:
                    SkipChunk();
                    continue;
            }
            break;
        }
        if (_color == PngColorType.Indexed && !sawPlte) throw Fail("palette image (color type 3) has no PLTE chunk before IDAT");

        var image = DecodeImageData(); // leaves the first chunk after the IDAT run as the current chunk

        while (true)
        {
            switch (_chunkType)
            {
                case IEND:
                    if (_chunkLength != 0) throw Fail($"IEND chunk must be empty, has length {_chunkLength}");
                    CheckCrc(PngCrc32.Update(PngCrc32.Begin, TypeBytes(IEND)));
                    if (requireEnd && _s.ReadByte() >= 0) throw Fail($"unexpected data after the IEND chunk at offset {_offset}");
                    return image;
                case IDAT: throw Fail($"IDAT chunks are not consecutive (another IDAT at offset {_chunkStart})");
                case IHDR: throw Fail("duplicate IHDR chunk");
                case PLTE: throw Fail("PLTE chunk after IDAT");
                default:
                    SkipChunk();
                    break;
            }
            if (!NextChunk()) throw Fail("file ends without an IEND chunk (truncated?)");
        }
    }

    private void ReadSignature()
    {
        Span<byte> sig = stackalloc byte[8];
        int n = ReadUpTo(sig);
        if (n < 8 || !sig.SequenceEqual(Signature))
        {
            throw Fail($"not a PNG: signature expected 89 50 4E 47 0D 0A 1A 0A, found {Convert.ToHexString(sig[..n])}"
                + (n < 8 ? $" ({n} bytes)" : ""));
        }
    }

    /// <summary>Reads the next chunk header; false at a clean end of input.</summary>
    private bool NextChunk()
    {
        var h = _small.AsSpan(0, 8);
        _chunkStart = _offset;
        int n = ReadUpTo(h);
        if (n == 0) return false;
        if (n < 8) throw Fail($"truncated chunk header at offset {_chunkStart} ({n} of 8 bytes)");
        _chunkLength = BinaryPrimitives.ReadUInt32BigEndian(h);
        _chunkType = BinaryPrimitives.ReadUInt32BigEndian(h[4..]);
        for (int i = 4; i < 8; i++)
        {
            byte c = h[i];
            if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')))
                throw Fail($"invalid chunk type bytes {Convert.ToHexString(h[4..])} at offset {_chunkStart} (corrupt or not a chunk boundary)");
        }
        if (_chunkLength > int.MaxValue)
            throw Fail($"chunk {TypeName(_chunkType)} at offset {_chunkStart} has length {_chunkLength}, over the PNG limit 2^31-1");
        bool critical = (_chunkType & 0x20000000) == 0;
        if (critical && _chunkType is not (IHDR or PLTE or IDAT or IEND))
            throw Fail($"unknown critical chunk {TypeName(_chunkType)} at offset {_chunkStart}");
        return true;
    }

    private static byte[] TypeBytes(uint type)
    {
        var b = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(b, type);
        return b;
    }

    private static string TypeName(uint type) => System.Text.Encoding.ASCII.GetString(TypeBytes(type));

    /// <summary>Reads the payload of a small chunk whose length the caller has validated, and checks its CRC.</summary>
    private byte[] ReadChunkData()
    {
        var data = new byte[_chunkLength];
        ReadExact(data, $"{TypeName(_chunkType)} chunk data");
        CheckCrc(PngCrc32.Update(PngCrc32.Update(PngCrc32.Begin, TypeBytes(_chunkType)), data));
        return data;
    }

    /// <summary>Skips an ancillary chunk, still checking its CRC, through a small buffer whatever its stated length.</summary>
    private void SkipChunk()
    {
        uint crc = PngCrc32.Update(PngCrc32.Begin, TypeBytes(_chunkType));
        Span<byte> buf = stackalloc byte[4096];
        long left = _chunkLength;
        while (left > 0)
        {
            var part = buf[..(int)Math.Min(left, buf.Length)];
            ReadExact(part, $"{TypeName(_chunkType)} chunk data");
            crc = PngCrc32.Update(crc, part);
            left -= part.Length;
        }
        CheckCrc(crc);
    }

    /// <summary>Reads the stored CRC after a chunk's data and compares it with the running one.</summary>
    private void CheckCrc(uint running)
    {
        var b = _small.AsSpan(0, 4);
        ReadExact(b, $"{TypeName(_chunkType)} chunk CRC");
        uint stored = BinaryPrimitives.ReadUInt32BigEndian(b);
        uint computed = PngCrc32.End(running);
        if (stored != computed)
            throw Fail($"CRC mismatch in {TypeName(_chunkType)} chunk at offset {_chunkStart}: stored 0x{stored:X8}, computed 0x{computed:X8}");
    }

    private int ReadUpTo(Span<byte> buf)
    {
        int total = 0;
        while (total < buf.Length)
        {
            int n = _s.Read(buf[total..]);
            if (n <= 0) break;
            total += n;
        }
        _offset += total;
        return total;
    }

    private void ReadExact(Span<byte> buf, string what)
    {
        int n = ReadUpTo(buf);
        if (n < buf.Length)
            throw Fail($"file truncated in {what} at offset {_offset}: expected {buf.Length} bytes, found {n}");
    }
}
