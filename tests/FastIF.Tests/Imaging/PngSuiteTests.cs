using System.Text.Json;
using FastIF.Imaging;

namespace FastIF.Tests.Imaging;

/// <summary>PngSuite conformance: every valid file decodes to the independent decoder's output, every x* file fails.</summary>
public class PngSuiteTests
{
    private const string Missing = "(fixtures not found)";

    /// <summary>Lists png/*.png; a single sentinel row when the folder is absent so the test skips (or fails when explicit).</summary>
    public static TheoryData<string> Files(bool corrupt)
    {
        var data = new TheoryData<string>();
        var root = Fixtures.Root;
        var dir = root == null ? null : Path.Combine(root, "png", "png");
        if (dir != null && Directory.Exists(dir))
        {
            foreach (var f in Directory.GetFiles(dir, "*.png").Select(Path.GetFileName).Order(StringComparer.Ordinal))
                if (f!.StartsWith('x') == corrupt) data.Add(f);
        }
        if (data.Count == 0) data.Add(Missing);
        return data;
    }

    public static TheoryData<string> ValidFiles => Files(false);
    public static TheoryData<string> CorruptFiles => Files(true);

    private static string Png(string name)
    {
        if (name == Missing) Fixtures.Require("png", "png", "basn0g01.png"); // skips, or fails under FASTIF_FIXTURES
        return Fixtures.Require("png", "png", name);
    }

    private static int[] Expected(string name) =>
        JsonSerializer.Deserialize<int[]>(File.ReadAllText(Fixtures.Require("png", "expected", name)))!;

    [Theory]
    [MemberData(nameof(ValidFiles))]
    public void DecodesToExpected(string name)
    {
        var path = Png(name);
        var img = FastIF.Imaging.Png.Read(path);
        string stem = Path.GetFileNameWithoutExtension(name);
        var expected = Expected(stem + ".json");
        Assert.Equal(expected.Length, img.Width * img.Height * 4);

        if (img.SourceBitDepth == 16)
        {
            Assert.Equal(16, img.BitDepth);
            Assert.Null(img.Rgba8);
            Assert.Equal(expected, img.Rgba16!.Select(v => (int)v).ToArray());
            var to8 = Path.Combine(Path.GetDirectoryName(path)!, "..", "expected", stem + "_to8.json");
            var mine = img.ToRgba8();
            if (File.Exists(to8))
            {
                var e8 = Expected(stem + "_to8.json");
                Assert.Equal(e8.Length, mine.Length);
                for (int i = 0; i < e8.Length; i++)
                    Assert.True(Math.Abs(e8[i] - mine[i]) <= 1, $"{name} sample {i}: 8-bit {mine[i]}, expected {e8[i]} ±1");
            }
            for (int i = 0; i < mine.Length; i++) // the reduction itself, against the documented formula
                Assert.Equal((int)Math.Round(img.Rgba16![i] * 255.0 / 65535.0), mine[i]);
        }
        else
        {
            Assert.Equal(8, img.BitDepth);
            Assert.Null(img.Rgba16);
            Assert.Equal(expected, img.Rgba8!.Select(v => (int)v).ToArray());
            Assert.Equal(img.Rgba8, img.ToRgba8());
        }

        // The same bytes through the stream and in-memory entry points.
        var bytes = File.ReadAllBytes(path);
        var viaStream = FastIF.Imaging.Png.Read(new MemoryStream(bytes));
        var viaBytes = FastIF.Imaging.Png.Decode(bytes);
        Assert.Equal(img.ToRgba8(), viaStream.ToRgba8());
        Assert.Equal(img.ToRgba8(), viaBytes.ToRgba8());
    }

    [Theory]
    [MemberData(nameof(CorruptFiles))]
    public void CorruptFileFails(string name)
    {
        var path = Png(name);
        var e = Assert.Throws<PngException>(() => FastIF.Imaging.Png.Read(path));
        Assert.Contains(path, e.Message);
        Assert.Throws<PngException>(() => FastIF.Imaging.Png.Decode(File.ReadAllBytes(path)));
    }

    [Fact]
    public void SuiteIsComplete()
    {
        var dir = Fixtures.Require("png", "png");
        var files = Directory.GetFiles(dir, "*.png");
        Assert.Equal(175, files.Length); // PngSuite 2017: 161 valid + 14 corrupt
        Assert.Equal(14, files.Count(f => Path.GetFileName(f).StartsWith('x')));
    }

    [Theory]
    [InlineData("basn0g01.png", PngColorType.Gray, 1, false)]
    [InlineData("basi3p04.png", PngColorType.Indexed, 4, true)]
    [InlineData("basn6a16.png", PngColorType.Rgba, 16, false)]
    [InlineData("basi4a08.png", PngColorType.GrayAlpha, 8, true)]
    public void ReportsSourceFormat(string name, PngColorType color, int depth, bool interlaced)
    {
        var img = FastIF.Imaging.Png.Read(Fixtures.Require("png", "png", name));
        Assert.Equal((color, depth, interlaced), (img.SourceColorType, img.SourceBitDepth, img.SourceInterlaced));
        Assert.Equal((32, 32), (img.Width, img.Height));
    }
}
