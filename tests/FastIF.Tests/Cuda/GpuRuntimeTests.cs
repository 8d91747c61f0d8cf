using FastIF.Native;
using FastIF.Runtime;
using FastIF.Tensors;

namespace FastIF.Tests.Cuda;

[Collection("gpu")]
public unsafe class GpuRuntimeTests
{
    [Fact]
    public void ContextDescribesTheDevice()
    {
        var ctx = Gpu.Context;
        Assert.False(string.IsNullOrWhiteSpace(ctx.Name));
        Assert.InRange(ctx.ComputeMajor, 5, 20);
        Assert.True(ctx.MultiprocessorCount > 0);
        var (free, total) = ctx.MemoryInfo();
        Assert.Equal(ctx.TotalMemory, total);
        Assert.InRange(free, 1, total);
        Assert.True(ctx.DriverVersion >= 11000, $"driver API version {ctx.DriverVersion}");
    }

    [Fact]
    public void MemcpyRoundTripThroughDeviceAndDeviceToDevice()
    {
        var ctx = Gpu.Context;
        var data = Gpu.Random(100_003, out int seed);
        using var a = Gpu.Upload(ctx, data, "roundtrip a");
        using var b = ctx.Allocate(a.Bytes, "roundtrip b");
        CudaDriver.Check(CudaDriver.cuMemcpyDtoD_v2(b.Pointer, a.Pointer, (nuint)a.Bytes), "cuMemcpyDtoD_v2");
        Assert.True(data.AsSpan().SequenceEqual(Gpu.Download<float>(ctx, b, data.Length)), $"seed {seed}");
        CudaDriver.Check(CudaDriver.cuMemsetD32_v2(b.Pointer, BitConverter.SingleToUInt32Bits(1.5f), 1000), "cuMemsetD32_v2");
        var back = Gpu.Download<float>(ctx, b, 1001);
        Assert.All(back[..1000], v => Assert.Equal(1.5f, v));
        Assert.Equal(data[1000], back[1000]);
    }

    [Fact]
    public void PinnedStagingUploadsInChunks()
    {
        var ctx = Gpu.Context;
        var bytes = new byte[10_000];
        System.Random.Shared.NextBytes(bytes);
        using var dst = ctx.Allocate(20_000, "staging target");
        using var stream = ctx.CreateStream();
        using var staging = new PinnedStaging(ctx, 4096);
        staging.Upload(bytes, dst, 512, stream);
        var back = new byte[10_000];
        ctx.Download<byte>(dst, back, 512);
        Assert.Equal(bytes, back);
    }

    [Fact]
    public void OutOfMemoryNamesRequestAndLabel()
    {
        var ctx = Gpu.Context;
        var e = Assert.Throws<CudaOutOfMemoryException>(() => ctx.Allocate(ctx.TotalMemory * 4, "IF-I-XL 64x64 batch 4096"));
        Assert.Equal(ctx.TotalMemory * 4, e.RequestedBytes);
        Assert.Equal(ctx.TotalMemory, e.TotalBytes);
        Assert.InRange(e.FreeBytes, 1, ctx.TotalMemory);
        Assert.Contains("IF-I-XL 64x64 batch 4096", e.Message);
    }

    [Fact]
    public void ArenaBuffersAreDisjointDeviceRanges()
    {
        var ctx = Gpu.Context;
        ArenaBuffer[] buffers = [new("a", 4096, 256, 0, 2), new("b", 4096, 256, 1, 3), new("c", 4096, 256, 3, 4)];
        using var arena = DeviceArena.Create(ctx, ArenaPlanner.Plan(buffers), "arena smoke test");
        Assert.NotEqual(arena.Pointer(0), arena.Pointer(1));
        Assert.All(Enumerable.Range(0, 3), i => Assert.Equal(0ul, arena.Pointer(i) % 256));
        var data = Gpu.Random(1024, out _);
        ctx.Upload<float>(arena.Memory, data, (long)(arena.Pointer(1) - arena.Memory.Pointer));
        Assert.Equal(data, Gpu.Download<float>(ctx, arena.Memory, (int)(arena.Memory.Bytes / 4)).AsSpan((int)((arena.Pointer(1) - arena.Memory.Pointer) / 4), 1024).ToArray());
    }

