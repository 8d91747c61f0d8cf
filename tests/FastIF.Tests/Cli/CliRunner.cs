using FastIF.Cli;
using Spectre.Console;

namespace FastIF.Tests.Cli;

/// <summary>Runs the <c>fastif</c> command tree in process, capturing stdout and stderr (tests using it share the "console" collection).</summary>
internal static class CliRunner
{
    public static (int Code, string Out, string Err) Run(params string[] args)
    {
        var (o, e, ansi) = (Console.Out, Console.Error, AnsiConsole.Console);
        var so = new StringWriter();
        var se = new StringWriter();
        Console.SetOut(so);
        Console.SetError(se);
        // Spectre's console binds to stdout when first used: point it at the capture too, or tables escape it.
        AnsiConsole.Console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(so), Ansi = AnsiSupport.No, ColorSystem = ColorSystemSupport.NoColors });
        try { return (Program.BuildRoot().Parse(args).Invoke(), so.ToString(), se.ToString()); }
        finally { Console.SetOut(o); Console.SetError(e); AnsiConsole.Console = ansi; }
    }
}
