using System.Diagnostics;
using System.Runtime.InteropServices;
using FastIF.Backends;
using FastIF.Backends.Cuda;
using FastIF.Native;
using FastIF.Runtime;

namespace FastIF.Benchmarking;

/// <summary>What a bench result records about where and how it ran: device, machine, versions, commit, peaks, memory.</summary>
public static class BenchEnvironment
{
    /// <summary>"AMD EPYC ... (2 threads)": the CPU model from /proc/cpuinfo and the thread count.</summary>
    public static string CpuName()
    {
        var model = File.Exists("/proc/cpuinfo")
            ? File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name"))?.Split(':', 2)[1].Trim() : null;
        return $"{model ?? "CPU"} ({Environment.ProcessorCount} threads)";
    }

    /// <summary>The device a backend runs on.</summary>
    public static string DeviceName(IBackend backend) => backend is CudaBackend c ? c.Context.Name : CpuName();

    /// <summary>The backend's precision as a bench result names it (the CPU computes in fp32).</summary>
    public static string Precision(IBackend backend) => backend is CudaBackend c ? c.Precision.ToString().ToLowerInvariant() switch
    {
        "f16" => "fp16", "bf16" => "bf16", "f32" => "fp32", var s => s,
    } : "fp32";

    /// <summary>OS, cores, runtime and CPU; on a GPU also the device, its memory, the driver and the CUDA libraries' versions.</summary>
    public static IReadOnlyDictionary<string, string?> Machine(IBackend backend)
    {
        var m = new Dictionary<string, string?>
        {
            ["os"] = RuntimeInformation.OSDescription,
            ["cores"] = Environment.ProcessorCount.ToString(),
            ["runtime"] = RuntimeInformation.FrameworkDescription,
            ["cpu"] = CpuName(),
            ["memory_bytes"] = File.Exists("/proc/meminfo") ? MemTotal() : null,
            // A shared machine's other work shows in its timings: the 1/5/15-minute load averages at the end of the run.
            ["loadavg"] = File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : null,
        };
        if (backend is CudaBackend c)
        {
            m["gpu"] = c.Context.Name;
            m["gpu_arch"] = c.Context.Arch;
            m["gpu_memory_bytes"] = c.Context.TotalMemory.ToString();
            m["cuda_driver_api"] = $"{c.Context.DriverVersion / 1000}.{c.Context.DriverVersion % 1000 / 10}";
            if (File.Exists("/proc/driver/nvidia/version"))
                m["nvidia_driver"] = File.ReadLines("/proc/driver/nvidia/version").FirstOrDefault()?.Trim();
            foreach (var lib in NativeLibraries.LogicalNames)
            {
                var p = NativeLibraries.ProcessProbe(lib);
                m[$"lib_{lib}"] = p.Found ? $"{p.Version ?? "version unknown"} ({p.Path})" : "not found";
            }
        }
        m["nvtx"] = Nvtx.Status;
        return m;
    }

    private static string? MemTotal()
    {
        var line = File.ReadLines("/proc/meminfo").FirstOrDefault(l => l.StartsWith("MemTotal:", StringComparison.Ordinal));
        var parts = line?.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        return parts is { Length: >= 2 } && long.TryParse(parts[1], out var kb) ? (kb * 1024).ToString() : null;
    }

    /// <summary>The commit measured: <c>$FASTIF_COMMIT</c>, else <c>git describe --always --dirty</c> here, else null.</summary>
    public static string? Commit()
    {
        var env = Environment.GetEnvironmentVariable("FASTIF_COMMIT");
        if (!string.IsNullOrEmpty(env)) return env;
        try
        {
            using var p = Process.Start(new ProcessStartInfo("git", "describe --always --dirty --abbrev=10")
            {
                RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
            });
            if (p == null) return null;
            var output = p.StandardOutput.ReadToEnd().Trim();
            if (!p.WaitForExit(5000)) { p.Kill(); return null; }
            return p.ExitCode == 0 && output.Length > 0 ? output : null;
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException or IOException)
        {
            return null; // no git here: the result says so with null
        }
    }

    /// <summary>The command line <c>fastif ARGS</c>, arguments with spaces quoted (the parsed arguments: in-process runs have no argv of their own).</summary>
    public static string Command(IEnumerable<string> args) =>
        string.Join(' ', new[] { "fastif" }.Concat(args.Select(a => a.Length == 0 || a.Any(char.IsWhiteSpace) || a.Contains('"') ? $"\"{a.Replace("\"", "\\\"")}\"" : a)));

    /// <summary>This CPU's peaks: FastIF's GEMM kernel on 1536³ and a 256 MiB copy.</summary>
    public static DevicePeaks CpuPeaksNow() =>
        new(CpuPeaks.GemmGflops() / 1000, CpuPeaks.CopyGBps(), "fp32 GEMM 1536^3 (FastIF's kernel), 256 MiB copy, medians of 5");

    /// <summary>A GPU's peaks: cuBLASLt GEMM 8192³ in the backend's precision and a 1 GiB device copy.</summary>
    public static DevicePeaks GpuPeaksNow(CudaBackend be)
    {
        var p = CudaUNetBench.MeasurePeaks(be);
        return new DevicePeaks(p.GemmTflops, p.CopyGBps, $"{Precision(be)} GEMM 8192^3 (cuBLASLt), 1 GiB device copy, medians of 10");
    }

    /// <summary>The peaks of the device a backend runs on.</summary>
    public static DevicePeaks PeaksNow(IBackend backend) => backend is CudaBackend c ? GpuPeaksNow(c) : CpuPeaksNow();

    /// <summary>Peak memory so far: host resident (VmHWM, mapped weight pages included), host anonymous now, and on a GPU the
    /// <paramref name="deviceBytes"/> given.</summary>
    public static IReadOnlyDictionary<string, long> PeakMemory(long peakAnonymous, long? deviceBytes = null)
    {
        var d = new Dictionary<string, long>
        {
            ["host_resident_hwm"] = ProcessMemory.PeakResidentBytes(),
            ["host_anonymous"] = Math.Max(peakAnonymous, ProcessMemory.AnonymousBytes()),
        };
        if (deviceBytes is { } b) d["device"] = b;
        return d;
    }

    /// <summary>Bytes of the files in a folder (recursively) whose names end with <paramref name="suffix"/>.</summary>
    public static long FileBytes(string dir, string suffix = ".safetensors") =>
        Directory.Exists(dir) ? Directory.EnumerateFiles(dir, "*" + suffix, SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length) : 0;
}
