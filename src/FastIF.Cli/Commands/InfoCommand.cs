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
        var verbose = new Option<bool>("--verbose") { Description = "list every place each CUDA library was looked for" };
        var cmd = new Command("info", "Print the version and which backends are available, and why not.") { verbose };
        cmd.SetAction(pr => CliErrors.Run(() =>
        {
            var asm = typeof(FastIFException).Assembly;
            Console.WriteLine($"FastIF {asm.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? asm.GetName().Version?.ToString()}");
            Console.WriteLine($"runtime: {RuntimeInformation.FrameworkDescription} on {RuntimeInformation.OSDescription} ({RuntimeInformation.OSArchitecture})");
            var simd = new List<string>();
            if (Avx2.IsSupported) simd.Add("AVX2");
            if (Fma.IsSupported) simd.Add("FMA");
            if (Avx512F.IsSupported) simd.Add("AVX-512F");
            Console.WriteLine($"backend cpu: available (fp32 reference; {Environment.ProcessorCount} threads; SIMD {(simd.Count > 0 ? string.Join(", ", simd) : "none detected")})");
            int devices = Runtime.CudaContext.DevicesPresent(out var noDevice);
            Console.WriteLine(devices > 0 && Native.NativeLibraries.IsEmulated
                ? $"backend cuda: EMULATED on the CPU ({Native.NativeLibraries.EmulatorVariable}; not a GPU: --backend cuda runs there, auto takes the CPU, bench and profile refuse it); libraries:"
                : devices > 0
                ? $"backend cuda: available ({devices} device{(devices > 1 ? "s" : "")}; --backend cuda --precision fp16|bf16|fp32); libraries:"
                : $"backend cuda: unavailable ({noDevice ?? "no CUDA driver or device"}); the CUDA layer finds these libraries:");
            foreach (var p in Native.NativeLibraries.Probe())
            {
                if (p.Found || pr.GetValue(verbose)) { Console.WriteLine("  " + p.Describe().Replace("\n", "\n  ")); continue; }
                var tried = p.Attempts.Where(a => a.Outcome != "file absent").ToList();
                int absent = p.Attempts.Count - tried.Count;
                Console.WriteLine($"  {p.Name}: not found ({string.Join(", ", Native.NativeLibraries.SonamesOf(p.Name))})" +
                    (absent > 0 ? $"; {absent} searched paths had no such file" : "") + "; set FASTIF_CUDA_PATH, or --verbose for every place");
                // The loader's own last line is the reason; .NET's preamble around it says nothing new.
                foreach (var a in tried)
                {
                    var why = a.Outcome.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault() ?? "";
                    Console.WriteLine(why.StartsWith(a.Place) ? $"    {why}" : $"    {a.Place}: {why}");
                }
            }
            return 0;
        }));
        return cmd;
    }
}
