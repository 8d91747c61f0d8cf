using System.CommandLine;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;

namespace FastIF.Cli.Commands;

/// <summary><c>fastif info</c>: version, machine, and every backend with why it is or is not available.</summary>
internal static class InfoCommand
{
    public static Command Create()
    {
        var cmd = new Command("info", "Print the version and which backends are available, and why not.");
        cmd.SetAction(_ => CliErrors.Run(() =>
        {
            var asm = typeof(FastIFException).Assembly;
            Console.WriteLine($"FastIF {asm.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? asm.GetName().Version?.ToString()}");
            Console.WriteLine($"runtime: {RuntimeInformation.FrameworkDescription} on {RuntimeInformation.OSDescription} ({RuntimeInformation.OSArchitecture})");
            var simd = new List<string>();
            if (Avx2.IsSupported) simd.Add("AVX2");
            if (Fma.IsSupported) simd.Add("FMA");
            if (Avx512F.IsSupported) simd.Add("AVX-512F");
            Console.WriteLine($"backend cpu: available (fp32 reference; {Environment.ProcessorCount} threads; SIMD {(simd.Count > 0 ? string.Join(", ", simd) : "none detected")})");
            Console.WriteLine("backend cuda: not built yet (the CUDA backend issue); library discovery is reported below when present");
            return 0;
        }));
        return cmd;
    }
}
