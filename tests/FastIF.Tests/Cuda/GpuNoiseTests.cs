using FastIF.Native;
using FastIF.Runtime;
using FastIF.Sampling;

namespace FastIF.Tests.Cuda;

/// <summary>The GPU Philox normal kernel produces exactly PhiloxNoise's stream (its CPU twin), bit for bit.</summary>
[Collection("gpu")]
public unsafe class GpuNoiseTests
{
    [Theory]
    [InlineData(0ul, 0ul, 1)]
    [InlineData(42ul, 1ul, 7)]
    [InlineData(0xDEADBEEFCAFEul, 12345ul, 1_000_003)]
    [InlineData(ulong.MaxValue, ulong.MaxValue, 4096)]
    public void KernelStreamIsTheCpuStreamBitForBit(ulong seed, ulong draw, int n)
    {
        var ctx = Gpu.Context;
        Gpu.Require(NativeLibraries.Nvrtc);
        using var cache = new KernelCache(ctx);
        var fn = cache.GetFunction("noise.cu", "fastif_philox_normal");
        using var dout = ctx.Allocate(n * 4L, "noise");
        using var stream = ctx.CreateStream();
        ulong s = seed, d = draw, po = dout.Pointer;
        long count = n;
        void** args = stackalloc void*[] { &s, &d, &po, &count };
        fn.Launch(Gpu.Blocks((n + 3) / 4), 256, stream, args);
        stream.Synchronize();
        var got = Gpu.Download<float>(ctx, dout, n);
        var want = new float[n];
        PhiloxNoise.Fill(seed, draw, want);
        for (int i = 0; i < n; i++)
            if (BitConverter.SingleToInt32Bits(got[i]) != BitConverter.SingleToInt32Bits(want[i]))
                Assert.Fail($"seed {seed} draw {draw}: element {i} is {got[i]:R} on the GPU, {want[i]:R} on the CPU");
    }
}
