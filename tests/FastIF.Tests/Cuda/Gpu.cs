using FastIF.Native;
using FastIF.Runtime;

namespace FastIF.Tests.Cuda;

/// <summary>Shared device context for GPU tests; skips with the probe's reason where no driver or device exists.</summary>
internal static class Gpu
{
    private static readonly Lazy<(CudaContext? Context, string? Reason)> Shared = new(() =>
    {
        if (!NativeLibraries.IsAvailable(NativeLibraries.Cuda)) return (null, "no CUDA driver: " + NativeLibraries.ProcessProbe(NativeLibraries.Cuda).Describe());
        try
        {
            int n = CudaContext.DeviceCount();
            return n == 0 ? (null, "the CUDA driver reports no device") : (CudaContext.Create(0), null);
        }
        catch (CudaException e) { return (null, "no usable GPU: " + e.Message); }
    });

    public static CudaContext Context
    {
        get
        {
            var (ctx, reason) = Shared.Value;
            if (ctx is null) Unavailable(reason!);
            ctx!.MakeCurrent();
            return ctx;
        }
    }

    public static void Require(string library)
    {
        if (!NativeLibraries.IsAvailable(library)) Unavailable(NativeLibraries.ProcessProbe(library).Describe());
    }

    /// <summary>
    /// Skips (or fails under a broken emulator) unless a device and every library the CUDA backend binds are present;
    /// creates nothing, so tests that drive the CLI's own backends need not touch the shared ones.
    /// </summary>
    public static void RequireCudaBackend()
    {
        _ = Context;
        Require(NativeLibraries.Nvrtc);
        Require(NativeLibraries.Cudnn);
        Require(NativeLibraries.Cublas);
        Require(NativeLibraries.CublasLt);
    }

    // Asked for the CUDA emulator and not given it: a run that skips every GPU test must not pass as a GPU run.
    private static void Unavailable(string reason)
    {
        if (NativeLibraries.IsEmulated) Assert.Fail($"{NativeLibraries.EmulatorVariable} is set but unusable: {reason}");
        Assert.Skip(reason);
    }

    /// <summary>Skips the test under the CUDA emulator (tools/cuda-emulator), saying why it cannot or need not run there.</summary>
    public static void SkipOnEmulator(string why)
    {
        if (NativeLibraries.IsEmulated) Assert.Skip($"{NativeLibraries.EmulatorVariable} is set: {why}");
    }

    /// <summary>Fresh random values in [-1, 1); the seed is returned so a failure can be reproduced.</summary>
    public static float[] Random(int n, out int seed)
    {
        seed = System.Random.Shared.Next();
        var rng = new Random(seed);
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float)(rng.NextDouble() * 2 - 1);
        return a;
    }

    /// <summary>Asserts relative L2 error ≤ <paramref name="tolerance"/>; any NaN/Inf fails.</summary>
    public static void AssertClose(ReadOnlySpan<float> got, ReadOnlySpan<float> want, double tolerance, string what)
    {
        Assert.Equal(want.Length, got.Length);
        double num = 0, den = 0;
        for (int i = 0; i < got.Length; i++)
        {
            if (!float.IsFinite(got[i])) Assert.Fail($"{what}: element {i} is {got[i]}");
            double d = got[i] - (double)want[i];
            num += d * d;
            den += (double)want[i] * want[i];
        }
        double rel = Math.Sqrt(num / Math.Max(den, 1e-30));
        Assert.True(rel <= tolerance, $"{what}: relative L2 error {rel:E3} > {tolerance:E1}");
        Assert.True(den > 0, $"{what}: reference is all zeros, the comparison proves nothing");
    }

    public static ushort[] ToHalfBits(ReadOnlySpan<float> x)
    {
        var r = new ushort[x.Length];
        for (int i = 0; i < x.Length; i++) r[i] = BitConverter.HalfToUInt16Bits((Half)x[i]);
        return r;
    }

    public static float[] FromHalfBits(ReadOnlySpan<ushort> h)
    {
        var r = new float[h.Length];
        for (int i = 0; i < h.Length; i++) r[i] = (float)BitConverter.UInt16BitsToHalf(h[i]);
        return r;
    }

    /// <summary>Rounds through fp16 (so CPU references see the same inputs the GPU does).</summary>
    public static float[] RoundHalf(ReadOnlySpan<float> x) => FromHalfBits(ToHalfBits(x));

    public static DeviceMemory Upload<T>(CudaContext ctx, T[] data, string label) where T : unmanaged
    {
        var mem = ctx.Allocate((long)data.Length * System.Runtime.CompilerServices.Unsafe.SizeOf<T>(), label);
        ctx.Upload<T>(mem, data);
        return mem;
    }

    public static T[] Download<T>(CudaContext ctx, DeviceMemory mem, int count) where T : unmanaged
    {
        var r = new T[count];
        ctx.Download<T>(mem, r);
        return r;
    }

    public static uint Blocks(long n) => (uint)Math.Clamp((n + 255) / 256, 1, 4096);
}
