using System.Reflection;
using System.Runtime.InteropServices;
using FastIF.Native;

namespace FastIF.Tests.Cuda;

/// <summary>Library search and reporting. Tests that set FASTIF_CUDA_PATH share one collection so they never race.</summary>
[Collection("env")]
public class LibraryDiscoveryTests
{
    private static T WithCudaPath<T>(string value, Func<T> body)
    {
        var old = Environment.GetEnvironmentVariable("FASTIF_CUDA_PATH");
        Environment.SetEnvironmentVariable("FASTIF_CUDA_PATH", value);
        try { return body(); }
        finally { Environment.SetEnvironmentVariable("FASTIF_CUDA_PATH", old); }
    }

    private static string TempDir()
    {
        var d = Path.Combine(Path.GetTempPath(), "fastif-probe-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(d);
        return d;
    }

    [Fact]
    public void ProbeReportsEveryLibraryWithoutThrowing()
    {
        var probes = NativeLibraries.Probe();
        Assert.Equal(["cuda", "nvrtc", "cublas", "cublasLt", "cudnn"], probes.Select(p => p.Name));
        foreach (var p in probes)
        {
            if (p.Found)
            {
                Assert.False(string.IsNullOrEmpty(p.Path));
                Assert.Equal("loaded", p.Attempts[^1].Outcome);
            }
            else
            {
                Assert.Null(p.Path);
                Assert.NotEmpty(p.Attempts);
                Assert.Contains("not found", p.Describe());
            }
        }
    }

    [Fact]
    public void FakeLibraryInCudaPathIsTriedFirstAndItsLoadErrorReported()
    {
        Gpu.SkipOnEmulator("the emulator replaces the library search");
        var dir = TempDir();
        var fake = Path.Combine(dir, "libcudnn.so.9");
        File.WriteAllText(fake, "this is not an ELF file");
        var probe = WithCudaPath(dir + ":/nonexistent-fastif-dir", () => NativeLibraries.Probe("cudnn"));
        Assert.Equal(fake, probe.Attempts[0].Place);
        Assert.StartsWith("load error:", probe.Attempts[0].Outcome);
        Assert.True(probe.Attempts[0].Outcome.Length > "load error: ".Length, "the loader's error text is missing");
        Assert.Contains(probe.Attempts, a => a.Place.StartsWith("/nonexistent-fastif-dir/") && a.Outcome == "file absent");
        if (!probe.Found) Assert.Contains(fake, probe.Describe());
        Directory.Delete(dir, true);
    }

    [Fact]
    public void RealLibraryFoundThroughCudaPathIsReportedWithVersion()
    {
        NvrtcCompileTests.RequireLibrary(NativeLibraries.Nvrtc);
        var real = NativeLibraries.ProcessProbe(NativeLibraries.Nvrtc).Path!;
        var resolved = Path.IsPathRooted(real) ? real : FindLoaded(real);
        if (resolved is null) Assert.Skip($"cannot tell which folder the loader took {real} from");
        var dir = TempDir();
        var link = Path.Combine(dir, Path.GetFileName(real)); // the soname the search looks for
        File.CreateSymbolicLink(link, resolved!);
        var probe = WithCudaPath(dir, () => NativeLibraries.Probe("nvrtc"));
        Assert.True(probe.Found, probe.Describe());
        Assert.Equal(link, probe.Path);
        Assert.Matches(@"^\d+\.\d+$", probe.Version);
        Directory.Delete(dir, true);
    }

    private static string? FindLoaded(string soname) =>
        File.ReadLines("/proc/self/maps").Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries).LastOrDefault())
            .FirstOrDefault(p => p != null && p.StartsWith('/') && Path.GetFileName(p) is var n && (n == soname || n.StartsWith(soname.Split(".so")[0] + ".so")));

    [Fact]
    public void PythonWheelFoldersAreFoundFromPythonPath()
    {
        var site = TempDir();
        var lib = Path.Combine(site, "nvidia", "cudnn", "lib");
        Directory.CreateDirectory(lib);
        var old = Environment.GetEnvironmentVariable("PYTHONPATH");
        Environment.SetEnvironmentVariable("PYTHONPATH", site);
        try { Assert.Contains(lib, LibrarySearch.PythonWheelDirs()); }
        finally { Environment.SetEnvironmentVariable("PYTHONPATH", old); Directory.Delete(site, true); }
    }

    [Fact]
    public void GlobExpandsWildcardSegments()
    {
        var root = TempDir();
        Directory.CreateDirectory(Path.Combine(root, "python3.11", "site-packages"));
        Directory.CreateDirectory(Path.Combine(root, "python3.12", "site-packages"));
        Directory.CreateDirectory(Path.Combine(root, "python2.7", "site-packages"));
        var found = LibrarySearch.Glob(Path.Combine(root, "python3*", "site-packages")).Order().ToList();
        Assert.Equal([Path.Combine(root, "python3.11", "site-packages"), Path.Combine(root, "python3.12", "site-packages")], found);
        Directory.Delete(root, true);
    }

    [Fact]
    public void MissingLibraryBindingCallThrowsTypedErrorListingPlaces()
    {
        if (NativeLibraries.IsAvailable(NativeLibraries.Cuda)) Assert.Skip("the CUDA driver is present here, so the missing-library path cannot be shown");
        var e = Assert.ThrowsAny<Exception>(() => FastIF.Runtime.CudaContext.DeviceCount());
        var typed = e as CudaLibraryNotFoundException ?? e.InnerException as CudaLibraryNotFoundException;
        Assert.True(typed != null, $"expected CudaLibraryNotFoundException, got {e.GetType().Name}: {e.Message}");
        Assert.Contains("libcuda.so.1", typed!.Message);
        Assert.Contains("FASTIF_CUDA_PATH", typed.Message);
    }

    [Fact]
    public void UnknownLogicalNameIsReportedNotThrown()
    {
        var p = NativeLibraries.Probe("cufft");
        Assert.False(p.Found);
        Assert.Contains("cufft", p.Attempts[0].Outcome);
    }
}

