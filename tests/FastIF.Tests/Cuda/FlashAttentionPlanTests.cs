using FastIF.Backends;
using FastIF.Backends.Cuda;

namespace FastIF.Tests.Cuda;

/// <summary>The flash kernel's launch plan: limits of the kernel's register arrays, shared memory, grid coverage.</summary>
public class FlashAttentionPlanTests
{
    private static AttentionShape Shape(int batch, int nq, int heads, int d, int nk1 = 77, int nk2 = 0) =>
        new(batch, nq, heads * d, nk1, nk2, d, 0);

    [Fact]
    public void EveryHeadDimFitsTheKernelAndDefaultSharedMemory()
    {
        foreach (int d in Enumerable.Range(1, FlashAttentionPlan.MaxHeadDim))
        {
            var p = FlashAttentionPlan.For(Shape(2, 100, 3, d));
            Assert.True(p.SharedBytes <= FlashAttentionPlan.DefaultSharedLimit, $"d {d}: {p.SharedBytes} bytes of shared memory need the opt-in");
            Assert.Equal(0, p.BlockQ % FlashAttentionPlan.Warps);
            Assert.InRange(p.BlockQ / FlashAttentionPlan.Warps, 1, 8);
            Assert.Contains(p.BlockK, new[] { 32, 64 });
            Assert.Equal(d, p.HeadDim);
            // Q tile [BQ][d], K tile [BK][d+1], V tile [BK][d], fp32, back to back.
            Assert.Equal(4 * (p.BlockQ * d + p.BlockK * (d + 1) + p.BlockK * d), p.SharedBytes);
            Assert.Equal(p.ValueTileOffset + p.BlockK * d, p.SharedBytes / 4);
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(31)]
    [InlineData(32)]
    [InlineData(33)]
    [InlineData(77)]
    [InlineData(4096)]
    public void GridCoversEveryQueryRowOnce(int nq)
    {
        foreach (int d in new[] { 32, 64, 128 })
        {
            var p = FlashAttentionPlan.For(Shape(2, nq, 5, d));
            Assert.True((long)p.GridX * p.BlockQ >= nq, $"{p} misses rows of {nq}");
            Assert.True((long)(p.GridX - 1) * p.BlockQ < nq, $"{p} launches a block with no row of {nq}");
            Assert.Equal(2u * 5u, p.GridY);
        }
    }

    [Fact]
    public void IfSizedSelfAttentionPlan()
    {
        // IF's UNet at 64x64 with 64-channel heads: 4096 queries in 32-row tiles, 64-key tiles.
        var p = FlashAttentionPlan.For(Shape(2, 64 * 64, 10, 64, nk1: 4096, nk2: 77));
        Assert.Equal((32, 64, 128u, 20u), (p.BlockQ, p.BlockK, p.GridX, p.GridY));
    }

    [Fact]
    public void ShapesTheKernelCannotTakeAreRefused()
    {
        var e = Assert.Throws<ShapeException>(() => FlashAttentionPlan.For(Shape(1, 10, 2, 160)));
        Assert.Contains("160", e.Message);
        Assert.Contains("AttentionKernel", e.Message);
        Assert.Throws<ShapeException>(() => FlashAttentionPlan.For(Shape(70000, 10, 1, 64)));
        Assert.Throws<ShapeException>(() => FlashAttentionPlan.For(Shape(1, 0, 1, 64)));
    }

    [Fact]
    public void KernelLimitsAreThePlansLimits()
    {
        // The kernel's register arrays are sized by its #defines; the plan must never ask for more.
        var text = File.ReadAllText(Path.Combine(NvrtcCompileTests.KernelDir(), "attention.cu"));
        int Define(string name)
        {
            var m = System.Text.RegularExpressions.Regex.Match(text, $@"(?m)^#define {name} (\d+)");
            Assert.True(m.Success, $"attention.cu has no #define {name}");
            return int.Parse(m.Groups[1].Value);
        }
        Assert.Equal(FlashAttentionPlan.Warps, Define("FLASH_WARPS"));
        Assert.Equal(FlashAttentionPlan.MaxHeadDim, Define("FLASH_MAX_D"));
        Assert.Equal(FlashAttentionPlan.MaxBlockQ, Define("FLASH_MAX_ROWS") * Define("FLASH_WARPS"));
        Assert.Equal(FlashAttentionPlan.MaxBlockK, Define("FLASH_MAX_KEY_SLOTS") * 32);
        foreach (int d in Enumerable.Range(1, FlashAttentionPlan.MaxHeadDim))
        {
            var p = FlashAttentionPlan.For(Shape(1, 10, 1, d));
            Assert.InRange(p.BlockQ, FlashAttentionPlan.Warps, FlashAttentionPlan.MaxBlockQ);
            Assert.InRange(p.BlockK, 32, FlashAttentionPlan.MaxBlockK);
        }
    }

    [Fact]
    public void GemmStaysTheDefault()
    {
        Assert.Equal(AttentionKernel.Gemm, new CudaBackendOptions().AttentionKernel);
        Assert.Equal(AttentionKernel.Flash, new CudaBackendOptions(AttentionKernel: AttentionKernel.Flash).AttentionKernel);
    }
}
