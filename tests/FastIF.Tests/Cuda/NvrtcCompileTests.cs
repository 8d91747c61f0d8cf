using System.Text;
using FastIF.Native;
using FastIF.Runtime;

namespace FastIF.Tests.Cuda;

/// <summary>Compiles every kernel source through our NVRTC binding; runs wherever NVRTC is installed (no GPU needed).</summary>
public class NvrtcCompileTests
{
    internal static void RequireLibrary(string name)
    {
        // These tests read PTX; the emulator's NVRTC builds host code (tools/cuda-emulator), so they cannot run under it.
        if (name == NativeLibraries.Nvrtc) Gpu.SkipOnEmulator("NVRTC is FastIF's CUDA emulator, which makes no PTX to inspect");
        if (NativeLibraries.IsAvailable(name)) return;
        // CI installs Debian's NVRTC (.ci/run): there the kernel compile checks must run, never skip.
        if (name == NativeLibraries.Nvrtc && Environment.GetEnvironmentVariable("CI") == "true")
            Assert.Fail("CI=true but NVRTC is missing: " + NativeLibraries.ProcessProbe(name).Describe());
        Assert.Skip(NativeLibraries.ProcessProbe(name).Describe());
    }

    public static TheoryData<string, string> SourcesAndArches()
    {
        var data = new TheoryData<string, string>();
        foreach (var f in Directory.EnumerateFiles(KernelDir(), "*.cu").Order(StringComparer.Ordinal))
            foreach (var arch in new[] { "sm_80", "sm_90" })
                data.Add(Path.GetFileName(f), arch);
        return data;
    }

    /// <summary>The repository's kernels/ folder, so a file missing from the embedded set is noticed.</summary>
    internal static string KernelDir()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "FastIF.sln")))
                return Path.Combine(dir.FullName, "kernels");
        throw new InvalidOperationException("repository root (FastIF.sln) not found above " + AppContext.BaseDirectory);
    }

    [Fact]
    public void EveryKernelFileIsEmbedded()
    {
        var onDisk = Directory.EnumerateFiles(KernelDir()).Select(Path.GetFileName).Where(n => n!.EndsWith(".cu") || n.EndsWith(".cuh"));
        Assert.Equal(onDisk.Order(StringComparer.Ordinal), KernelSources.All.Select(f => f.Name));
        foreach (var f in KernelSources.All)
            Assert.Equal(File.ReadAllBytes(Path.Combine(KernelDir(), f.Name)), f.Bytes);
    }

    [Theory]
    [MemberData(nameof(SourcesAndArches))]
    public void KernelCompilesToPtx(string source, string arch)
    {
        RequireLibrary(NativeLibraries.Nvrtc);
        var text = File.ReadAllText(Path.Combine(KernelDir(), source));
        int cc = KernelCompiler.ParseArch(arch);
        var r = KernelCompiler.Compile(source, text, KernelSources.Headers, arch, $"compute_{cc}");
        Assert.True(r.Success, $"{source} for {arch} failed:\n{r.Log}");
        Assert.True(r.PtxBytes > 100, $"{source}: only {r.PtxBytes} bytes of PTX");
        var ptx = Encoding.UTF8.GetString(r.Ptx);
        Assert.Contains($".target sm_{cc}", ptx);
        // Every extern "C" __global__ in the source must appear as an unmangled PTX entry.
        // Kernels stamped out per storage type by an export macro (name##SFX) are expanded with every suffix the file instantiates.
        var suffixes = System.Text.RegularExpressions.Regex.Matches(text, @"(?m)^FASTIF_EXPORT\((\w+),").Select(m => m.Groups[1].Value).ToList();
        var declared = System.Text.RegularExpressions.Regex.Matches(text, @"extern ""C"" __global__ void ([\w#]+)\(")
            .Select(m => m.Groups[1].Value)
            .SelectMany(n => n.EndsWith("##SFX") ? suffixes.Select(sfx => n[..^5] + sfx) : [n]).ToList();
        Assert.NotEmpty(declared);
        Assert.Equal(declared.Order(), r.Entries.Order());
    }

    [Theory]
    [InlineData("sm_80")]
    [InlineData("sm_90")]
    public void KernelCompilesToCubinForRealArch(string arch)
    {
        RequireLibrary(NativeLibraries.Nvrtc);
        int cc = KernelCompiler.ParseArch(arch);
        if (!Nvrtc.SupportedArchs().Contains(cc)) Assert.Skip($"NVRTC {Nvrtc.Version} cannot emit {arch} CUBIN");
        var src = KernelSources.Get("elementwise.cu");
        var output = Nvrtc.Compile(src.Text, src.Name, KernelSources.Headers, KernelCompiler.Options(arch));
        Assert.NotNull(output.Cubin);
        Assert.Equal(new byte[] { 0x7F, (byte)'E', (byte)'L', (byte)'F' }, output.Cubin![..4]);
    }

    [Fact]
    public void CompileAllReportsEverySourceForEveryArch()
    {
        RequireLibrary(NativeLibraries.Nvrtc);
        var results = KernelCompiler.CompileAll(["sm_80", "90"]);
        Assert.Equal(KernelSources.Sources.Count() * 2, results.Count);
        Assert.All(results, r => Assert.True(r.Success, $"{r.Name} {r.Arch}: {r.Log}"));
        Assert.All(results, r => Assert.True(r.CompileMs > 0));
    }

    [Fact]
    public void BrokenSourceFailsWithLogNamingTheError()
    {
        RequireLibrary(NativeLibraries.Nvrtc);
        const string bad = "extern \"C\" __global__ void k(float* p) { p[0] = undefined_symbol_xyz; }";
        var r = KernelCompiler.Compile("bad.cu", bad, new Dictionary<string, string>(), "sm_80", "compute_80");
        Assert.False(r.Success);
        Assert.Contains("undefined_symbol_xyz", r.Log);
        var e = Assert.Throws<NvrtcException>(() => Nvrtc.Compile(bad, "bad.cu", new Dictionary<string, string>(), KernelCompiler.Options("compute_80")));
        Assert.Equal("nvrtcCompileProgram", e.Call);
        Assert.Contains("NVRTC_ERROR_COMPILATION", e.Message);
        Assert.Contains("undefined_symbol_xyz", e.Message);
    }

    [Fact]
    public void ParseArchRejectsGarbage()
    {
        Assert.Equal(86, KernelCompiler.ParseArch("sm_86"));
        Assert.Equal(90, KernelCompiler.ParseArch("compute_90"));
        Assert.Throws<FastIFException>(() => KernelCompiler.ParseArch("hopper"));
    }
}
