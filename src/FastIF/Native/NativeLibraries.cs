using System.Collections.Concurrent;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace FastIF.Native;

/// <summary>
/// Finds and loads the CUDA libraries for every <c>[LibraryImport]</c> in this assembly. One resolver handles the
/// logical names cuda, nvrtc, cublas, cublasLt and cudnn; search order: FASTIF_CUDA_PATH (colon-separated folders),
/// CUDA_PATH/CUDA_HOME (lib64, lib), /usr/local/cuda*/lib64 (newest first), the system loader (bare soname), then
/// Python wheel folders <c>site-packages/nvidia/*/lib</c> (found by globbing, never by running Python).
/// When <see cref="EmulatorVariable"/> names a file, every logical name resolves to that one library instead: FastIF's
/// CUDA emulator (tools/cuda-emulator), which runs the CUDA backend on the CPU for tests and is never a GPU.
/// </summary>
public static class NativeLibraries
{
    /// <summary>Logical name of the CUDA driver API (libcuda.so.1).</summary>
    public const string Cuda = "cuda";
    /// <summary>Logical name of NVRTC (libnvrtc.so.13/12/11.2).</summary>
    public const string Nvrtc = "nvrtc";
    /// <summary>Logical name of cuBLAS (libcublas.so.13/12/11).</summary>
    public const string Cublas = "cublas";
    /// <summary>Logical name of cuBLASLt (libcublasLt.so.13/12/11).</summary>
    public const string CublasLt = "cublasLt";
    /// <summary>Logical name of cuDNN (libcudnn.so.9/8; the 9.x front library exports the whole API).</summary>
    public const string Cudnn = "cudnn";

    /// <summary>Environment variable naming FastIF's CUDA emulator library (tools/cuda-emulator/build.sh builds it).</summary>
    public const string EmulatorVariable = "FASTIF_CUDA_EMULATOR";

    /// <summary>The emulator library this process resolves every CUDA library to, or null when it uses the real ones.</summary>
    public static string? EmulatorPath { get; } = Environment.GetEnvironmentVariable(EmulatorVariable) is { Length: > 0 } p ? p : null;

    /// <summary>
    /// True when the CUDA libraries are FastIF's CPU emulator: kernels and library calls run on the CPU, so results can be
    /// checked but no timing, register count or memory figure means anything about a GPU.
    /// </summary>
    public static bool IsEmulated => EmulatorPath is not null;

    /// <summary>Every logical name the resolver serves, in probe order.</summary>
    public static IReadOnlyList<string> LogicalNames { get; } = [Cuda, Nvrtc, Cublas, CublasLt, Cudnn];

    private static readonly ConcurrentDictionary<string, Lazy<(LibraryProbe Probe, nint Handle)>> Loaded = new();
    private static int _installed;

    /// <summary>File names tried for a logical name, newest first.</summary>
    public static string[] SonamesOf(string name) => name switch
    {
        Cuda => ["libcuda.so.1"],
        Nvrtc => ["libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2"],
        Cublas => ["libcublas.so.13", "libcublas.so.12", "libcublas.so.11"],
        CublasLt => ["libcublasLt.so.13", "libcublasLt.so.12", "libcublasLt.so.11"],
        Cudnn => ["libcudnn.so.9", "libcudnn.so.8"],
        _ => throw new ArgumentException($"unknown CUDA library '{name}'; expected one of {string.Join(", ", LogicalNames)}"),
    };

#pragma warning disable CA2255 // The resolver must exist before any binding in this assembly runs, whoever calls first.
    [ModuleInitializer]
    internal static void InstallFromModuleInitializer() => EnsureInstalled();
#pragma warning restore CA2255

    /// <summary>Registers the assembly's import resolver once (each binding class's static constructor calls this too).</summary>
    internal static void EnsureInstalled()
    {
        if (Interlocked.Exchange(ref _installed, 1) == 0)
            NativeLibrary.SetDllImportResolver(typeof(NativeLibraries).Assembly, Resolve);
    }

    private static nint Resolve(string libraryName, Assembly assembly, DllImportSearchPath? searchPath) =>
        LogicalNames.Contains(libraryName) ? Require(libraryName) : 0;

    /// <summary>Searches afresh for every library and reports what was found; never throws.</summary>
    public static IReadOnlyList<LibraryProbe> Probe() => LogicalNames.Select(Probe).ToList();

    /// <summary>Searches afresh for one library (logical name) and reports what was found; never throws.</summary>
    public static LibraryProbe Probe(string name)
    {
        try { return Search(name).Probe; }
        catch (Exception e) { return new LibraryProbe(name, false, null, null, [new ProbeAttempt("(search)", e.Message)]); }
    }

