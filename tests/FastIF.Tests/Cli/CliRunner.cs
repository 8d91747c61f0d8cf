using FastIF.Cli;

namespace FastIF.Tests.Cli;

/// <summary>Runs the <c>fastif</c> command tree in process, capturing stdout and stderr (tests using it share the "console" collection).</summary>
internal static class CliRunner
{
    public static (int Code, string Out, string Err) Run(params string[] args)
    {
        var (o, e) = (Console.Out, Console.Error);
        var so = new StringWriter();
        var se = new StringWriter();
        Console.SetOut(so);
        Console.SetError(se);
        try { return (Program.BuildRoot().Parse(args).Invoke(), so.ToString(), se.ToString()); }
        finally { Console.SetOut(o); Console.SetError(e); }
    }
}
