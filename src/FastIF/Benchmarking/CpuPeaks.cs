using System.Diagnostics;
using FastIF.Backends.Cpu;

namespace FastIF.Benchmarking;

/// <summary>
/// Measured peaks of this CPU, for roofline floors: the GEMM rate of the backend's own kernel on a large square
/// problem (what a perfectly fused UNet could at best sustain) and the copy bandwidth of a large buffer.
/// </summary>
public static class CpuPeaks
{
    /// <summary>Median GFLOP/s of <paramref name="repeats"/> n×n×n GEMMs after one warm-up.</summary>
    public static double GemmGflops(int n = 1536, int repeats = 5)
    {
        var a = new float[n * n];
        var b = new float[n * n];
        var c = new float[n * n];
        for (int i = 0; i < a.Length; i++) { a[i] = (i % 13) * 0.01f; b[i] = (i % 7) * 0.02f; }
        CpuGemm.Gemm(n, n, n, a, n, false, b, n, false, c, n, false);
        var t = new double[repeats];
        for (int r = 0; r < repeats; r++)
        {
            var sw = Stopwatch.StartNew();
            CpuGemm.Gemm(n, n, n, a, n, false, b, n, false, c, n, false);
            t[r] = sw.Elapsed.TotalSeconds;
        }
        Array.Sort(t);
        return 2.0 * n * n * n / t[repeats / 2] / 1e9;
    }

    /// <summary>Median GB/s (read + write) of copying a 256 MiB buffer.</summary>
    public static double CopyGBps(int repeats = 5)
    {
        var src = new byte[256 << 20];
        var dst = new byte[src.Length];
        src.AsSpan().Fill(1);
        src.CopyTo(dst, 0);
        var t = new double[repeats];
        for (int r = 0; r < repeats; r++)
        {
            var sw = Stopwatch.StartNew();
            src.CopyTo(dst, 0);
            t[r] = sw.Elapsed.TotalSeconds;
        }
        Array.Sort(t);
        return 2.0 * src.Length / t[repeats / 2] / 1e9;
    }
}