    private static string TempCache() => Path.Combine(Path.GetTempPath(), "fastif-kcache-" + Guid.NewGuid().ToString("N"));

    [Fact]
    public void ElementwiseAddMatchesCpuAndIsCachedOnDisk()
    {
        var ctx = Gpu.Context;
        Gpu.Require(NativeLibraries.Nvrtc);
        var dir = TempCache();
        const int n = 100_003;
        var a = Gpu.Random(n, out int seed);
        var b = Gpu.Random(n, out _);
        using (var cache = new KernelCache(ctx, dir, prebuiltDir: "/nonexistent"))
        {
            var add = cache.GetFunction("elementwise.cu", "fastif_add_f32");
            Assert.Equal(KernelOrigin.Compiled, cache.OriginOf("elementwise.cu"));
            Assert.InRange(add.Registers, 1, 255);
            using var da = Gpu.Upload(ctx, a, "a");
            using var db = Gpu.Upload(ctx, b, "b");
            using var dout = ctx.Allocate(n * 4L, "out");
            using var stream = ctx.CreateStream();
            ulong pa = da.Pointer, pb = db.Pointer, po = dout.Pointer;
            long count = n;
            void** args = stackalloc void*[] { &pa, &pb, &po, &count };
            add.Launch(Gpu.Blocks(n), 256, stream, args);
            stream.Synchronize();
            var got = Gpu.Download<float>(ctx, dout, n);
            for (int i = 0; i < n; i++)
                if (got[i] != a[i] + b[i]) Assert.Fail($"seed {seed}: element {i}: {got[i]} != {a[i] + b[i]}");
        }
        using (var cache = new KernelCache(ctx, dir, prebuiltDir: "/nonexistent"))
            // The emulator's images name objects it caches itself, so KernelCache keeps no disk copy of them.
            Assert.Equal(NativeLibraries.IsEmulated ? KernelOrigin.Compiled : KernelOrigin.DiskCache, cache.OriginOf("elementwise.cu"));
        if (Directory.Exists(dir)) Directory.Delete(dir, true);
    }

    [Fact]
    public void ConversionKernelsMatchHostConversionsBitForBit()
    {
        var ctx = Gpu.Context;
        Gpu.Require(NativeLibraries.Nvrtc);
        var values = Gpu.Random(50_000, out int seed).Select((v, i) => v * MathF.Pow(2, i % 40 - 20)).ToList();
        values.AddRange([0f, -0f, float.PositiveInfinity, float.NegativeInfinity, float.NaN, 65504f, 65520f, 1e-8f, 6e-8f, 3.4e38f, 1.00390625f]);
        var src = values.ToArray();
        using var cache = new KernelCache(ctx, TempCache(), prebuiltDir: "/nonexistent");
        using var dsrc = Gpu.Upload(ctx, src, "convert src");
        using var d16 = ctx.Allocate(src.Length * 2L, "convert dst");
        using var stream = ctx.CreateStream();
        ulong ps = dsrc.Pointer, pd = d16.Pointer;
        long n = src.Length;
        void** args = stackalloc void*[] { &ps, &pd, &n };

        cache.GetFunction("convert.cu", "fastif_convert_f32_to_f16").Launch(Gpu.Blocks(n), 256, stream, args);
        stream.Synchronize();
        var half = Gpu.Download<ushort>(ctx, d16, src.Length);
        var wantHalf = Gpu.ToHalfBits(src);
        for (int i = 0; i < src.Length; i++)
            if (half[i] != wantHalf[i] && !(float.IsNaN(src[i]) && Half.IsNaN(BitConverter.UInt16BitsToHalf(half[i]))))
                Assert.Fail($"seed {seed}: f16({src[i]:R}) = 0x{half[i]:X4}, host 0x{wantHalf[i]:X4}");

        cache.GetFunction("convert.cu", "fastif_convert_f32_to_bf16").Launch(Gpu.Blocks(n), 256, stream, args);
        stream.Synchronize();
        var bf = Gpu.Download<ushort>(ctx, d16, src.Length);
        for (int i = 0; i < src.Length; i++)
        {
            ushort want = DTypeConvert.FloatToBFloat16(BitConverter.SingleToUInt32Bits(src[i]));
            if (bf[i] != want) Assert.Fail($"seed {seed}: bf16({src[i]:R}) = 0x{bf[i]:X4}, host 0x{want:X4}");
        }

        using var dback = ctx.Allocate(src.Length * 4L, "convert back");
        ulong pb = dback.Pointer;
        void** back = stackalloc void*[] { &pd, &pb, &n };
        cache.GetFunction("convert.cu", "fastif_convert_bf16_to_f32").Launch(Gpu.Blocks(n), 256, stream, back);
        stream.Synchronize();
        var widened = Gpu.Download<float>(ctx, dback, src.Length);
        for (int i = 0; i < src.Length; i++)
        {
            uint want = (uint)bf[i] << 16;
            Assert.Equal(want, BitConverter.SingleToUInt32Bits(widened[i]));
        }
    }

