namespace FastIF.Tests;

/// <summary>Locates the golden fixture root: $FASTIF_FIXTURES or ../shared/fixtures from the repository root.</summary>
public static class Fixtures
{
    /// <summary>True when the root came from FASTIF_FIXTURES: missing files then fail instead of skipping.</summary>
    public static bool Explicit => !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("FASTIF_FIXTURES"));

    /// <summary>The fixture root, or null when none can be found.</summary>
    public static string? Root
    {
        get
        {
            var env = Environment.GetEnvironmentVariable("FASTIF_FIXTURES");
            if (!string.IsNullOrEmpty(env)) return env;
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "FastIF.sln")))
                {
                    var p = Path.GetFullPath(Path.Combine(dir.FullName, "..", "shared", "fixtures"));
                    return Directory.Exists(p) ? p : null;
                }
            }
            return null;
        }
    }

    /// <summary>A path under the fixture root; skips the test (or fails when the root is explicit) when absent.</summary>
    public static string Require(params string[] parts)
    {
        var root = Root;
        if (root == null)
        {
            Assert.Skip("golden fixtures not found: set FASTIF_FIXTURES or place them at ../shared/fixtures");
        }
        var p = Path.Combine([root!, .. parts]);
        if (!File.Exists(p) && !Directory.Exists(p))
        {
            if (Explicit) Assert.Fail($"fixture missing under FASTIF_FIXTURES: {p}");
            Assert.Skip($"fixture missing: {p}");
        }
        return p;
    }
}
