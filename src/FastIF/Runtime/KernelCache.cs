using System.Security.Cryptography;
using System.Text;
using FastIF.Native;

namespace FastIF.Runtime;

/// <summary>Where a kernel module came from.</summary>
public enum KernelOrigin
{
    /// <summary>A fatbin built by CMake/nvcc from the same sources (manifest matched).</summary>
    Prebuilt,
    /// <summary>A CUBIN/PTX compiled earlier by NVRTC and kept in the disk cache.</summary>
    DiskCache,
    /// <summary>Compiled by NVRTC in this process.</summary>
    Compiled,
}

/// <summary>
/// Loads the embedded kernels for the context's device: a matching prebuilt fatbin when present, otherwise NVRTC output
/// cached on disk (~/.cache/fastif/kernels or $FASTIF_CACHE) under a SHA-256 key of source + headers, target, NVRTC
/// version and options. Compiles for sm_XX (CUBIN) when NVRTC knows the device, else the newest compute_XX it knows (PTX).
/// </summary>
public sealed class KernelCache : IDisposable
{
    /// <summary>File name of the manifest CMake writes next to its fatbins.</summary>
    public const string ManifestFile = "fastif_kernels.sha256";

    private readonly CudaContext _context;
    private readonly Dictionary<string, (CudaModule Module, KernelOrigin Origin)> _modules = new();
    private readonly Dictionary<(string, string), CudaFunction> _functions = new();
    private readonly string? _prebuiltDir;
    private readonly Lock _lock = new();

    /// <summary>Creates the cache; <paramref name="cacheDir"/> and <paramref name="prebuiltDir"/> override the defaults.</summary>
    public KernelCache(CudaContext context, string? cacheDir = null, string? prebuiltDir = null)
    {
        _context = context;
        CacheDir = cacheDir ?? DefaultCacheDir();
        _prebuiltDir = prebuiltDir ?? FindPrebuiltDir();
    }

    /// <summary>The folder compiled kernels are cached in.</summary>
    public string CacheDir { get; }

    /// <summary>The default cache folder: $FASTIF_CACHE/kernels, else ~/.cache/fastif/kernels.</summary>
    public static string DefaultCacheDir()
    {
        var env = Environment.GetEnvironmentVariable("FASTIF_CACHE");
        if (!string.IsNullOrEmpty(env)) return Path.Combine(env, "kernels");
        var home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        return Path.Combine(home, ".cache", "fastif", "kernels");
    }

    /// <summary>A kernel by source file and <c>extern "C"</c> name, loading the module on first use.</summary>
    public CudaFunction GetFunction(string source, string kernel)
    {
        lock (_lock)
        {
            if (_functions.TryGetValue((source, kernel), out var f)) return f;
            f = GetModuleLocked(source).Module.GetFunction(kernel);
            _functions[(source, kernel)] = f;
            return f;
        }
    }

    /// <summary>Where the module for <paramref name="source"/> came from (loads it if needed).</summary>
    public KernelOrigin OriginOf(string source)
    {
        lock (_lock) return GetModuleLocked(source).Origin;
    }

    /// <summary>The NVRTC target for a compute capability: sm_XX when supported, else the newest compute_YY ≤ XX.</summary>
    public static string TargetFor(int cc, IReadOnlyList<int> supported)
    {
        if (supported.Contains(cc)) return $"sm_{cc}";
        var lower = supported.Where(a => a <= cc).ToList();
        return lower.Count > 0 ? $"compute_{lower.Max()}"
            : throw new FastIFException($"NVRTC supports {string.Join(",", supported)}, nothing at or below device sm_{cc}");
    }

