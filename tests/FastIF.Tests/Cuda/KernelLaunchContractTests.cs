using System.Text;
using System.Text.RegularExpressions;
using FastIF.Native;
using FastIF.Runtime;

namespace FastIF.Tests.Cuda;

/// <summary>
/// Every kernel launch the CUDA backend's source makes, held to the compiled kernel without a GPU: the launch sites are
/// read from the C# source (each <c>new KernelArgs()…</c> chain and the kernel it launches), the kernels' parameter lists
/// from the PTX NVRTC makes of kernels/*.cu, and the two must agree in count and in kind at every position
/// (<c>Ptr</c>/<c>I64</c> = 64-bit, <c>I32</c> = 32-bit integer, <c>F32</c> = float). A launch that drifted from its kernel
/// would otherwise only show on a GPU as garbage or a fault.
/// </summary>
public class KernelLaunchContractTests
{
    private sealed record Site(string File, int Line, string Kernel, bool PerStorageType, string[] Args);

    private static string SourceDir()
    {
        var kernels = NvrtcCompileTests.KernelDir();
        return Path.Combine(Path.GetDirectoryName(kernels)!, "src", "FastIF", "Backends", "Cuda");
    }

    /// <summary>Kernel name → PTX parameter types (".u64", ".u32", ".f32", ...), from every kernel source.</summary>
    private static Dictionary<string, string[]> PtxEntries()
    {
        var entries = new Dictionary<string, string[]>();
        foreach (var src in KernelSources.Sources)
        {
            var r = KernelCompiler.Compile(src.Name, src.Text, KernelSources.Headers, "sm_80", "compute_80");
            Assert.True(r.Success, $"{src.Name}: {r.Log}");
            var ptx = Encoding.UTF8.GetString(r.Ptx);
            foreach (Match m in Regex.Matches(ptx, @"\.entry (\w+)\(([^)]*)\)"))
                entries[m.Groups[1].Value] = Regex.Matches(m.Groups[2].Value, @"\.param\s+(\.\w+)").Select(p => p.Groups[1].Value).ToArray();
        }
        return entries;
    }

    /// <summary>The launch sites: <c>new KernelArgs()</c> chains followed by <c>.Launch(Fn("x")</c> / <c>.Launch(FnRaw("x")</c>, or
    /// preceded by <c>Launch("x", </c> (the step kernels' checked launch).</summary>
    private static List<Site> LaunchSites()
    {
        var sites = new List<Site>();
        foreach (var file in Directory.EnumerateFiles(SourceDir(), "*.cs"))
        {
            var text = File.ReadAllText(file);
            bool step = Path.GetFileName(file) == "CudaStepKernels.cs";
            for (int at = text.IndexOf("new KernelArgs()", StringComparison.Ordinal); at >= 0; at = text.IndexOf("new KernelArgs()", at + 1, StringComparison.Ordinal))
            {
                int i = at + "new KernelArgs()".Length;
                var args = new List<string>();
                while (true)
                {
                    int j = SkipSpace(text, i);
                    var m = Regex.Match(text[j..], @"^\.(Ptr|I32|I64|F32)\(");
                    if (!m.Success) break;
                    args.Add(m.Groups[1].Value);
                    i = Balanced(text, j + m.Length - 1);
                }
                int line = text[..at].Count(c => c == '\n') + 1;
                var tail = Regex.Match(text[SkipSpace(text, i)..], @"^\.Launch\((Fn|FnRaw)\(""(\w+)""(\)|,)");
                var head = Regex.Match(text[Math.Max(0, at - 80)..at], @"Launch\(""(\w+)"",\s*$");
                if (tail.Success) sites.Add(new Site(Path.GetFileName(file), line, tail.Groups[2].Value, tail.Groups[1].Value == "Fn", [.. args]));
                else if (step && head.Success) sites.Add(new Site(Path.GetFileName(file), line, "fastif_step_" + head.Groups[1].Value, false, [.. args]));
                else Assert.Fail($"{Path.GetFileName(file)}:{line}: a KernelArgs chain whose kernel this test cannot find; launch through Fn(\"name\"), FnRaw(\"name\") or the step kernels' Launch(\"name\", …)");
            }
        }
        return sites;
    }

    private static int SkipSpace(string s, int i)
    {
        while (i < s.Length && char.IsWhiteSpace(s[i])) i++;
        return i;
    }

    /// <summary>The index after the parenthesis that closes the one at <paramref name="open"/> (string literals skipped).</summary>
    private static int Balanced(string s, int open)
    {
        int depth = 0;
        for (int i = open; i < s.Length; i++)
        {
            char c = s[i];
            if (c == '"') { i = s.IndexOf('"', i + 1); continue; }
            if (c == '(') depth++;
            else if (c == ')' && --depth == 0) return i + 1;
        }
        throw new InvalidOperationException($"unbalanced parentheses from offset {open}");
    }

    private static bool Agrees(string arg, string ptx) => arg switch
    {
        "Ptr" or "I64" => ptx is ".u64" or ".s64" or ".b64",
        "I32" => ptx is ".u32" or ".s32" or ".b32",
        _ => ptx == ".f32",
    };

    [Fact]
    public void TheSourceHasLaunchSitesToCheck()
    {
        var sites = LaunchSites();
        Assert.True(sites.Count >= 25, $"found only {sites.Count} launch sites: the scan no longer sees the backend's launches");
        Assert.Contains(sites, s => s.Kernel == "groupnorm_apply" && s.PerStorageType);
        Assert.Contains(sites, s => s.Kernel == "fastif_step_update");
    }

    [Fact]
    public void EveryLaunchMatchesItsKernelsParameters()
    {
        NvrtcCompileTests.RequireLibrary(NativeLibraries.Nvrtc);
        var entries = PtxEntries();
        var problems = new List<string>();
        foreach (var site in LaunchSites())
        {
            var names = site.PerStorageType ? new[] { "f32", "f16", "bf16" }.Select(sfx => $"fastif_{site.Kernel}_{sfx}") : [site.Kernel];
            foreach (var name in names)
            {
                string where = $"{site.File}:{site.Line} launches {name}";
                if (!entries.TryGetValue(name, out var ps)) { problems.Add($"{where}: no such kernel in any kernels/*.cu"); continue; }
                if (ps.Length != site.Args.Length) { problems.Add($"{where} with {site.Args.Length} arguments; the kernel takes {ps.Length}"); continue; }
                for (int k = 0; k < ps.Length; k++)
                    if (!Agrees(site.Args[k], ps[k])) problems.Add($"{where}: argument {k} is {site.Args[k]}, the kernel's parameter is {ps[k]}");
            }
        }
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }
}
