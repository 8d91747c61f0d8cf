using FastIF.Native;
using FastIF.Runtime;

namespace FastIF.Tests.Cuda;

/// <summary>
/// The CUDA emulator (tools/cuda-emulator) refuses what a GPU refuses, so a pass on it means something: checked here
/// with mistakes that leave the process usable (a failed kernel would poison the shared context, as on a GPU).
/// Runs only under FASTIF_CUDA_EMULATOR.
/// </summary>
[Collection("gpu")]
public class CudaEmulatorTests
{
    private static CudaContext Emulated()
    {
        if (!NativeLibraries.IsEmulated) Assert.Skip($"{NativeLibraries.EmulatorVariable} is not set");
        return Gpu.Context;
    }

    [Fact]
    public unsafe void LaunchOverTheThreadLimitIsRefused()
    {
        var ctx = Emulated();
        using var cache = new KernelCache(ctx, Path.Combine(Path.GetTempPath(), "fastif-emu-" + Guid.NewGuid().ToString("N")), prebuiltDir: "/nonexistent");
        var add = cache.GetFunction("elementwise.cu", "fastif_add_f32");
        using var a = ctx.Allocate(1024 * 4, "a");
        using var stream = ctx.CreateStream();
        ulong pa = a.Pointer;
        long count = 1024;
        void** args = stackalloc void*[] { &pa, &pa, &pa, &count };
        var e = Assert.Throws<CudaException>(() => add.Launch(1, 2048, stream, args));
        Assert.Contains("INVALID_VALUE", e.Message);
        add.Launch(4, 256, stream, args); // the refusal poisoned nothing
        stream.Synchronize();
    }

    [Fact]
    public unsafe void CopyPastAnAllocationIsRefused()
    {
        var ctx = Emulated();
        using var small = ctx.Allocate(64, "small");
        var host = new float[32];
        // Straight to the driver: CudaContext.Download checks the range itself before the driver would.
        fixed (float* p = host)
            Assert.Equal(1, CudaDriver.cuMemcpyDtoH_v2(p, small.Pointer, 128)); // CUDA_ERROR_INVALID_VALUE
        fixed (float* p = host)
            Assert.Equal(0, CudaDriver.cuMemcpyDtoH_v2(p, small.Pointer, 64));
    }

    /// <summary>
    /// FastIF captures in THREAD_LOCAL mode: the capturing thread may not allocate (the capture is invalidated), another
    /// thread may, as the driver documents. Tests of two collections share the context and run in parallel.
    /// </summary>
    [Fact]
    public void ACaptureBindsOnlyTheThreadThatBeganIt()
    {
        var ctx = Emulated();
        using var stream = ctx.CreateStream();
        ctx.BeginCapture(stream);
        Exception? other = null;
        var thread = new Thread(() =>
        {
            try { using var m = ctx.Allocate(4096, "another thread during a capture"); }
            catch (Exception e) { other = e; }
        });
        thread.Start();
        thread.Join();
        var own = Record.Exception(() => ctx.Allocate(4096, "the capturing thread"));
        var end = Record.Exception(() => ctx.EndCapture(stream).Dispose());
        Assert.Null(other);
        Assert.Contains("STREAM_CAPTURE_UNSUPPORTED", Assert.IsType<CudaException>(own).Message);
        Assert.Contains("INVALIDATED", Assert.IsType<CudaException>(end).Message);
    }

    [Fact]
    public void TheDeviceSaysItIsNotAGpu()
    {
        var ctx = Emulated();
        Assert.Contains("emulator", ctx.Name, StringComparison.OrdinalIgnoreCase);
    }
}
