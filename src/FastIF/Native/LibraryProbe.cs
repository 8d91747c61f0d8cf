namespace FastIF.Native;

/// <summary>One place the library search looked, and what happened there.</summary>
/// <param name="Place">A file path, or a bare soname handed to the system loader.</param>
/// <param name="Outcome">"loaded", "file absent", or the loader's error text.</param>
public sealed record ProbeAttempt(string Place, string Outcome);

/// <summary>The result of searching for one native library.</summary>
/// <param name="Name">Logical name used by the bindings: cuda, nvrtc, cublas, cublasLt, cudnn.</param>
/// <param name="Found">Whether a library was loaded.</param>
/// <param name="Path">The file (or soname) that was loaded; null when not found.</param>
/// <param name="Version">The library's own version report (e.g. "13.0 (13000)"), when it could be asked.</param>
/// <param name="Attempts">Every place tried, in order, with its outcome.</param>
public sealed record LibraryProbe(string Name, bool Found, string? Path, string? Version, IReadOnlyList<ProbeAttempt> Attempts)
{
    /// <summary>A one-paragraph description: what was loaded, or every place tried and why it failed.</summary>
    public string Describe()
    {
        if (Found) return $"{Name}: loaded {Path}" + (Version is null ? "" : $", version {Version}");
        var lines = Attempts.Select(a => $"  {a.Place}: {a.Outcome}");
        return $"native library '{Name}' ({string.Join(", ", NativeLibraries.SonamesOf(Name))}) not found; " +
               $"set FASTIF_CUDA_PATH to the folder holding it. Tried:\n{string.Join("\n", lines)}";
    }
}
