namespace FastIF.Cli;

/// <summary>Turns expected failures into one-line messages and exit codes; unexpected ones keep their stack trace.</summary>
internal static class CliErrors
{
    /// <summary>Exit code for a request FastIF refused (bad input, unsupported option, missing file).</summary>
    public const int Refused = 2;

    /// <summary>Exit code for a run that was cancelled (Ctrl-C).</summary>
    public const int Cancelled = 130;

    public static int Run(Func<int> action)
    {
        try
        {
            return action();
        }
        catch (OperationCanceledException)
        {
            Console.Error.WriteLine("cancelled");
            return Cancelled;
        }
        catch (Exception e) when (e is FastIFException or FileNotFoundException or DirectoryNotFoundException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return Refused;
        }
    }
}
