using System.CommandLine;
using FastIF.Backends;
using FastIF.Backends.Cpu;

namespace FastIF.Cli.Commands;

/// <summary>The shared <c>--backend</c> option: auto picks the best backend present and says so.</summary>
internal static class BackendOption
{
    public static Option<string> Create() => new("--backend")
    {
        Description = "cpu, cuda or auto (the best present)",
        DefaultValueFactory = _ => "auto",
    };

    public static IBackend Resolve(string name) => name switch
    {
        "cpu" or "auto" => CpuBackend.Instance,
        "cuda" => throw new FastIFException("the CUDA backend is not built yet (issue: CUDA backend for the IF UNet); use --backend cpu"),
        _ => throw new FastIFException($"unknown backend \"{name}\"; known: auto, cpu, cuda"),
    };
}
