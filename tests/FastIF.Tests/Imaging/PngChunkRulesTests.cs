using FastIF.Imaging;
using static FastIF.Tests.Imaging.PngTestUtil;

namespace FastIF.Tests.Imaging;

/// <summary>Hand-built files exercising chunk ordering, chunk validation and image-data rules one at a time.</summary>
public class PngChunkRulesTests
{
    // A 2x2 8-bit gray image: rows "0 10 20" and "0 30 40" (filter byte first).
    private static readonly byte[] Raw = [0, 10, 20, 0, 30, 40];
    private static readonly byte[] Expected = [10, 10, 10, 255, 20, 20, 20, 255, 30, 30, 30, 255, 40, 40, 40, 255];
    private static byte[] Hdr => Ihdr(2, 2, 8, 0);
    private static byte[] Idat => MakeChunk("IDAT", Zlib(Raw));
    private static byte[] End => MakeChunk("IEND", []);
    private static byte[] Text => MakeChunk("tEXt", "Comment\0hi"u8);

    private static void Fails(byte[] file, string message)
    {
        var e = Assert.Throws<PngException>(() => Png.Decode(file));
        Assert.Contains(message, e.Message);
        Assert.StartsWith("PNG data:", e.Message);
    }

    [Fact]
    public void BaselineDecodes() => Assert.Equal(Expected, Png.Decode(Assemble([Hdr, Idat, End])).Rgba8);

    [Fact]
    public void IdatMaySplitAnywhereIncludingEmptyChunks()
    {
        var z = Zlib(Raw);
        var chunks = new List<byte[]> { Hdr, MakeChunk("IDAT", []) };
        foreach (var b in z) { chunks.Add(MakeChunk("IDAT", [b])); chunks.Add(MakeChunk("IDAT", [])); }
        chunks.Add(End);
        Assert.Equal(Expected, Png.Decode(Assemble(chunks)).Rgba8);
    }

    [Fact]
    public void AncillaryChunksAreSkipped() =>
        Assert.Equal(Expected, Png.Decode(Assemble([Hdr, Text, MakeChunk("zzZz", new byte[5000]), Idat, Text, End])).Rgba8);