    /// <summary>True when the library resolves (searching once per process, as the bindings do).</summary>
    public static bool IsAvailable(string name) => Cached(name).Handle != 0;

    /// <summary>The probe the bindings use for this process (searched once, then cached).</summary>
    public static LibraryProbe ProcessProbe(string name) => Cached(name).Probe;

    /// <summary>The loaded library's handle; throws <see cref="CudaLibraryNotFoundException"/> listing every place tried.</summary>
    internal static nint Require(string name)
    {
        var (probe, handle) = Cached(name);
        return handle != 0 ? handle : throw new CudaLibraryNotFoundException(probe);
    }

    private static (LibraryProbe Probe, nint Handle) Cached(string name) =>
        Loaded.GetOrAdd(name, n => new Lazy<(LibraryProbe, nint)>(() =>
        {
            try { return Search(n); }
            catch (Exception e) { return (new LibraryProbe(n, false, null, null, [new ProbeAttempt("(search)", e.Message)]), 0); }
        })).Value;

    private static (LibraryProbe Probe, nint Handle) Search(string name)
    {
        var sonames = SonamesOf(name);
        var attempts = new List<ProbeAttempt>();
        if (EmulatorPath is { } emulator)
        {
            if (!File.Exists(emulator))
                attempts.Add(new ProbeAttempt(emulator, $"file absent ({EmulatorVariable}; build it with tools/cuda-emulator/build.sh)"));
            else if (TryLoad(System.IO.Path.GetFullPath(emulator), attempts, out var emu))
                return (new LibraryProbe(name, true, emulator, "FastIF CUDA emulator (CPU)", attempts), emu);
            return (new LibraryProbe(name, false, null, null, attempts), 0);
        }
        nint handle = 0;
        string? path = null;

        bool TryDir(string dir)
        {
            var present = sonames.Select(s => System.IO.Path.Combine(dir, s)).Where(File.Exists).ToList();
            if (present.Count == 0)
            {
                attempts.Add(new ProbeAttempt($"{dir}/{{{string.Join(",", sonames)}}}", "file absent"));
                return false;
            }
            foreach (var file in present)
            {
                PreloadCompanions(name, dir, file);
                if (TryLoad(file, attempts, out handle)) { path = file; return true; }
            }
            return false;
        }

        foreach (var dir in LibrarySearch.PreferredDirs())
            if (TryDir(dir)) goto found;
        foreach (var soname in sonames)
            if (TryLoad(soname, attempts, out handle)) { path = soname; goto found; }
        foreach (var dir in LibrarySearch.PythonWheelDirs())
            if (TryDir(dir)) goto found;
        return (new LibraryProbe(name, false, null, null, attempts), 0);

        found:
        return (new LibraryProbe(name, true, path, LibraryVersions.Query(name, handle), attempts), handle);
    }

    private static bool TryLoad(string pathOrSoname, List<ProbeAttempt> attempts, out nint handle)
    {
        try
        {
            handle = NativeLibrary.Load(pathOrSoname);
            attempts.Add(new ProbeAttempt(pathOrSoname, "loaded"));
            return true;
        }
        catch (Exception e) when (e is DllNotFoundException or BadImageFormatException)
        {
            attempts.Add(new ProbeAttempt(pathOrSoname, $"load error: {e.Message}"));
            handle = 0;
            return false;
        }
    }

    /// <summary>
    /// Libraries loaded from a private folder need their siblings: libcublas needs libcublasLt, and the cuDNN 9 front
    /// library dlopens its sub-libraries by soname. Loading the siblings first by full path lets the loader match them
    /// by soname later. Failures are ignored here; the main load reports them.
    /// </summary>
    private static void PreloadCompanions(string name, string dir, string file)
    {
        string[] companions = name switch
        {
            Cublas => [System.IO.Path.GetFileName(file).Replace("libcublas", "libcublasLt")],
            Cudnn when file.EndsWith(".so.9", StringComparison.Ordinal) =>
            [
                "libcudnn_graph.so.9", "libcudnn_engines_precompiled.so.9", "libcudnn_engines_runtime_compiled.so.9",
                "libcudnn_heuristic.so.9", "libcudnn_ops.so.9", "libcudnn_cnn.so.9", "libcudnn_adv.so.9",
            ],
            Cudnn => ["libcudnn_ops_infer.so.8", "libcudnn_cnn_infer.so.8"],
            _ => [],
        };
        foreach (var c in companions)
        {
            var p = System.IO.Path.Combine(dir, c);
            if (File.Exists(p)) NativeLibrary.TryLoad(p, out _);
        }
    }
}
