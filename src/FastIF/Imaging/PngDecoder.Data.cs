using System.Buffers.Binary;
using System.IO.Compression;

namespace FastIF.Imaging;

internal sealed partial class PngDecoder
{
    // Adam7 passes: x start, y start, x step, y step.
    private static ReadOnlySpan<byte> Adam7 => [0, 0, 8, 8, 4, 0, 8, 8, 0, 4, 4, 8, 2, 0, 4, 4, 0, 2, 2, 4, 1, 0, 2, 2, 0, 1, 1, 2];

    private byte[]? _out8;
    private ushort[]? _out16;

    private void ReadHeader()
    {
        if (_chunkLength != 13) throw Fail($"IHDR chunk must have length 13, has {_chunkLength}");
        var h = ReadChunkData();
        uint w = BinaryPrimitives.ReadUInt32BigEndian(h);
        uint ht = BinaryPrimitives.ReadUInt32BigEndian(h.AsSpan(4));
        if (w == 0 || w > int.MaxValue || ht == 0 || ht > int.MaxValue)
            throw Fail($"image size {w}x{ht} is invalid: width and height must be in 1..2^31-1");
        int depth = h[8], color = h[9];
        bool ok = color switch
        {
            0 => depth is 1 or 2 or 4 or 8 or 16,
            3 => depth is 1 or 2 or 4 or 8,
            2 or 4 or 6 => depth is 8 or 16,
            _ => throw Fail($"invalid color type {color} in IHDR (expected 0, 2, 3, 4 or 6)"),
        };
        if (!ok) throw Fail($"invalid bit depth {depth} for color type {color} in IHDR");
        if (h[10] != 0) throw Fail($"unknown compression method {h[10]} in IHDR (expected 0)");
        if (h[11] != 0) throw Fail($"unknown filter method {h[11]} in IHDR (expected 0)");
        if (h[12] > 1) throw Fail($"unknown interlace method {h[12]} in IHDR (expected 0 or 1)");

        _width = (int)w;
        _height = (int)ht;
        _depth = depth;
        _color = (PngColorType)color;
        _interlaced = h[12] == 1;
        _channels = color switch { 0 or 3 => 1, 4 => 2, 2 => 3, _ => 4 };

        long pixels = (long)w * ht;
        if (pixels > _opt.MaxPixels)
            throw Fail($"image {w}x{ht} has {pixels} pixels, over the limit of {_opt.MaxPixels} (PngReadOptions.MaxPixels)");
        if (pixels * 4 > Array.MaxLength)
            throw Fail($"image {w}x{ht} is too large: {pixels * 4} RGBA samples exceed the largest array");
        if (RowBytes(_width) + 1 > Array.MaxLength)
            throw Fail($"image width {w} is too large: a row of {RowBytes(_width)} bytes exceeds the largest array");
    }

    private long RowBytes(int width) => ((long)width * _channels * _depth + 7) / 8;

    private void ReadPalette()
    {
        if (_color is PngColorType.Gray or PngColorType.GrayAlpha)
            throw Fail($"PLTE chunk is not allowed for color type {(int)_color}");
        if (_chunkLength == 0 || _chunkLength % 3 != 0 || _chunkLength > 768)
            throw Fail($"PLTE chunk length {_chunkLength} is invalid: expected a multiple of 3 from 3 to 768");
        int count = (int)_chunkLength / 3;
        if (_color == PngColorType.Indexed && count > 1 << _depth)
            throw Fail($"PLTE has {count} entries, more than a {_depth}-bit palette image can index ({1 << _depth})");
        var p = ReadChunkData();
        if (_color != PngColorType.Indexed) return; // a suggested palette for truecolor: not needed
        _paletteCount = count;
        _paletteRgba = new byte[256 * 4];
        for (int i = 0; i < count; i++)
        {
            _paletteRgba[i * 4] = p[i * 3];
            _paletteRgba[i * 4 + 1] = p[i * 3 + 1];
            _paletteRgba[i * 4 + 2] = p[i * 3 + 2];
            _paletteRgba[i * 4 + 3] = 255;
        }
    }