    [Fact] public void UnknownCriticalChunkFails() => Fails(Assemble([Hdr, MakeChunk("ZZzz", [1]), Idat, End]), "unknown critical chunk ZZzz");
    [Fact] public void AncillaryCrcErrorFails() => Fails(Assemble([Hdr, MakeChunk("tEXt", "a\0b"u8, 1234), Idat, End]), "CRC mismatch in tEXt");
    [Fact] public void NonConsecutiveIdatFails()
    {
        var z = Zlib(Raw);
        Fails(Assemble([Hdr, Idat, Text, MakeChunk("IDAT", []), End]), "not consecutive");
        Fails(Assemble([Hdr, MakeChunk("IDAT", z[..5]), Text, MakeChunk("IDAT", z[5..]), End]), "truncated"); // seen from the data's side
    }
    [Fact] public void IhdrMustBeFirst() => Fails(Assemble([Text, Hdr, Idat, End]), "first chunk must be IHDR");
    [Fact] public void DuplicateIhdrFails() => Fails(Assemble([Hdr, Hdr, Idat, End]), "duplicate IHDR");
    [Fact] public void MissingIendFails() => Fails(Assemble([Hdr, Idat]), "without an IEND");
    [Fact] public void MissingIdatFails() => Fails(Assemble([Hdr, End]), "before any IDAT");
    [Fact] public void NonEmptyIendFails() => Fails(Assemble([Hdr, Idat, MakeChunk("IEND", [0])]), "IEND chunk must be empty");
    [Fact] public void IhdrOfWrongLengthFails() => Fails(Assemble([MakeChunk("IHDR", new byte[12]), Idat, End]), "length 13");
    [Fact] public void BadChunkTypeFails() => Fails(Assemble([Hdr, MakeChunk("tE#t", []), Idat, End]), "invalid chunk type");
    [Fact] public void ChunkLengthOver2To31Fails()
    {
        var c = MakeChunk("tEXt", []);
        c[0] = 0x80;
        Fails(Assemble([Hdr, c, Idat, End]), "over the PNG limit");
    }
    [Fact] public void HugeAncillaryLengthIsTruncationNotAllocation()
    {
        var c = MakeChunk("tEXt", []);
        c[0] = 0x7F; c[1] = 0xFF;
        long before = GC.GetAllocatedBytesForCurrentThread();
        Fails(Assemble([Hdr, c, Idat, End]), "truncated");
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1 << 20);
    }

    [Fact]
    public void DataAfterIendFailsForWholeBuffersButNotStreams()
    {
        var file = Assemble([Hdr, Idat, End, "junk"u8.ToArray()]);
        Fails(file, "after the IEND");
        var ms = new MemoryStream(file);
        Assert.Equal(Expected, Png.Read(ms).Rgba8);
        Assert.Equal(file.Length - 4, ms.Position);
    }

    [Theory]
    [InlineData(10, "compression method")]
    [InlineData(11, "filter method")]
    [InlineData(12, "interlace method")]
    public void UnknownIhdrMethodsFail(int offset, string message)
    {
        var h = Hdr[8..^4];
        h[offset] = (byte)(offset == 12 ? 2 : 1);
        Fails(Assemble([MakeChunk("IHDR", h), Idat, End]), message);
    }

    [Fact] public void PlteInGrayImageFails() => Fails(Assemble([Hdr, MakeChunk("PLTE", [1, 2, 3]), Idat, End]), "PLTE chunk is not allowed");
    [Fact] public void PlteAfterIdatFails()
    {
        var rgb = Ihdr(1, 1, 8, 2);
        Fails(Assemble([rgb, MakeChunk("IDAT", Zlib([0, 1, 2, 3])), MakeChunk("PLTE", [1, 2, 3]), End]), "PLTE chunk after IDAT");
    }
    [Fact] public void SuggestedPaletteInRgbImageIsAccepted()
    {
        var rgb = Ihdr(1, 1, 8, 2);
        Assert.Equal([1, 2, 3, 255], Png.Decode(Assemble([rgb, MakeChunk("PLTE", [9, 9, 9]), MakeChunk("IDAT", Zlib([0, 1, 2, 3])), End])).Rgba8);
    }

    private static byte[] Palette2x1(byte[] plte, byte[]? trns, byte[] indices, byte depth = 8)
    {
        var chunks = new List<byte[]> { Ihdr(2, 1, depth, 3), MakeChunk("PLTE", plte) };
        if (trns != null) chunks.Add(MakeChunk("tRNS", trns));
        chunks.Add(MakeChunk("IDAT", Zlib([0, .. indices])));
        chunks.Add(End);
        return Assemble(chunks);
    }

    [Fact]
    public void PaletteWithTransparencyExpands() =>
        Assert.Equal([1, 2, 3, 7, 4, 5, 6, 255], Png.Decode(Palette2x1([1, 2, 3, 4, 5, 6], [7], [0, 1])).Rgba8);

    [Fact] public void PaletteIndexOutOfRangeFails() => Fails(Palette2x1([1, 2, 3, 4, 5, 6], null, [0, 2]), "palette index 2");
    [Fact] public void TrnsLongerThanPaletteFails() => Fails(Palette2x1([1, 2, 3], [1, 2], [0, 0]), "more than the 1 palette entries");
    [Fact] public void PaletteTooLargeForBitDepthFails() => Fails(Palette2x1([1, 2, 3, 4, 5, 6, 7, 8, 9], null, [0], depth: 1), "more than a 1-bit palette");
    [Fact] public void PaletteLengthNotMultipleOf3Fails() => Fails(Palette2x1([1, 2, 3, 4], null, [0, 0]), "multiple of 3");
    [Fact] public void MissingPlteFails() => Fails(Assemble([Ihdr(1, 1, 8, 3), MakeChunk("IDAT", Zlib([0, 0])), End]), "no PLTE");
    [Fact] public void TrnsBeforePlteFails() =>
        Fails(Assemble([Ihdr(1, 1, 8, 3), MakeChunk("tRNS", [0]), MakeChunk("PLTE", [1, 2, 3]), MakeChunk("IDAT", Zlib([0, 0])), End]), "tRNS chunk before PLTE");

    [Fact]
    public void GrayAndRgbTransparencyKeys()
    {
        var gray = Assemble([Hdr, MakeChunk("tRNS", [0, 20]), Idat, End]);
        Assert.Equal([10, 10, 10, 255, 20, 20, 20, 0, 30, 30, 30, 255, 40, 40, 40, 255], Png.Decode(gray).Rgba8);
        var rgb = Assemble([Ihdr(2, 1, 8, 2), MakeChunk("tRNS", [0, 4, 0, 5, 0, 6]), MakeChunk("IDAT", Zlib([0, 1, 2, 3, 4, 5, 6])), End]);
        Assert.Equal([1, 2, 3, 255, 4, 5, 6, 0], Png.Decode(rgb).Rgba8);
        Fails(Assemble([Hdr, MakeChunk("tRNS", [0, 20, 0]), Idat, End]), "must have length 2");
        Fails(Assemble([Hdr, MakeChunk("tRNS", [0, 20]), MakeChunk("tRNS", [0, 20]), Idat, End]), "duplicate tRNS");
    }

    [Fact] public void InvalidFilterTypeFails() => Fails(Assemble([Hdr, MakeChunk("IDAT", Zlib([0, 1, 2, 5, 3, 4])), End]), "invalid row filter type 5");
    [Fact] public void ExtraImageDataFails() => Fails(Assemble([Hdr, MakeChunk("IDAT", Zlib([.. Raw, 0])), End]), "more data than the image needs");
    [Fact] public void MissingImageDataFails() => Fails(Assemble([Hdr, MakeChunk("IDAT", Zlib(Raw[..5])), End]), "truncated");
    [Fact] public void NotZlibFails() => Fails(Assemble([Hdr, MakeChunk("IDAT", [1, 2, 3, 4, 5, 6, 7, 8]), End]), "corrupt zlib data");

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(4)]
    public void ZlibStreamCutBeforeItsChecksumFails(int cut)
    {
        var z = Zlib(Raw);
        Fails(Assemble([Hdr, MakeChunk("IDAT", z[..^cut]), End]), "zlib stream in IDAT is truncated");
    }

    [Fact]
    public void ZlibChecksumMismatchFails()
    {
        var z = Zlib(Raw);
        z[^1] ^= 1;
        Fails(Assemble([Hdr, MakeChunk("IDAT", z), End]), "Adler-32");
    }

    [Fact]
    public void StreamErrorsNameTheStream()
    {
        var e = Assert.Throws<PngException>(() => Png.Read(new MemoryStream([1, 2, 3])));
        Assert.StartsWith("PNG stream:", e.Message);
        Assert.Contains("signature", e.Message);
    }
}