    [Fact]
    public void GraphCaptureReplaysAndUpdates()
    {
        var ctx = Gpu.Context;
        Gpu.Require(NativeLibraries.Nvrtc);
        const int n = 4099;
        var x = Gpu.Random(n, out int seed);
        var y0 = Gpu.Random(n, out _);
        using var cache = new KernelCache(ctx, TempCache(), prebuiltDir: "/nonexistent");
        var scaleAdd = cache.GetFunction("elementwise.cu", "fastif_scale_add_f32"); // load before capture
        using var dx = Gpu.Upload(ctx, x, "x");
        using var dy = Gpu.Upload(ctx, y0, "y");
        using var stream = ctx.CreateStream();
        ulong px = dx.Pointer, py = dy.Pointer;
        long count = n;

        CudaGraph Capture(float alpha) => CaptureScaleAdd(ctx, stream, scaleAdd, px, py, alpha, count);


        using var g2 = Capture(2f);
        using var exec = ctx.Instantiate(g2);
        // Capture records the launch without running it.
        Assert.Equal(y0, Gpu.Download<float>(ctx, dy, n));
        for (int r = 0; r < 3; r++) exec.Launch(stream);
        stream.Synchronize();
        var want = (float[])y0.Clone();
        for (int r = 0; r < 3; r++) for (int i = 0; i < n; i++) want[i] = MathF.FusedMultiplyAdd(2f, x[i], want[i]);
        Gpu.AssertClose(Gpu.Download<float>(ctx, dy, n), want, 1e-6, $"graph replay (seed {seed})");

        using var g3 = Capture(3f);
        Assert.True(exec.TryUpdate(g3), "cuGraphExecUpdate_v2 refused a graph differing only in a kernel argument");
        exec.Launch(stream);
        stream.Synchronize();
        for (int i = 0; i < n; i++) want[i] = MathF.FusedMultiplyAdd(3f, x[i], want[i]);
        Gpu.AssertClose(Gpu.Download<float>(ctx, dy, n), want, 1e-6, $"updated graph (seed {seed})");
    }

    private static CudaGraph CaptureScaleAdd(CudaContext ctx, CudaStream stream, CudaFunction scaleAdd, ulong px, ulong py, float alpha, long count)
    {
        void** args = stackalloc void*[] { &px, &py, &alpha, &count };
        ctx.BeginCapture(stream);
        scaleAdd.Launch(Gpu.Blocks(count), 256, stream, args);
        return ctx.EndCapture(stream);
    }

    [Fact]
    public void EventsTimeWork()
    {
        var ctx = Gpu.Context;
        using var stream = ctx.CreateStream();
        using var start = ctx.CreateEvent();
        using var end = ctx.CreateEvent();
        using var mem = ctx.Allocate(64L << 20, "event timing");
        start.Record(stream);
        CudaDriver.Check(CudaDriver.cuMemsetD8Async(mem.Pointer, 7, (nuint)mem.Bytes, stream.Value), "cuMemsetD8Async");
        end.Record(stream);
        end.Synchronize();
        Assert.InRange(end.ElapsedSince(start), 0.0001f, 10_000f);
    }
}