    private void ReadTransparency(bool sawPlte)
    {
        if (_hasTrns) throw Fail("duplicate tRNS chunk");
        switch (_color)
        {
            case PngColorType.Gray:
                if (_chunkLength != 2) throw Fail($"tRNS chunk for a gray image must have length 2, has {_chunkLength}");
                var g = ReadChunkData();
                _trnsG = BinaryPrimitives.ReadUInt16BigEndian(g);
                break;
            case PngColorType.Rgb:
                if (_chunkLength != 6) throw Fail($"tRNS chunk for an RGB image must have length 6, has {_chunkLength}");
                var c = ReadChunkData();
                _trnsR = BinaryPrimitives.ReadUInt16BigEndian(c);
                _trnsG = BinaryPrimitives.ReadUInt16BigEndian(c.AsSpan(2));
                _trnsB = BinaryPrimitives.ReadUInt16BigEndian(c.AsSpan(4));
                break;
            case PngColorType.Indexed:
                if (!sawPlte) throw Fail("tRNS chunk before PLTE in a palette image");
                if (_chunkLength > _paletteCount)
                    throw Fail($"tRNS chunk has {_chunkLength} alpha values, more than the {_paletteCount} palette entries");
                var a = ReadChunkData();
                for (int i = 0; i < a.Length; i++) _paletteRgba![i * 4 + 3] = a[i];
                break;
            default:
                // Forbidden with an alpha channel; like libpng we ignore it rather than reject the image.
                SkipChunk();
                return;
        }
        _hasTrns = true;
    }

    private PngImage DecodeImageData()
    {
        long samples = (long)_width * _height * 4;
        if (_depth == 16) _out16 = new ushort[samples];
        else _out8 = new byte[samples];

        long expected = 0;
        int maxRow = 0;
        for (int p = 0; p < (_interlaced ? 7 : 1); p++)
        {
            var (pw, ph) = PassSize(p);
            if (pw == 0 || ph == 0) continue;
            expected += ph * (1 + RowBytes(pw));
            maxRow = Math.Max(maxRow, (int)RowBytes(pw));
        }

        var idat = new IdatStream(this);
        long got = 0;
        using (var z = new ZLibStream(idat, CompressionMode.Decompress, leaveOpen: true))
        {
            var prev = new byte[maxRow + 1];
            var cur = new byte[maxRow + 1];
            int bpp = Math.Max(1, _channels * _depth / 8);
            for (int p = 0; p < (_interlaced ? 7 : 1); p++)
            {
                var (pw, ph) = PassSize(p);
                if (pw == 0 || ph == 0) continue;
                int x0 = _interlaced ? Adam7[p * 4] : 0, y0 = _interlaced ? Adam7[p * 4 + 1] : 0;
                int dx = _interlaced ? Adam7[p * 4 + 2] : 1, dy = _interlaced ? Adam7[p * 4 + 3] : 1;
                int rb = (int)RowBytes(pw);
                prev.AsSpan(0, rb + 1).Clear();
                for (int r = 0; r < ph; r++)
                {
                    var row = cur.AsSpan(0, rb + 1);
                    int n = ReadFully(z, row);
                    got += n;
                    if (n < row.Length)
                        throw Fail($"image data truncated: the zlib stream ends after {got} of {expected} decompressed bytes");
                    Unfilter(row[0], row[1..], prev.AsSpan(1, rb), bpp, got - n);
                    Expand(row[1..], y0 + r * dy, x0, dx, pw);
                    (prev, cur) = (cur, prev);
                }
            }
            Span<byte> extra = stackalloc byte[1];
            if (z.Read(extra) > 0)
                throw Fail($"the zlib stream holds more data than the image needs ({expected} bytes for {_width}x{_height})");
            // ZLibStream reports a stream cut before its end (or its Adler-32) as a plain end of data; it only
            // asks for input past the IDAT run in that case, since a finished inflater reads no further.
            if (idat.RanDry)
                throw Fail("the zlib stream in IDAT is truncated: its end and Adler-32 checksum are missing");
        }
        idat.Drain();
        return new PngImage(_width, _height, _out8, _out16, _color, _depth, _interlaced);
    }