    /// <summary>The disk-cache key: SHA-256 over source, headers (by name), target, NVRTC version and options.</summary>
    public static string CacheKey(string source, IReadOnlyDictionary<string, string> headers, string target, string nvrtcVersion, IReadOnlyList<string> options)
    {
        var sb = new StringBuilder();
        sb.Append("source\0").Append(source).Append('\0');
        foreach (var (name, text) in headers.OrderBy(h => h.Key, StringComparer.Ordinal)) sb.Append("header\0").Append(name).Append('\0').Append(text).Append('\0');
        sb.Append("target\0").Append(target).Append("\0nvrtc\0").Append(nvrtcVersion).Append("\0options\0").AppendJoin('\0', options);
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(sb.ToString())));
    }

    private (CudaModule Module, KernelOrigin Origin) GetModuleLocked(string source)
    {
        if (_modules.TryGetValue(source, out var m)) return m;
        var file = KernelSources.Get(source);
        m = TryPrebuilt(source) ?? LoadCompiled(file);
        _modules[source] = m;
        return m;
    }

    private (CudaModule, KernelOrigin)? TryPrebuilt(string source)
    {
        if (_prebuiltDir is null) return null;
        var fatbin = Path.Combine(_prebuiltDir, source + ".fatbin");
        var manifest = Path.Combine(_prebuiltDir, ManifestFile);
        if (!File.Exists(fatbin) || !File.Exists(manifest) || File.ReadAllText(manifest) != KernelSources.Manifest()) return null;
        try { return (_context.LoadModule(File.ReadAllBytes(fatbin), fatbin), KernelOrigin.Prebuilt); }
        catch (CudaException) { return null; } // e.g. no image for this device's architecture: fall back to NVRTC
    }

    private (CudaModule, KernelOrigin) LoadCompiled(KernelFile file)
    {
        var (major, minor) = Nvrtc.Version;
        string target = TargetFor(_context.ComputeMajor * 10 + _context.ComputeMinor, Nvrtc.SupportedArchs());
        var options = KernelCompiler.Options(target);
        var headers = KernelSources.Headers;
        string key = CacheKey(file.Text, headers, target, $"{major}.{minor}", options);
        bool cubin = target.StartsWith("sm_", StringComparison.Ordinal);
        var path = Path.Combine(CacheDir, $"{Path.GetFileNameWithoutExtension(file.Name)}-{target}-{key[..16]}.{(cubin ? "cubin" : "ptx")}");
        // The emulator's images name objects it caches itself, keyed by its own device header too, which this key lacks.
        bool diskCache = !NativeLibraries.IsEmulated;
        if (diskCache && File.Exists(path))
        {
            try { return (_context.LoadModule(File.ReadAllBytes(path), path), KernelOrigin.DiskCache); }
            catch (CudaException) { /* a corrupt or foreign cache entry: recompile and overwrite it */ }
        }
        var output = Nvrtc.Compile(file.Text, file.Name, headers, options);
        var image = cubin && output.Cubin is not null ? output.Cubin : output.Ptx;
        var module = _context.LoadModule(image, $"{file.Name} for {target}");
        if (diskCache) TryWrite(path, image);
        return (module, KernelOrigin.Compiled);
    }

    private static void TryWrite(string path, byte[] image)
    {
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            // Unique per writer: two backends of one process (a CLI run beside the GPU tests) may cache the same kernel.
            var tmp = $"{path}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp";
            File.WriteAllBytes(tmp, image);
            File.Move(tmp, path, overwrite: true);
        }
        catch (IOException) { } // the cache is an optimization; a read-only home must not break kernel loading
        catch (UnauthorizedAccessException) { }
    }

    private static string? FindPrebuiltDir()
    {
        var env = Environment.GetEnvironmentVariable("FASTIF_KERNELS_DIR");
        if (!string.IsNullOrEmpty(env)) return env;
        var candidates = new List<string> { Path.Combine(AppContext.BaseDirectory, "kernels"), AppContext.BaseDirectory };
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "FastIF.sln"))) { candidates.Add(Path.Combine(dir.FullName, "build", "kernels")); break; }
        return candidates.FirstOrDefault(d => File.Exists(Path.Combine(d, ManifestFile)));
    }

    /// <summary>Unloads every module.</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            foreach (var (module, _) in _modules.Values) module.Dispose();
            _modules.Clear();
            _functions.Clear();
        }
    }
}
