using System.Security.Cryptography;
using System.Text;

namespace FastIF.Runtime;

/// <summary>One embedded kernel file (resource <c>kernels/&lt;name&gt;</c>).</summary>
/// <param name="Name">File name, e.g. "convert.cu" or "fastif_types.cuh".</param>
/// <param name="Bytes">The file's exact bytes.</param>
public sealed record KernelFile(string Name, byte[] Bytes)
{
    /// <summary>The file as text.</summary>
    public string Text => Encoding.UTF8.GetString(Bytes);
}

/// <summary>The CUDA sources embedded in the FastIF assembly from the repository's kernels/ folder.</summary>
public static class KernelSources
{
    private const string Prefix = "kernels/";
    private static readonly Lazy<IReadOnlyList<KernelFile>> Files = new(Load);

    /// <summary>Every embedded .cu and .cuh file, ordered by name (ordinal).</summary>
    public static IReadOnlyList<KernelFile> All => Files.Value;

    /// <summary>The compilable sources (.cu).</summary>
    public static IEnumerable<KernelFile> Sources => All.Where(f => f.Name.EndsWith(".cu", StringComparison.Ordinal));

    /// <summary>The headers (.cuh), as NVRTC include name → text.</summary>
    public static IReadOnlyDictionary<string, string> Headers =>
        All.Where(f => f.Name.EndsWith(".cuh", StringComparison.Ordinal)).ToDictionary(f => f.Name, f => f.Text);

    /// <summary>One source by file name; throws <see cref="FastIFException"/> listing what exists when absent.</summary>
    public static KernelFile Get(string name) =>
        All.FirstOrDefault(f => f.Name == name)
        ?? throw new FastIFException($"kernel source '{name}' is not embedded; have: {string.Join(", ", All.Select(f => f.Name))}");

    /// <summary>
    /// <c>sha256sum</c>-style manifest ("&lt;hex&gt;  &lt;name&gt;\n" per file, by name) identifying this set of sources; the
    /// CMake build writes the same text next to its fatbins so a stale prebuilt set is never used.
    /// </summary>
    public static string Manifest()
    {
        var sb = new StringBuilder();
        foreach (var f in All) sb.Append(Convert.ToHexStringLower(SHA256.HashData(f.Bytes))).Append("  ").Append(f.Name).Append('\n');
        return sb.ToString();
    }

    private static IReadOnlyList<KernelFile> Load()
    {
        var asm = typeof(KernelSources).Assembly;
        var list = new List<KernelFile>();
        foreach (var res in asm.GetManifestResourceNames().Where(n => n.StartsWith(Prefix, StringComparison.Ordinal)).Order(StringComparer.Ordinal))
        {
            using var s = asm.GetManifestResourceStream(res)!;
            using var ms = new MemoryStream();
            s.CopyTo(ms);
            list.Add(new KernelFile(res[Prefix.Length..], ms.ToArray()));
        }
        return list;
    }
}
