using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using FastIF.Native;

namespace FastIF.Runtime;

/// <summary>One source compiled for one architecture.</summary>
/// <param name="Name">Source file name.</param>
/// <param name="Arch">Requested architecture (e.g. sm_80).</param>
/// <param name="Success">Whether NVRTC succeeded.</param>
/// <param name="PtxBytes">Size of the PTX produced (0 on failure).</param>
/// <param name="CompileMs">Wall time of the compilation.</param>
/// <param name="Log">NVRTC's log (errors on failure, warnings otherwise).</param>
/// <param name="Entries">Kernel entry points found in the PTX.</param>
/// <param name="Ptx">The PTX text bytes (empty on failure).</param>
public sealed record KernelCompileResult(string Name, string Arch, bool Success, int PtxBytes, double CompileMs, string Log,
    IReadOnlyList<string> Entries, byte[] Ptx);

/// <summary>Compiles the embedded kernels with NVRTC (no GPU needed).</summary>
public static partial class KernelCompiler
{
    /// <summary>NVRTC options used for every kernel, for a target such as "sm_90" or "compute_90".</summary>
    public static IReadOnlyList<string> Options(string target) => [$"--gpu-architecture={target}", "--std=c++17"];

    /// <summary>
    /// Compiles every embedded .cu source to PTX for each architecture ("sm_80" or "80" → compute_80 PTX).
    /// Never throws for a compile error: the result says so and carries the log.
    /// </summary>
    public static IReadOnlyList<KernelCompileResult> CompileAll(IEnumerable<string> arches)
    {
        var results = new List<KernelCompileResult>();
        var headers = KernelSources.Headers;
        foreach (var arch in arches.Select(a => a.Trim()).Where(a => a.Length > 0))
        {
            int cc = ParseArch(arch);
            foreach (var src in KernelSources.Sources)
                results.Add(Compile(src.Name, src.Text, headers, arch, $"compute_{cc}"));
        }
        return results;
    }

    /// <summary>Compiles one source text for an NVRTC target; reports failure instead of throwing.</summary>
    public static KernelCompileResult Compile(string name, string source, IReadOnlyDictionary<string, string> headers, string arch, string target)
    {
        var sw = Stopwatch.StartNew();
        try
        {
            var output = Nvrtc.Compile(source, name, headers, Options(target));
            return new KernelCompileResult(name, arch, true, output.Ptx.Length, sw.Elapsed.TotalMilliseconds, output.Log,
                EntryNames(output.Ptx), output.Ptx);
        }
        catch (NvrtcException e)
        {
            return new KernelCompileResult(name, arch, false, 0, sw.Elapsed.TotalMilliseconds, e.Log ?? e.Message, [], []);
        }
    }

    /// <summary>"sm_86", "compute_86" or "86" → 86; throws <see cref="FastIFException"/> for anything else.</summary>
    public static int ParseArch(string arch)
    {
        var m = ArchPattern().Match(arch);
        return m.Success ? int.Parse(m.Groups[1].Value) : throw new FastIFException($"architecture '{arch}' is not of the form sm_XX (e.g. sm_80, sm_90)");
    }

    /// <summary>The <c>.entry</c> names in PTX text.</summary>
    public static IReadOnlyList<string> EntryNames(byte[] ptx) =>
        EntryPattern().Matches(Encoding.UTF8.GetString(ptx)).Select(m => m.Groups[1].Value).ToList();

    [GeneratedRegex(@"^(?:sm_|compute_)?(\d{2,3})a?$")]
    private static partial Regex ArchPattern();

    [GeneratedRegex(@"\.entry\s+([A-Za-z_][A-Za-z0-9_]*)")]
    private static partial Regex EntryPattern();
}
