using FastIF.Backends;
using FastIF.Backends.Cuda;
using FastIF.Tensors;

namespace FastIF.Tests.Cuda;

/// <summary>
/// The tensor-core attention kernel (<see cref="AttentionKernel.Mma"/>, kernels/attention_mma.cu). Its host-side checks run
/// everywhere; its GPU cases compare it with the CPU reference and the cuBLAS path as <see cref="FlashAttentionGpuTests"/>
/// does, at fp16 and bf16. Until the kernel has run on a GPU, those cases run only in their own process
/// (FASTIF_MMA_TESTS=1, as tools/gpu-visit.sh does after the suite): a fault in an unproven kernel poisons its CUDA
/// context, and the suite's other GPU tests share that context.
/// </summary>
[Collection("gpu")]
public class MmaAttentionTests
{
    private static AttentionShape Shape(int batch, int nq, int heads, int d, int nk1, int nk2 = 0)
        => new(batch, nq, heads * d, nk1, nk2, d, 1);

    [Fact]
    public void TheKernelTakesOnlyWhatItsFragmentsAreLaidOutFor()
    {
        CudaBackend.CheckMmaAttention(Shape(2, 1024, 22, 64, 1024, 77), DType.F16);
        CudaBackend.CheckMmaAttention(Shape(2, 77, 64, 64, 77), DType.BF16);
        Assert.Contains("fp16 or bf16", Assert.Throws<ShapeException>(() => CudaBackend.CheckMmaAttention(Shape(1, 8, 2, 64, 8), DType.F32)).Message);
        Assert.Contains("head dim 64", Assert.Throws<ShapeException>(() => CudaBackend.CheckMmaAttention(Shape(1, 8, 2, 32, 8), DType.F16)).Message);
        Assert.Throws<ShapeException>(() => CudaBackend.CheckMmaAttention(Shape(1, 8, 70000, 64, 8), DType.F16));
    }

    public static TheoryData<string> Precisions() => ["fp16", "bf16"];

    private static void RequireOwnProcess()
    {
        if (Environment.GetEnvironmentVariable("FASTIF_MMA_TESTS") != "1")
            Assert.Skip("the tensor-core attention kernel has not run on a GPU yet: its cases run in their own process with FASTIF_MMA_TESTS=1");
    }

    [Theory, MemberData(nameof(Precisions))]
    public void SmallAndRaggedShapes(string p)
    {
        RequireOwnProcess();
        FlashAttentionGpuTests.Check(p, "one tile", 1, 16, 16, 0, 1, 64, 0.125f, kernel: AttentionKernel.Mma);
        FlashAttentionGpuTests.Check(p, "rows and keys off the tiles", 2, 77, 100, 0, 3, 64, 0.125f, kernel: AttentionKernel.Mma);
        FlashAttentionGpuTests.Check(p, "tiles crossing k/k2", 1, 130, 141, 77, 2, 64, 0.125f, kernel: AttentionKernel.Mma);
        FlashAttentionGpuTests.Check(p, "sharp scores", 1, 64, 64, 0, 2, 64, 1f, sharp: 3f, kernel: AttentionKernel.Mma);
    }

    [Theory, MemberData(nameof(Precisions))]
    public void ScoreBiasAndMaskedRows(string p)
    {
        RequireOwnProcess();
        int n = 2, heads = 4, l = 77;
        FlashAttentionGpuTests.Check(p, "per-item bias, masked keys and rows", n, l, l, 0, heads, 64, 1f,
            bias: FlashAttentionGpuTests.Bias(n, heads, l, l, keep: 12, 1, 4), kernel: AttentionKernel.Mma);
        FlashAttentionGpuTests.Check(p, "shared bias", n, l, l, 0, heads, 64, 1f, bias: FlashAttentionGpuTests.Bias(1, heads, l, l, keep: l),
            kernel: AttentionKernel.Mma);
    }

    [Theory, MemberData(nameof(Precisions))]
    public void IfSizedShapes(string p)
    {
        Gpu.SkipOnEmulator("IF-sized attention takes minutes on the emulator's one CPU thread; the small shapes run the same kernel there");
        RequireOwnProcess();
        FlashAttentionGpuTests.Check(p, "32x32 image + 77 text tokens", 2, 32 * 32, 32 * 32, 77, 4, 64, 0.125f, kernel: AttentionKernel.Mma);
        FlashAttentionGpuTests.Check(p, "8x8 image + 77 text tokens", 2, 64, 64, 77, 8, 64, 0.125f, kernel: AttentionKernel.Mma);
    }
}
