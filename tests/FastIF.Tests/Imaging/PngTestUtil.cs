using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace FastIF.Tests.Imaging;

/// <summary>
/// Independent PNG plumbing for tests: a bit-at-a-time CRC-32 (not the codec's table), a chunk splitter and
/// builder, and an unfilter, so the writer is checked without going through the reader under test.
/// </summary>
internal static class PngTestUtil
{
    public static readonly byte[] Signature = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];

    public static uint Crc(ReadOnlySpan<byte> data)
    {
        uint c = 0xFFFFFFFF;
        foreach (byte b in data)
        {
            c ^= b;
            for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xEDB88320u & (uint)-(int)(c & 1));
        }
        return ~c;
    }

    public sealed record Chunk(string Type, byte[] Data, uint StoredCrc)
    {
        public uint ComputedCrc => Crc([.. Encoding.ASCII.GetBytes(Type), .. Data]);
    }

    /// <summary>Splits a well-formed PNG into its chunks (asserting the signature and framing).</summary>
    public static List<Chunk> Split(byte[] png)
    {
        Assert.Equal(Signature, png[..8]);
        var list = new List<Chunk>();
        int p = 8;
        while (p < png.Length)
        {
            Assert.True(p + 12 <= png.Length, $"chunk header/CRC truncated at {p}");
            int len = checked((int)BinaryPrimitives.ReadUInt32BigEndian(png.AsSpan(p)));
            string type = Encoding.ASCII.GetString(png, p + 4, 4);
            var data = png.AsSpan(p + 8, len).ToArray();
            uint crc = BinaryPrimitives.ReadUInt32BigEndian(png.AsSpan(p + 8 + len));
            list.Add(new Chunk(type, data, crc));
            p += 12 + len;
        }
        Assert.Equal(png.Length, p);
        return list;
    }

    public static byte[] MakeChunk(string type, ReadOnlySpan<byte> data) => MakeChunk(type, data, null);

    public static byte[] MakeChunk(string type, ReadOnlySpan<byte> data, uint? crcOverride)
    {
        var t = Encoding.ASCII.GetBytes(type);
        var o = new byte[12 + data.Length];
        BinaryPrimitives.WriteUInt32BigEndian(o, (uint)data.Length);
        t.CopyTo(o, 4);
        data.CopyTo(o.AsSpan(8));
        BinaryPrimitives.WriteUInt32BigEndian(o.AsSpan(8 + data.Length), crcOverride ?? Crc(o.AsSpan(4, 4 + data.Length)));
        return o;
    }

    public static byte[] Assemble(IEnumerable<byte[]> chunks)
    {
        var ms = new MemoryStream();
        ms.Write(Signature);
        foreach (var c in chunks) ms.Write(c);
        return ms.ToArray();
    }

    /// <summary>Rebuilds a file from chunks, recomputing every CRC.</summary>
    public static byte[] Assemble(IEnumerable<Chunk> chunks) => Assemble(chunks.Select(c => MakeChunk(c.Type, c.Data)));

    public static byte[] Ihdr(uint w, uint h, byte depth, byte color, byte interlace = 0)
    {
        var d = new byte[13];
        BinaryPrimitives.WriteUInt32BigEndian(d, w);
        BinaryPrimitives.WriteUInt32BigEndian(d.AsSpan(4), h);
        d[8] = depth; d[9] = color; d[12] = interlace;
        return MakeChunk("IHDR", d);
    }

    public static byte[] Zlib(ReadOnlySpan<byte> raw, CompressionLevel level = CompressionLevel.Fastest)
    {
        var ms = new MemoryStream();
        using (var z = new ZLibStream(ms, level, leaveOpen: true)) z.Write(raw);
        return ms.ToArray();
    }

    public static uint Adler32(ReadOnlySpan<byte> data)
    {
        uint a = 1, b = 0;
        foreach (byte x in data) { a = (a + x) % 65521; b = (b + a) % 65521; }
        return b << 16 | a;
    }

    /// <summary>Undoes PNG filtering of non-interlaced data (filter byte + row, per row).</summary>
    public static byte[] Unfilter(ReadOnlySpan<byte> raw, int rowBytes, int height, int bpp)
    {
        Assert.Equal((rowBytes + 1) * height, raw.Length);
        var img = new byte[rowBytes * height];
        for (int y = 0; y < height; y++)
        {
            byte f = raw[y * (rowBytes + 1)];
            Assert.InRange(f, 0, 4);
            for (int x = 0; x < rowBytes; x++)
            {
                int a = x >= bpp ? img[y * rowBytes + x - bpp] : 0;
                int b = y > 0 ? img[(y - 1) * rowBytes + x] : 0;
                int c = x >= bpp && y > 0 ? img[(y - 1) * rowBytes + x - bpp] : 0;
                int pred = f switch
                {
                    0 => 0,
                    1 => a,
                    2 => b,
                    3 => (a + b) / 2,
                    _ => PaethRef(a, b, c),
                };
                img[y * rowBytes + x] = (byte)(raw[y * (rowBytes + 1) + 1 + x] + pred);
            }
        }
        return img;
    }

    private static int PaethRef(int a, int b, int c)
    {
        int p = a + b - c, pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
        if (pa <= pb && pa <= pc) return a;
        return pb <= pc ? b : c;
    }
}
