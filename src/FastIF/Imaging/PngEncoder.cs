using System.Buffers.Binary;
using System.IO.Compression;

namespace FastIF.Imaging;

/// <summary>8-bit PNG encoder: per-row filter choice, zlib via <see cref="ZLibStream"/>, IDAT split at a bounded size.</summary>
internal static class PngEncoder
{
    private static ReadOnlySpan<byte> Signature => [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];

    public static int Channels(PngColorType color, string target) => color switch
    {
        PngColorType.Gray => 1,
        PngColorType.GrayAlpha => 2,
        PngColorType.Rgb => 3,
        PngColorType.Rgba => 4,
        _ => throw new PngException($"{target}: cannot write color type {color} ({(int)color}); the writer supports Gray, GrayAlpha, Rgb and Rgba at 8 bits"),
    };

    /// <summary>Checks the arguments and returns the row length in bytes.</summary>
    public static int Validate(int width, int height, PngColorType color, int pixelBytes, PngWriteOptions opt, string target)
    {
        int ch = Channels(color, target);
        if (width <= 0 || height <= 0)
            throw new PngException($"{target}: image size {width}x{height} is invalid; width and height must be at least 1");
        long expected = (long)width * height * ch;
        if (pixelBytes != expected)
            throw new PngException($"{target}: pixel buffer has {pixelBytes} bytes, expected {expected} ({width}x{height}x{ch} for {color})");
        if (opt.MaxIdatSize < 1)
            throw new PngException($"{target}: PngWriteOptions.MaxIdatSize must be at least 1, is {opt.MaxIdatSize}");
        if (opt.Filter is < PngFilterMode.Adaptive or > PngFilterMode.Paeth)
            throw new PngException($"{target}: unknown filter mode {(int)opt.Filter}");
        return width * ch; // fits: it is at most pixelBytes
    }

    public static void Encode(Stream s, int width, int height, PngColorType color, ReadOnlySpan<byte> pixels, PngWriteOptions opt, string target)
    {
        int rowBytes = Validate(width, height, color, pixels.Length, opt, target);
        int bpp = Channels(color, target);
        s.Write(Signature);

        Span<byte> ihdr = stackalloc byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, width);
        BinaryPrimitives.WriteInt32BigEndian(ihdr[4..], height);
        ihdr[8] = 8;
        ihdr[9] = (byte)color;
        ihdr[10] = ihdr[11] = ihdr[12] = 0;
        WriteChunk(s, "IHDR"u8, ihdr);

        using (var idat = new IdatWriter(s, opt.MaxIdatSize))
        {
            using (var z = new ZLibStream(idat, opt.Compression, leaveOpen: true))
            {
                var candidates = new byte[5][];
                for (int f = 0; f < 5; f++) candidates[f] = new byte[rowBytes + 1];
                var zeros = new byte[rowBytes];
                for (int y = 0; y < height; y++)
                {
                    var cur = pixels.Slice(y * rowBytes, rowBytes);
                    var prev = y == 0 ? zeros : pixels.Slice((y - 1) * rowBytes, rowBytes);
                    byte[] best;
                    if (opt.Filter != PngFilterMode.Adaptive)
                    {
                        best = candidates[(int)opt.Filter];
                        Filter((int)opt.Filter, cur, prev, bpp, best);
                    }
                    else
                    {
                        best = candidates[0];
                        long bestScore = long.MaxValue;
                        for (int f = 0; f < 5; f++)
                        {
                            long score = Filter(f, cur, prev, bpp, candidates[f]);
                            if (score < bestScore) { bestScore = score; best = candidates[f]; }
                        }
                    }
                    z.Write(best);
                }
            }
            idat.Complete();
        }
        WriteChunk(s, "IEND"u8, []);
    }

    /// <summary>Writes filter byte + filtered row into <paramref name="dst"/>; returns the sum of |signed byte|.</summary>
    private static long Filter(int f, ReadOnlySpan<byte> cur, ReadOnlySpan<byte> prev, int bpp, Span<byte> dst)
    {
        dst[0] = (byte)f;
        var o = dst.Slice(1, cur.Length);
        int head = Math.Min(bpp, cur.Length); // bytes with no left neighbour
        switch (f)
        {
            case 0:
                cur.CopyTo(o);
                break;
            case 1:
                cur[..head].CopyTo(o);
                for (int i = bpp; i < cur.Length; i++) o[i] = (byte)(cur[i] - cur[i - bpp]);
                break;
            case 2:
                for (int i = 0; i < cur.Length; i++) o[i] = (byte)(cur[i] - prev[i]);
                break;
            case 3:
                for (int i = 0; i < head; i++) o[i] = (byte)(cur[i] - (prev[i] >> 1));
                for (int i = bpp; i < cur.Length; i++) o[i] = (byte)(cur[i] - ((cur[i - bpp] + prev[i]) >> 1));
                break;
            default:
                for (int i = 0; i < head; i++) o[i] = (byte)(cur[i] - prev[i]); // Paeth(0, b, 0) = b
                for (int i = bpp; i < cur.Length; i++) o[i] = (byte)(cur[i] - PngDecoder.Paeth(cur[i - bpp], prev[i], prev[i - bpp]));
                break;
        }
        long score = 0;
        foreach (byte v in o)
        {
            int sv = (sbyte)v; // widen first: Math.Abs((sbyte)-128) overflows
            score += sv < 0 ? -sv : sv;
        }
        return score;
    }

    internal static void WriteChunk(Stream s, ReadOnlySpan<byte> type, ReadOnlySpan<byte> data)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(b, data.Length);
        s.Write(b);
        s.Write(type);
        s.Write(data);
        BinaryPrimitives.WriteUInt32BigEndian(b, PngCrc32.End(PngCrc32.Update(PngCrc32.Update(PngCrc32.Begin, type), data)));
        s.Write(b);
    }

    /// <summary>Collects the zlib stream and emits it as IDAT chunks of at most maxSize bytes each.</summary>
    private sealed class IdatWriter(Stream s, int maxSize) : Stream
    {
        private readonly byte[] _buf = new byte[Math.Min(maxSize, 1 << 20)];
        private readonly int _max = Math.Min(maxSize, 1 << 20);
        private int _used;
        private bool _wroteAny;

        public override void Write(ReadOnlySpan<byte> data)
        {
            while (data.Length > 0)
            {
                int n = Math.Min(data.Length, _max - _used);
                data[..n].CopyTo(_buf.AsSpan(_used));
                _used += n;
                data = data[n..];
                if (_used == _max) Emit();
            }
        }

        private void Emit()
        {
            WriteChunk(s, "IDAT"u8, _buf.AsSpan(0, _used));
            _used = 0;
            _wroteAny = true;
        }

        public void Complete()
        {
            if (_used > 0 || !_wroteAny) Emit();
        }

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
