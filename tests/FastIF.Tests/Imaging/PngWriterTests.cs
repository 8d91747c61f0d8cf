using System.Buffers.Binary;
using System.IO.Compression;
using FastIF.Imaging;

namespace FastIF.Tests.Imaging;

/// <summary>The writer: round trips through the reader, and an independent structural check of every file it makes.</summary>
public class PngWriterTests
{
    public static TheoryData<PngColorType, PngFilterMode> Modes()
    {
        var d = new TheoryData<PngColorType, PngFilterMode>();
        foreach (var c in new[] { PngColorType.Gray, PngColorType.GrayAlpha, PngColorType.Rgb, PngColorType.Rgba })
            foreach (var f in Enum.GetValues<PngFilterMode>())
                d.Add(c, f);
        return d;
    }

    private static int Channels(PngColorType c) => c switch
    {
        PngColorType.Gray => 1, PngColorType.GrayAlpha => 2, PngColorType.Rgb => 3, _ => 4,
    };

    /// <summary>Random sizes (with 1×1, single rows/columns and odd widths) and random or smooth content.</summary>
    private static IEnumerable<(int W, int H, byte[] Px)> Images(PngColorType color, int seed)
    {
        var rng = new Random(seed);
        int ch = Channels(color);
        var sizes = new List<(int, int)> { (1, 1), (1, 9), (9, 1), (3, 5), (17, 3) };
        for (int i = 0; i < 4; i++) sizes.Add((rng.Next(1, 80), rng.Next(1, 40)));
        foreach (var (w, h) in sizes)
        {
            var noise = new byte[w * h * ch];
            rng.NextBytes(noise);
            yield return (w, h, noise);
            var smooth = new byte[w * h * ch];
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++)
                    for (int c = 0; c < ch; c++)
                        smooth[(y * w + x) * ch + c] = (byte)(x * 3 + y * 5 + c * 40 + rng.Next(3));
            yield return (w, h, smooth);
        }
    }

    /// <summary>The RGBA the reader must produce, computed here from the definition.</summary>
    private static byte[] ToRgba(PngColorType color, byte[] px, int n)
    {
        var o = new byte[n * 4];
        int ch = Channels(color);
        for (int i = 0; i < n; i++)
        {
            var p = px.AsSpan(i * ch, ch);
            (o[i * 4], o[i * 4 + 1], o[i * 4 + 2], o[i * 4 + 3]) = color switch
            {
                PngColorType.Gray => (p[0], p[0], p[0], (byte)255),
                PngColorType.GrayAlpha => (p[0], p[0], p[0], p[1]),
                PngColorType.Rgb => (p[0], p[1], p[2], (byte)255),
                _ => (p[0], p[1], p[2], p[3]),
            };
        }
        return o;
    }

    [Theory]
    [MemberData(nameof(Modes))]
    public void RoundTripsAndIsStructurallyValid(PngColorType color, PngFilterMode filter)
    {
        int seed = (int)color * 10 + (int)filter + 1;
        foreach (var (w, h, px) in Images(color, seed))
        {
            var opt = new PngWriteOptions { Filter = filter, MaxIdatSize = 1 + seed * 7 % 200 };
            var png = Png.Encode(w, h, color, px, opt);
            CheckStructure(png, w, h, color, px, opt.MaxIdatSize, filter);

            var img = Png.Decode(png);
            Assert.Equal((w, h, 8, color, 8, false), (img.Width, img.Height, img.BitDepth, img.SourceColorType, img.SourceBitDepth, img.SourceInterlaced));
            Assert.Equal(ToRgba(color, px, w * h), img.Rgba8);
        }
    }

    /// <summary>Parses the file with the test's own CRC, zlib header/Adler-32 checks and unfilter.</summary>
    private static void CheckStructure(byte[] png, int w, int h, PngColorType color, byte[] px, int maxIdat, PngFilterMode filter)
    {
        var chunks = PngTestUtil.Split(png);
        foreach (var c in chunks) Assert.Equal(c.ComputedCrc, c.StoredCrc);
        Assert.Equal("IHDR", chunks[0].Type);
        Assert.Equal("IEND", chunks[^1].Type);
        Assert.Empty(chunks[^1].Data);
        var ihdr = chunks[0].Data;
        Assert.Equal(13, ihdr.Length);
        Assert.Equal((uint)w, BinaryPrimitives.ReadUInt32BigEndian(ihdr));
        Assert.Equal((uint)h, BinaryPrimitives.ReadUInt32BigEndian(ihdr.AsSpan(4)));
        Assert.Equal(new byte[] { 8, (byte)color, 0, 0, 0 }, ihdr[8..]);
        var types = string.Concat(chunks.Select(c => c.Type == "IDAT" ? "D" : "x"));
        Assert.Matches("^xD+x$", types); // IHDR, consecutive IDATs, IEND
        var idats = chunks.Where(c => c.Type == "IDAT").ToList();
        Assert.All(idats, c => Assert.InRange(c.Data.Length, 1, maxIdat));
        Assert.All(idats.SkipLast(1), c => Assert.Equal(maxIdat, c.Data.Length));

        var z = idats.SelectMany(c => c.Data).ToArray();
        Assert.Equal(8, z[0] & 0x0F); // deflate
        Assert.Equal(0, (z[0] << 8 | z[1]) % 31);
        Assert.Equal(0, z[1] & 0x20); // no preset dictionary
        var raw = new MemoryStream();
        using (var zs = new ZLibStream(new MemoryStream(z), CompressionMode.Decompress)) zs.CopyTo(raw);
        var bytes = raw.ToArray();
        Assert.Equal(PngTestUtil.Adler32(bytes), BinaryPrimitives.ReadUInt32BigEndian(z.AsSpan(z.Length - 4)));
        int ch = Channels(color);
        Assert.Equal(px, PngTestUtil.Unfilter(bytes, w * ch, h, ch));
        if (filter != PngFilterMode.Adaptive)
            for (int y = 0; y < h; y++) Assert.Equal((int)filter, bytes[y * (w * ch + 1)]);
    }

    [Fact]
    public void AdaptiveFilteringBeatsNoFilterOnSmoothImages()
    {
        int w = 128, h = 64;
        var px = new byte[w * h * 3];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                for (int c = 0; c < 3; c++) px[(y * w + x) * 3 + c] = (byte)(x * (c + 1) + y * 2);
        var adaptive = Png.Encode(w, h, PngColorType.Rgb, px);
        var none = Png.Encode(w, h, PngColorType.Rgb, px, new PngWriteOptions { Filter = PngFilterMode.None });
        Assert.True(adaptive.Length < none.Length, $"adaptive {adaptive.Length} bytes, unfiltered {none.Length}");
    }

    [Fact]
    public void LargeImageUsesBoundedIdatChunks()
    {
        int w = 300, h = 200;
        var px = new byte[w * h * 4];
        new Random(5).NextBytes(px);
        var png = Png.Encode(w, h, PngColorType.Rgba, px, new PngWriteOptions { Compression = CompressionLevel.Fastest });
        var idats = PngTestUtil.Split(png).Where(c => c.Type == "IDAT").ToList();
        Assert.True(idats.Count >= 3, $"{idats.Count} IDAT chunks");
        Assert.All(idats, c => Assert.InRange(c.Data.Length, 1, 1 << 16));
        Assert.Equal(px, Png.Decode(png).ToRgba8());
    }

    [Fact]
    public void FileWriteIsAtomicAndOverwrites()
    {
        var dir = Directory.CreateTempSubdirectory("fastif-png-");
        try
        {
            var path = Path.Combine(dir.FullName, "out.png");
            var rgb = new byte[5 * 3 * 3];
            new Random(2).NextBytes(rgb);
            Png.WriteRgb8(path, 5, 3, rgb);
            Assert.Equal(rgb, Png.Read(path).ToRgb8());
            rgb[0] ^= 0xFF;
            Png.WriteRgb8(path, 5, 3, rgb); // replaces the existing file
            Assert.Equal(rgb, Png.Read(path).ToRgb8());
            Assert.Equal(["out.png"], dir.GetFiles().Select(f => f.Name));

            // Invalid input: nothing written, previous file intact.
            var before = File.ReadAllBytes(path);
            var e = Assert.Throws<PngException>(() => Png.WriteRgb8(path, 5, 4, rgb));
            Assert.Contains(path, e.Message);
            Assert.Contains("expected 60", e.Message);
            Assert.Equal(before, File.ReadAllBytes(path));

            // The final rename fails (the target is a directory): the temporary file is removed.
            var sub = Directory.CreateDirectory(Path.Combine(dir.FullName, "taken.png"));
            var e2 = Assert.Throws<PngException>(() => Png.Write(sub.FullName, 5, 3, PngColorType.Rgb, rgb));
            Assert.Contains("taken.png", e2.Message);
            Assert.Equal(["out.png"], dir.GetFiles().Select(f => f.Name));

            // Missing directory.
            var missing = Path.Combine(dir.FullName, "nope", "x.png");
            Assert.Contains(missing, Assert.Throws<PngException>(() => Png.WriteRgb8(missing, 5, 3, rgb)).Message);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public void StreamOverloadsWriteAndReadConsecutiveImages()
    {
        var ms = new MemoryStream();
        ms.Write("head"u8);
        var a = new byte[] { 1, 2, 3, 4, 5, 6 };
        var b = new byte[] { 9, 8, 7, 6, 5, 4, 3, 2 };
        Png.WriteRgb8(ms, 2, 1, a);
        Png.Write(ms, 1, 2, PngColorType.Rgba, b);
        ms.Write("tail"u8);
        ms.Position = 4;
        Assert.Equal(a, Png.Read(ms).ToRgb8());
        Assert.Equal(b, Png.Read(ms).ToRgba8());
        var rest = new byte[4];
        Assert.Equal(4, ms.Read(rest));
        Assert.Equal("tail"u8.ToArray(), rest);
    }

    [Theory]
    [InlineData(0, 1, PngColorType.Rgb, 0, "invalid")]
    [InlineData(1, -1, PngColorType.Rgb, 0, "invalid")]
    [InlineData(2, 2, PngColorType.Indexed, 4, "color type")]
    [InlineData(2, 2, (PngColorType)5, 4, "color type")]
    [InlineData(2, 2, PngColorType.Gray, 5, "expected 4")]
    [InlineData(2, 2, PngColorType.GrayAlpha, 4, "expected 8")]
    public void RejectsInvalidArguments(int w, int h, PngColorType color, int bytes, string message)
    {
        var e = Assert.Throws<PngException>(() => Png.Encode(w, h, color, new byte[bytes]));
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void RejectsInvalidOptions()
    {
        Assert.Throws<PngException>(() => Png.Encode(1, 1, PngColorType.Gray, [0], new PngWriteOptions { MaxIdatSize = 0 }));
        Assert.Throws<PngException>(() => Png.Encode(1, 1, PngColorType.Gray, [0], new PngWriteOptions { Filter = (PngFilterMode)7 }));
    }
}
