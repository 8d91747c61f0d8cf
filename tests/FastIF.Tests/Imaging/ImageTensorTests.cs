using FastIF.Imaging;

namespace FastIF.Tests.Imaging;

/// <summary>CHW float [-1, 1] ⇄ interleaved RGB8 conversions.</summary>
public class ImageTensorTests
{
    /// <summary>Reference mapping in double precision, diffusers-style: round-half-even(clamp((x+1)/2) * 255).</summary>
    private static double RefScaled(float x) => Math.Clamp((x + 1.0) / 2.0, 0.0, 1.0) * 255.0;

    [Theory]
    [InlineData(-1f, 0)]
    [InlineData(1f, 255)]
    [InlineData(0f, 128)] // 127.5 rounds half to even
    [InlineData(-3f, 0)]
    [InlineData(7f, 255)]
    [InlineData(float.NaN, 0)]
    [InlineData(float.PositiveInfinity, 255)]
    [InlineData(float.NegativeInfinity, 0)]
    [InlineData(-0.99f, 1)] // 1.275
    [InlineData(0.5f, 191)] // 191.25
    public void ToByteMapsKnownValues(float x, int expected) => Assert.Equal(expected, ImageTensor.ToByte(x));

    [Fact]
    public void ChwToRgb8MatchesReferenceAndLayout()
    {
        int w = 5, h = 3, plane = w * h;
        var rng = new Random(11);
        var chw = new float[3 * plane];
        for (int i = 0; i < chw.Length; i++) chw[i] = (float)(rng.NextDouble() * 2.4 - 1.2);
        var rgb = ImageTensor.ChwToRgb8(chw, w, h);
        Assert.Equal(plane * 3, rgb.Length);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                for (int c = 0; c < 3; c++)
                {
                    float v = chw[c * plane + y * w + x];
                    double s = RefScaled(v);
                    if (Math.Abs(s - Math.Floor(s) - 0.5) < 1e-3) continue; // float vs double at a tie
                    Assert.Equal((byte)Math.Round(s, MidpointRounding.ToEven), rgb[(y * w + x) * 3 + c]);
                }
    }

    [Fact]
    public void Rgb8ToChwInvertsExactlyForEveryByte()
    {
        int w = 256, h = 1;
        var rgb = new byte[w * 3];
        for (int x = 0; x < w; x++) { rgb[x * 3] = (byte)x; rgb[x * 3 + 1] = (byte)(255 - x); rgb[x * 3 + 2] = (byte)(x * 7); }
        var chw = ImageTensor.Rgb8ToChw(rgb, w, h);
        for (int x = 0; x < w; x++)
        {
            Assert.Equal(x / 255.0 * 2 - 1, chw[x], 1e-6);
            Assert.Equal((255 - x) / 255.0 * 2 - 1, chw[w + x], 1e-6);
        }
        Assert.Equal(-1f, chw[0]);
        Assert.Equal(1f, chw[255]);
        Assert.Equal(rgb, ImageTensor.ChwToRgb8(chw, w, h));
    }

    [Fact]
    public void SpanOverloadsWriteIntoCallerBuffers()
    {
        var rgb = new byte[] { 0, 128, 255, 10, 20, 30 };
        var chw = new float[6];
        ImageTensor.Rgb8ToChw(rgb, 2, 1, chw);
        Assert.Equal(new[] { -1f, 10 / 255f * 2 - 1, 128 / 255f * 2 - 1, 20 / 255f * 2 - 1, 1f, 30 / 255f * 2 - 1 }, chw);
        var back = new byte[6];
        ImageTensor.ChwToRgb8(chw, 2, 1, back);
        Assert.Equal(rgb, back);
    }

    [Fact]
    public void SizeMismatchesThrowShapeException()
    {
        Assert.Throws<ShapeException>(() => ImageTensor.ChwToRgb8(new float[11], 2, 2));
        Assert.Throws<ShapeException>(() => ImageTensor.ChwToRgb8(new float[12], 2, 2, new byte[11]));
        Assert.Throws<ShapeException>(() => ImageTensor.Rgb8ToChw(new byte[12], 2, 2, new float[13]));
        Assert.Throws<ShapeException>(() => ImageTensor.Rgb8ToChw(new byte[0], 0, 2));
    }

    [Fact]
    public void PngOfAConvertedTensorReadsBackToTheSameBytes()
    {
        int w = 7, h = 4;
        var chw = new float[3 * w * h];
        for (int i = 0; i < chw.Length; i++) chw[i] = MathF.Sin(i * 0.37f);
        var rgb = ImageTensor.ChwToRgb8(chw, w, h);
        var img = Png.Decode(Png.Encode(w, h, PngColorType.Rgb, rgb));
        Assert.Equal(rgb, img.ToRgb8());
        var again = ImageTensor.Rgb8ToChw(img.ToRgb8(), w, h);
        for (int i = 0; i < chw.Length; i++) Assert.Equal(chw[i], again[i], 1.0 / 255 + 1e-6);
    }
}