/// <summary>Every [LibraryImport] entry point must exist in the library the resolver loads.</summary>
public class BindingExportTests
{
    public static TheoryData<string> Libraries() => new(NativeLibraries.LogicalNames);

    internal static IEnumerable<(Type Type, string Entry)> EntryPoints(string library) =>
        typeof(NativeLibraries).Assembly.GetTypes()
            .Where(t => t.Namespace == "FastIF.Native")
            .SelectMany(t => t.GetMethods(BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly)
                .Select(m => (Type: t, Method: m, Attr: m.GetCustomAttribute<LibraryImportAttribute>())))
            .Where(x => x.Attr?.LibraryName == library)
            .Select(x => (x.Type, x.Attr!.EntryPoint ?? x.Method.Name));

    [Theory]
    [MemberData(nameof(Libraries))]
    public void EveryEntryPointIsExported(string library)
    {
        var entries = EntryPoints(library).ToList();
        Assert.NotEmpty(entries);
        if (!NativeLibraries.IsAvailable(library)) Assert.Skip(NativeLibraries.ProcessProbe(library).Describe());
        var handle = NativeLibraries.Require(library);
        var missing = entries.Where(e => !NativeLibrary.TryGetExport(handle, e.Entry, out _)).Select(e => $"{e.Type.Name}.{e.Entry}").ToList();
        Assert.True(missing.Count == 0, $"{NativeLibraries.ProcessProbe(library).Path} lacks: {string.Join(", ", missing)}");
    }

    [Fact]
    public unsafe void StructLayoutsMatchTheHeaders()
    {
        // Sizes computed by hand from cublasLt.h / cudnn_cnn.h / cuda.h for LP64.
        Assert.Equal(64, sizeof(CublasLtApi.MatmulAlgo));
        Assert.Equal(96, sizeof(CublasLtApi.HeuristicResult));
        Assert.Equal(48, sizeof(CudnnApi.ConvFwdAlgoPerf));
        Assert.Equal(16, (int)Marshal.OffsetOf<CudnnApi.ConvFwdAlgoPerf>(nameof(CudnnApi.ConvFwdAlgoPerf.Memory)));
        Assert.Equal(24, sizeof(CudaDriver.GraphExecUpdateResultInfo));
    }
}