    private (int W, int H) PassSize(int p)
    {
        if (!_interlaced) return (_width, _height);
        int x0 = Adam7[p * 4], y0 = Adam7[p * 4 + 1], dx = Adam7[p * 4 + 2], dy = Adam7[p * 4 + 3];
        int w = _width > x0 ? (int)(((long)_width - x0 + dx - 1) / dx) : 0;
        int h = _height > y0 ? (int)(((long)_height - y0 + dy - 1) / dy) : 0;
        return (w, h);
    }

    private static int ReadFully(Stream s, Span<byte> buf)
    {
        int total = 0;
        while (total < buf.Length)
        {
            int n = s.Read(buf[total..]);
            if (n <= 0) break;
            total += n;
        }
        return total;
    }

    private void Unfilter(byte filter, Span<byte> cur, ReadOnlySpan<byte> prev, int bpp, long at)
    {
        switch (filter)
        {
            case 0:
                break;
            case 1:
                for (int i = bpp; i < cur.Length; i++) cur[i] += cur[i - bpp];
                break;
            case 2:
                for (int i = 0; i < cur.Length; i++) cur[i] += prev[i];
                break;
            case 3:
                for (int i = 0; i < bpp && i < cur.Length; i++) cur[i] += (byte)(prev[i] >> 1);
                for (int i = bpp; i < cur.Length; i++) cur[i] += (byte)((cur[i - bpp] + prev[i]) >> 1);
                break;
            case 4:
                for (int i = 0; i < bpp && i < cur.Length; i++) cur[i] += prev[i];
                for (int i = bpp; i < cur.Length; i++) cur[i] += Paeth(cur[i - bpp], prev[i], prev[i - bpp]);
                break;
            default:
                throw Fail($"invalid row filter type {filter} at decompressed offset {at} (expected 0..4)");
        }
    }

    internal static byte Paeth(byte a, byte b, byte c)
    {
        int p = a + b - c;
        int pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
        return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
    }

    /// <summary>Expands one unfiltered row of <paramref name="count"/> pixels into RGBA at row y, columns x0, x0+dx, ...</summary>
    private void Expand(ReadOnlySpan<byte> row, int y, int x0, int dx, int count)
    {
        int o = (y * _width + x0) * 4, step = dx * 4;
        if (_depth == 16)
        {
            Expand16(row, o, step, count);
            return;
        }
        var dst = _out8!;
        if (_color == PngColorType.Indexed)
        {
            var pal = _paletteRgba!;
            for (int i = 0; i < count; i++, o += step)
            {
                int v = Sample(row, i);
                if (v >= _paletteCount)
                    throw Fail($"palette index {v} at pixel ({x0 + i * dx}, {y}) is out of range (PLTE has {_paletteCount} entries)");
                pal.AsSpan(v * 4, 4).CopyTo(dst.AsSpan(o, 4));
            }
            return;
        }
        switch (_color)
        {
            case PngColorType.Gray:
            {
                int mask = (1 << _depth) - 1, scale = 255 / mask, trns = _hasTrns ? _trnsG & mask : -1;
                for (int i = 0; i < count; i++, o += step)
                {
                    int v = _depth == 8 ? row[i] : Sample(row, i);
                    byte g = (byte)(v * scale);
                    dst[o] = g; dst[o + 1] = g; dst[o + 2] = g;
                    dst[o + 3] = v == trns ? (byte)0 : (byte)255;
                }
                break;
            }
            case PngColorType.GrayAlpha:
                for (int i = 0; i < count; i++, o += step)
                {
                    byte g = row[i * 2];
                    dst[o] = g; dst[o + 1] = g; dst[o + 2] = g; dst[o + 3] = row[i * 2 + 1];
                }
                break;
            case PngColorType.Rgb:
            {
                int tr = _hasTrns ? _trnsR & 0xFF : -1, tg = _trnsG & 0xFF, tb = _trnsB & 0xFF;
                for (int i = 0; i < count; i++, o += step)
                {
                    byte r = row[i * 3], g = row[i * 3 + 1], b = row[i * 3 + 2];
                    dst[o] = r; dst[o + 1] = g; dst[o + 2] = b;
                    dst[o + 3] = r == tr && g == tg && b == tb ? (byte)0 : (byte)255;
                }
                break;
            }
            default: // Rgba
                if (dx == 1) row[..(count * 4)].CopyTo(dst.AsSpan(o));
                else
                    for (int i = 0; i < count; i++, o += step) row.Slice(i * 4, 4).CopyTo(dst.AsSpan(o, 4));
                break;
        }
    }

