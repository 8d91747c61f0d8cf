using FastIF.Backends.Cuda;
using FastIF.Tensors;

namespace FastIF.Tests.Cuda;

/// <summary>The CUDA backend's host-side logic, testable without a GPU: the layout gather's index arithmetic (against an
/// independent NCHW/NHWC indexing) and the activation pool's size classes.</summary>
public class CudaLayoutTests
{
    [Theory]
    [InlineData(2, 3, 4, 5)]
    [InlineData(1, 1, 1, 1)]
    [InlineData(3, 7, 1, 9)]
    [InlineData(16, 8, 3, 3)] // a conv weight OIHW -> OHWI is the same permutation
    public void ToDeviceIsNhwcAndBackIsTheInverse(int n, int c, int h, int w)
    {
        var shape = new Shape(n, c, h, w);
        var nchw = Enumerable.Range(0, n * c * h * w).ToArray();
        var nhwc = new int[nchw.Length];
        ChannelsLast.For(shape, toDevice: true).Apply<int>(nchw, nhwc);
        for (int b = 0; b < n; b++)
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++)
                    for (int ch = 0; ch < c; ch++)
                        Assert.Equal(((b * c + ch) * h + y) * w + x, nhwc[((b * h + y) * w + x) * c + ch]);
        var back = new int[nchw.Length];
        ChannelsLast.For(shape, toDevice: false).Apply<int>(nhwc, back);
        Assert.Equal(nchw, back);
    }

    [Theory]
    [InlineData(new[] { 7 })]
    [InlineData(new[] { 2, 77, 64 })]
    [InlineData(new[] { 3, 5 })]
    public void OtherRanksAreCopiedAsIs(int[] dims)
    {
        var shape = new Shape(dims);
        var src = Enumerable.Range(0, (int)shape.Elements).ToArray();
        var dst = new int[src.Length];
        ChannelsLast.For(shape, toDevice: true).Apply<int>(src, dst);
        Assert.Equal(src, dst);
    }

    [Fact]
    public void PoolSizeClassesCoverTheRequestAndShareNearSizes()
    {
        var rng = new Random(1);
        for (int i = 0; i < 10_000; i++)
        {
            long bytes = i < 2000 ? i : (long)(Math.Exp(rng.NextDouble() * 34));
            long r = DevicePool.Round(bytes);
            Assert.True(r >= Math.Max(bytes, 1), $"{bytes} rounds down to {r}");
            Assert.Equal(r, DevicePool.Round(r));
            long granule = r <= 1 << 20 ? 512 : 1 << 20;
            Assert.True(r % granule == 0, $"{bytes} -> {r} is not a multiple of {granule}");
            Assert.True(r - Math.Max(bytes, 1) < granule, $"{bytes} -> {r} wastes a whole granule");
        }
        Assert.Equal(DevicePool.Round(1000), DevicePool.Round(1024));
        Assert.Equal(2L << 20, DevicePool.Round((1 << 20) + 1));
    }
}
