using System.Diagnostics;
using FastIF.Imaging;
using static FastIF.Tests.Imaging.PngTestUtil;

namespace FastIF.Tests.Imaging;

/// <summary>Corrupted input of every kind ends in a PngException, in bounded time and memory.</summary>
public class PngRobustnessTests
{
    private static byte[] Suite(string name) => File.ReadAllBytes(Fixtures.Require("png", "png", name));

    /// <summary>Decodes; true when it succeeded, false on PngException, any other exception fails the test.</summary>
    private static bool TryDecode(byte[] data, string what)
    {
        try
        {
            Png.Decode(data);
            return true;
        }
        catch (PngException)
        {
            return false;
        }
        catch (Exception e)
        {
            Assert.Fail($"{what}: {e.GetType().Name} instead of PngException: {e.Message}");
            return false;
        }
    }

    [Theory]
    [InlineData("basn0g01.png")]
    [InlineData("basi3p02.png")]
    [InlineData("basn2c08.png")]
    public void EverySingleBitFlipIsRejected(string name)
    {
        // Each byte is in the signature, a chunk length (which moves the framing), a type or data (both under the
        // CRC), or a CRC, so every single-bit error must be detected.
        var good = Suite(name);
        var sw = Stopwatch.StartNew();
        for (int i = 0; i < good.Length; i++)
            for (int b = 0; b < 8; b++)
            {
                var bad = (byte[])good.Clone();
                bad[i] ^= (byte)(1 << b);
                Assert.False(TryDecode(bad, $"{name} bit {b} of byte {i}"), $"{name}: flipping bit {b} of byte {i} went undetected");
            }
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(20), $"took {sw.Elapsed}");
    }

    [Theory]
    [InlineData("basn0g01.png")]
    [InlineData("basi6a16.png")]
    [InlineData("s39i3p04.png")]
    public void EveryTruncationIsRejected(string name)
    {
        var good = Suite(name);
        for (int n = 0; n < good.Length; n++)
        {
            var e = Assert.Throws<PngException>(() => Png.Decode(good[..n]));
            Assert.False(string.IsNullOrWhiteSpace(e.Message));
            Assert.Throws<PngException>(() => Png.Read(new MemoryStream(good[..n])));
        }
    }

    [Theory]
    [InlineData("basi6a16.png", 1)]
    [InlineData("basn3p08.png", 2)]
    [InlineData("f99n0g04.png", 3)]
    public void RandomByteCorruptionIsRejected(string name, int seed)
    {
        var good = Suite(name);
        var rng = new Random(seed);
        for (int iter = 0; iter < 300; iter++)
        {
            var bad = (byte[])good.Clone();
            int k = rng.Next(1, 6);
            for (int j = 0; j < k; j++) bad[rng.Next(bad.Length)] = (byte)rng.Next(256);
            if (bad.AsSpan().SequenceEqual(good)) continue;
            TryDecode(bad, $"{name} iteration {iter}"); // a PngException, or (very unlikely) a decode
        }
    }

    /// <summary>Corrupts the compressed data but fixes the CRCs, so the zlib and filter layers see the damage.</summary>
    [Theory]
    [InlineData("basn2c08.png", 1)]
    [InlineData("basi6a16.png", 2)]
    [InlineData("basi0g02.png", 3)]
    [InlineData("basn3p04.png", 4)]
    public void CorruptImageDataWithValidCrcsIsRejectedOrDecoded(string name, int seed)
    {
        var chunks = Split(Suite(name));
        var idat = chunks.Where(c => c.Type == "IDAT").SelectMany(c => c.Data).ToArray();
        var before = chunks.TakeWhile(c => c.Type != "IDAT").ToList();
        var after = chunks.SkipWhile(c => c.Type != "IDAT").Where(c => c.Type != "IDAT").ToList();
        var rng = new Random(seed);
        int failures = 0;
        for (int iter = 0; iter < 300; iter++)
        {
            var z = (byte[])idat.Clone();
            int k = rng.Next(1, 4);
            for (int j = 0; j < k; j++) z[rng.Next(z.Length)] ^= (byte)rng.Next(1, 256);
            if (rng.Next(4) == 0) z = z[..rng.Next(z.Length)];
            var file = Assemble([.. before, new Chunk("IDAT", z, 0), .. after]);
            if (!TryDecode(file, $"{name} iteration {iter}")) failures++;
        }
        Assert.True(failures > 150, $"only {failures} of 300 corruptions were detected");
    }

    [Fact]
    public void ZlibBombIsStoppedAtTheExpectedSize()
    {
        var bomb = Zlib(new byte[32 << 20]); // 32 MiB of zeros, about 32 KiB compressed, for a 1x1 image
        var file = Assemble([Ihdr(1, 1, 8, 0), MakeChunk("IDAT", bomb), MakeChunk("IEND", [])]);
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<PngException>(() => Png.Decode(file));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Contains("more data than the image needs", e.Message);
        Assert.True(allocated < 1 << 20, $"allocated {allocated} bytes");
    }

    [Theory]
    [InlineData(0u, 1u, "invalid")]
    [InlineData(1u, 0u, "invalid")]
    [InlineData(0x80000000u, 1u, "invalid")]
    [InlineData(1u, 0xFFFFFFFFu, "invalid")]
    [InlineData(0x7FFFFFFFu, 0x7FFFFFFFu, "over the limit")]
    [InlineData(20000u, 20000u, "over the limit")]
    public void HugeOrEmptyDimensionsAreRejectedBeforeAllocating(uint w, uint h, string message)
    {
        var file = Assemble([Ihdr(w, h, 16, 6), MakeChunk("IDAT", Zlib([0])), MakeChunk("IEND", [])]);
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<PngException>(() => Png.Decode(file));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1 << 20);
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void PixelLimitIsConfigurable()
    {
        var file = Suite("basn2c08.png"); // 32x32
        var e = Assert.Throws<PngException>(() => Png.Decode(file, new PngReadOptions { MaxPixels = 1023 }));
        Assert.Contains("1023", e.Message);
        Assert.Equal(32, Png.Decode(file, new PngReadOptions { MaxPixels = 1024 }).Width);
    }

    [Fact]
    public void ReadingAMissingFileNamesIt()
    {
        var path = Path.Combine(Path.GetTempPath(), $"fastif-missing-{Guid.NewGuid():N}.png");
        Assert.Contains(path, Assert.Throws<PngException>(() => Png.Read(path)).Message);
    }
}
