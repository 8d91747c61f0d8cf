using System.CommandLine;
using System.Security.Cryptography;
using FastIF.Cli.Commands;
using FastIF.Native;
using FastIF.Runtime;

namespace FastIF.Tests.Cuda;

/// <summary>CPU-side kernel cache logic and the <c>fastif kernels</c> command.</summary>
public class KernelCacheTests
{
    [Fact]
    public void TargetIsRealArchWhenSupportedElseNewestLowerPtx()
    {
        Assert.Equal("sm_90", KernelCache.TargetFor(90, [75, 80, 86, 89, 90]));
        Assert.Equal("compute_90", KernelCache.TargetFor(100, [75, 80, 86, 89, 90]));
        Assert.Equal("compute_86", KernelCache.TargetFor(87, [80, 86, 90]));
        Assert.Throws<FastIFException>(() => KernelCache.TargetFor(70, [75, 80]));
    }

    [Fact]
    public void CacheKeyChangesWithEveryInput()
    {
        var h = new Dictionary<string, string> { ["a.cuh"] = "x" };
        string k = KernelCache.CacheKey("src", h, "sm_90", "13.0", ["-O3"]);
        Assert.Equal(64, k.Length);
        Assert.Equal(k, KernelCache.CacheKey("src", new Dictionary<string, string> { ["a.cuh"] = "x" }, "sm_90", "13.0", ["-O3"]));
        Assert.NotEqual(k, KernelCache.CacheKey("src2", h, "sm_90", "13.0", ["-O3"]));
        Assert.NotEqual(k, KernelCache.CacheKey("src", new Dictionary<string, string> { ["a.cuh"] = "y" }, "sm_90", "13.0", ["-O3"]));
        Assert.NotEqual(k, KernelCache.CacheKey("src", h, "sm_80", "13.0", ["-O3"]));
        Assert.NotEqual(k, KernelCache.CacheKey("src", h, "sm_90", "12.8", ["-O3"]));
        Assert.NotEqual(k, KernelCache.CacheKey("src", h, "sm_90", "13.0", ["-O2"]));
    }

    [Fact]
    public void ManifestIsSha256sumOfTheKernelFiles()
    {
        var dir = NvrtcCompileTests.KernelDir();
        var files = Directory.EnumerateFiles(dir).Where(f => f.EndsWith(".cu") || f.EndsWith(".cuh")).OrderBy(Path.GetFileName, StringComparer.Ordinal);
        var expected = string.Concat(files.Select(f => $"{Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(f)))}  {Path.GetFileName(f)}\n"));
        Assert.Equal(expected, KernelSources.Manifest());
    }

    private static int RunKernels(params string[] args)
    {
        var root = new RootCommand("test");
        root.Subcommands.Add(KernelsCommand.Create());
        return root.Parse(["kernels", .. args]).Invoke();
    }

    [Fact]
    public void KernelsCommandSucceedsForValidArchs()
    {
        NvrtcCompileTests.RequireLibrary(NativeLibraries.Nvrtc);
        Assert.Equal(0, RunKernels("--arch", "sm_80"));
    }

    [Fact]
    public void KernelsCommandFailsForInvalidArch()
    {
        NvrtcCompileTests.RequireLibrary(NativeLibraries.Nvrtc);
        Assert.NotEqual(0, RunKernels("--arch", "sm_80,volta"));
    }
}
