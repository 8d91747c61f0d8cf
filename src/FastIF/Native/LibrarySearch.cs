namespace FastIF.Native;

/// <summary>The folders searched for CUDA libraries, in order, computed without running Python.</summary>
internal static class LibrarySearch
{
    /// <summary>Folders before the system loader: FASTIF_CUDA_PATH, CUDA_PATH/CUDA_HOME, /usr/local/cuda*.</summary>
    public static List<string> PreferredDirs()
    {
        var dirs = new List<string>();
        var explicitPath = Environment.GetEnvironmentVariable("FASTIF_CUDA_PATH");
        if (!string.IsNullOrEmpty(explicitPath))
            dirs.AddRange(explicitPath.Split(':', StringSplitOptions.RemoveEmptyEntries));
        foreach (var v in new[] { "CUDA_PATH", "CUDA_HOME" })
        {
            var root = Environment.GetEnvironmentVariable(v);
            if (string.IsNullOrEmpty(root)) continue;
            dirs.Add(System.IO.Path.Combine(root, "lib64"));
            dirs.Add(System.IO.Path.Combine(root, "lib"));
        }
        // /usr/local/cuda first (the admin's chosen default), then versioned trees newest first.
        var cudaTrees = Glob("/usr/local/cuda*")
            .OrderByDescending(d => d == "/usr/local/cuda" ? new Version(int.MaxValue, 0) : VersionOf(d))
            .Select(d => System.IO.Path.Combine(d, "lib64"));
        dirs.AddRange(cudaTrees);
        return Distinct(dirs);
    }

    /// <summary>Folders after the system loader: <c>nvidia/*/lib</c> inside every Python site folder found.</summary>
    public static List<string> PythonWheelDirs()
    {
        var sites = new List<string>();
        string[] patterns =
        [
            "/usr/lib/python3*/dist-packages", "/usr/local/lib/python3*/dist-packages",
            "/usr/local/lib/python3*/site-packages", "/opt/conda/lib/python3*/site-packages",
        ];
        foreach (var p in patterns) sites.AddRange(Glob(p));
        var home = Environment.GetEnvironmentVariable("HOME");
        if (!string.IsNullOrEmpty(home)) sites.AddRange(Glob(System.IO.Path.Combine(home, ".local/lib/python3*/site-packages")));
        foreach (var v in new[] { "VIRTUAL_ENV", "CONDA_PREFIX" })
        {
            var prefix = Environment.GetEnvironmentVariable(v);
            if (!string.IsNullOrEmpty(prefix)) sites.AddRange(Glob(System.IO.Path.Combine(prefix, "lib/python3*/site-packages")));
        }
        var pythonPath = Environment.GetEnvironmentVariable("PYTHONPATH");
        if (!string.IsNullOrEmpty(pythonPath))
            sites.AddRange(pythonPath.Split(':', StringSplitOptions.RemoveEmptyEntries));
        var dirs = new List<string>();
        foreach (var site in Distinct(sites))
            dirs.AddRange(Glob(System.IO.Path.Combine(site, "nvidia/*/lib")).Order(StringComparer.Ordinal));
        return Distinct(dirs);
    }

    /// <summary>Expands '*' wildcards in any path segment; returns only existing directories.</summary>
    public static IEnumerable<string> Glob(string pattern)
    {
        var parts = pattern.Split('/', StringSplitOptions.RemoveEmptyEntries);
        IEnumerable<string> current = [pattern.StartsWith('/') ? "/" : "."];
        foreach (var part in parts)
        {
            current = current.SelectMany(dir =>
            {
                if (!part.Contains('*'))
                {
                    var p = System.IO.Path.Combine(dir, part);
                    return Directory.Exists(p) ? [p] : Array.Empty<string>();
                }
                try { return Directory.EnumerateDirectories(dir, part).ToArray(); }
                catch (IOException) { return []; }
                catch (UnauthorizedAccessException) { return []; }
            }).ToList();
        }
        return current;
    }

    private static Version VersionOf(string dir)
    {
        var tail = System.IO.Path.GetFileName(dir).Replace("cuda-", "").Replace("cuda", "");
        return Version.TryParse(tail.Contains('.') ? tail : tail + ".0", out var v) ? v : new Version(0, 0);
    }

    private static List<string> Distinct(IEnumerable<string> dirs) =>
        dirs.Select(d => d.TrimEnd('/')).Where(d => d.Length > 0).Distinct(StringComparer.Ordinal).ToList();
}
