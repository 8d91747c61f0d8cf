namespace FastIF.Cli.Commands;

/// <summary>Progress lines on stderr for long work (overwritten in place on a terminal, sparse otherwise).</summary>
internal static class Progress
{
    /// <summary>
    /// Item <paramref name="done"/> of <paramref name="total"/>: overwrites the line in place on a terminal (ending it after
    /// the last item), and writes one line per item when stderr is a file or a pipe, so logs read line by line.
    /// </summary>
    public static void Step(string line, int done, int total)
    {
        if (Console.IsErrorRedirected) Console.Error.WriteLine(line);
        else Console.Error.Write("\r" + line + (done == total ? "\n" : ""));
    }

    public static IProgress<(long Done, long Total)> Bytes(string what, int bytesPerElement)
    {
        int lastPercent = -1;
        return new Progress<(long Done, long Total)>(p =>
        {
            int pct = p.Total == 0 ? 100 : (int)(100 * p.Done / p.Total);
            if (pct == lastPercent || (Console.IsErrorRedirected && pct % 10 != 0 && pct != 100)) return;
            lastPercent = pct;
            var line = $"{what}: {pct,3}% ({p.Done * bytesPerElement / 1e9:F2} / {p.Total * bytesPerElement / 1e9:F2} GB)";
            if (Console.IsErrorRedirected) Console.Error.WriteLine(line);
            else Console.Error.Write("\r" + line);
        });
    }
}