    /// <summary>The i-th packed sample of a row at bit depth 1, 2, 4 or 8 (most significant bits first).</summary>
    private int Sample(ReadOnlySpan<byte> row, int i)
    {
        if (_depth == 8) return row[i];
        int perByte = 8 / _depth;
        int shift = 8 - _depth * (i % perByte + 1);
        return (row[i / perByte] >> shift) & ((1 << _depth) - 1);
    }

    private void Expand16(ReadOnlySpan<byte> row, int o, int step, int count)
    {
        var dst = _out16!;
        switch (_color)
        {
            case PngColorType.Gray:
            {
                int trns = _hasTrns ? _trnsG : -1;
                for (int i = 0; i < count; i++, o += step)
                {
                    ushort g = BinaryPrimitives.ReadUInt16BigEndian(row[(i * 2)..]);
                    dst[o] = g; dst[o + 1] = g; dst[o + 2] = g;
                    dst[o + 3] = g == trns ? (ushort)0 : ushort.MaxValue;
                }
                break;
            }
            case PngColorType.GrayAlpha:
                for (int i = 0; i < count; i++, o += step)
                {
                    ushort g = BinaryPrimitives.ReadUInt16BigEndian(row[(i * 4)..]);
                    dst[o] = g; dst[o + 1] = g; dst[o + 2] = g;
                    dst[o + 3] = BinaryPrimitives.ReadUInt16BigEndian(row[(i * 4 + 2)..]);
                }
                break;
            case PngColorType.Rgb:
            {
                int tr = _hasTrns ? _trnsR : -1;
                for (int i = 0; i < count; i++, o += step)
                {
                    var px = row.Slice(i * 6, 6);
                    ushort r = BinaryPrimitives.ReadUInt16BigEndian(px), g = BinaryPrimitives.ReadUInt16BigEndian(px[2..]),
                        b = BinaryPrimitives.ReadUInt16BigEndian(px[4..]);
                    dst[o] = r; dst[o + 1] = g; dst[o + 2] = b;
                    dst[o + 3] = r == tr && g == _trnsG && b == _trnsB ? (ushort)0 : ushort.MaxValue;
                }
                break;
            }
            default: // Rgba
                for (int i = 0; i < count; i++, o += step)
                    for (int c = 0; c < 4; c++) dst[o + c] = BinaryPrimitives.ReadUInt16BigEndian(row[(i * 8 + c * 2)..]);
                break;
        }
    }

    /// <summary>
    /// The concatenated payloads of consecutive IDAT chunks as one read-only stream, checking each chunk's CRC at
    /// its end. It stops (returns 0) at the first chunk that is not IDAT, which becomes the decoder's current chunk.
    /// </summary>
    private sealed class IdatStream(PngDecoder d) : Stream
    {
        private long _remaining = d._chunkLength;
        private uint _crc = PngCrc32.Update(PngCrc32.Begin, "IDAT"u8);
        private bool _done;

        /// <summary>True once a reader asked for data past the last IDAT chunk.</summary>
        public bool RanDry { get; private set; }

        public override int Read(Span<byte> buffer)
        {
            while (_remaining == 0)
            {
                if (_done)
                {
                    RanDry = true;
                    return 0;
                }
                d.CheckCrc(_crc);
                if (!d.NextChunk()) throw d.Fail("file ends after IDAT without an IEND chunk (truncated?)");
                if (d._chunkType != IDAT)
                {
                    _done = true;
                    RanDry = true;
                    return 0;
                }
                _remaining = d._chunkLength;
                _crc = PngCrc32.Update(PngCrc32.Begin, "IDAT"u8);
            }
            if (buffer.Length == 0) return 0;
            var part = buffer[..(int)Math.Min(_remaining, buffer.Length)];
            d.ReadExact(part, "IDAT chunk data");
            _crc = PngCrc32.Update(_crc, part);
            _remaining -= part.Length;
            return part.Length;
        }

        /// <summary>Consumes what is left of the IDAT run (compressed bytes after the zlib end), checking CRCs.</summary>
        public void Drain()
        {
            Span<byte> scratch = stackalloc byte[4096];
            while (!_done) _ = Read(scratch);
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
