namespace FastIF.Runtime;

/// <summary>The process's memory figures as Linux reports them in <c>/proc/self/status</c> (−1 elsewhere).</summary>
public static class ProcessMemory
{
    /// <summary>A <c>/proc/self/status</c> figure in bytes (key with its colon, e.g. <c>"VmHWM:"</c>), or −1 where the OS has none.</summary>
    public static long Status(string key)
    {
        const string status = "/proc/self/status";
        if (!File.Exists(status)) return -1;
        var line = File.ReadLines(status).FirstOrDefault(l => l.StartsWith(key, StringComparison.Ordinal));
        // "RssAnon:\t  123456 kB": a tab, then padding that a large value can fill completely.
        return line == null ? -1 : long.Parse(line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)[1]) * 1024;
    }

    /// <summary>Anonymous resident memory (what the process itself holds, not mapped files).</summary>
    public static long AnonymousBytes() => Status("RssAnon:");

    /// <summary>Peak resident set since the process started (mapped file pages included).</summary>
    public static long PeakResidentBytes() => Status("VmHWM:");

    /// <summary>"1.23 GiB", or "unknown" for −1.</summary>
    public static string Gib(long bytes) => bytes < 0 ? "unknown" : $"{bytes / (double)(1L << 30):F2} GiB";
}
