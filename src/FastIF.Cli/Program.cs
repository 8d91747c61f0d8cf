using System.CommandLine;

namespace FastIF.Cli;

/// <summary>Entry point of the <c>fastif</c> command.</summary>
public static class Program
{
    /// <summary>Builds the command tree (also used by tests).</summary>
    public static RootCommand BuildRoot()
    {
        var root = new RootCommand("FastIF: DeepFloyd IF inference, benchmarking and profiling.");
        root.Subcommands.Add(Commands.BenchCommand.Create());
        root.Subcommands.Add(Commands.ProfileCommand.Create());
        root.Subcommands.Add(Commands.UNetCommand.Create());
        root.Subcommands.Add(Commands.WeightsCommand.Create());
        root.Subcommands.Add(Commands.ConvertCommand.Create());
        root.Subcommands.Add(Commands.InfoCommand.Create());
        root.Subcommands.Add(Commands.EmbedsCommand.Create());
        root.Subcommands.Add(Commands.TokenizeCommand.Create());
        root.Subcommands.Add(Commands.EncodeCommand.Create());
        root.Subcommands.Add(Commands.CascadeCommand.Create());
        root.Subcommands.Add(Commands.KernelsCommand.Create());
        foreach (var c in Commands.SampleCommands.Create()) root.Subcommands.Add(c);
        return root;
    }

    /// <summary>Runs the CLI.</summary>
    public static int Main(string[] args) => BuildRoot().Parse(args).Invoke();
}
