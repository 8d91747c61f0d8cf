using System.CommandLine;
using FastIF.Native;
using FastIF.Runtime;

namespace FastIF.Cli.Commands;

/// <summary><c>fastif kernels [--arch sm_80,sm_90]</c>: compiles every embedded kernel with NVRTC and reports the result.</summary>
public static class KernelsCommand
{
    /// <summary>Builds the command.</summary>
    public static Command Create()
    {
        var cmd = new Command("kernels", "Compile every embedded CUDA kernel with NVRTC (no GPU needed) and report PTX size and time.");
        var arch = new Option<string>("--arch")
        {
            Description = "Comma-separated target architectures (sm_XX).",
            DefaultValueFactory = _ => "sm_80,sm_90",
        };
        cmd.Options.Add(arch);
        var ptx = new Option<string?>("--ptx") { Description = "also write each PTX to this folder (NAME.ARCH.ptx), to read what the compiler made" };
        cmd.Options.Add(ptx);
        cmd.SetAction(pr =>
        {
            var probe = NativeLibraries.Probe(NativeLibraries.Nvrtc);
            if (!probe.Found)
            {
                Console.Error.WriteLine(probe.Describe());
                return 2;
            }
            Console.WriteLine($"NVRTC {probe.Version} from {probe.Path}");
            if (NativeLibraries.IsEmulated)
            {
                // The emulator's NVRTC builds host code with g++: no PTX exists, so its sizes and entry counts mean nothing.
                if (pr.GetValue(ptx) != null)
                {
                    Console.Error.WriteLine($"--ptx: {NativeLibraries.EmulatorVariable} selects the CUDA emulator, which makes no PTX; unset it to read NVRTC's PTX");
                    return 2;
                }
                Console.WriteLine($"EMULATED ({NativeLibraries.EmulatorVariable}): each source is built as host code for the CPU; " +
                    "the PTX sizes and kernel counts below are not NVRTC's, and the arch is not compiled for");
            }
            IReadOnlyList<KernelCompileResult> results;
            try
            {
                results = KernelCompiler.CompileAll(pr.GetValue(arch)!.Split(','));
            }
            catch (FastIFException e)
            {
                Console.Error.WriteLine(e.Message);
                return 2;
            }
            Console.WriteLine($"{"source",-20} {"arch",-8} {"ptx bytes",10} {"kernels",8} {"regs",5} {"ms",9}  status");
            foreach (var r in results)
            {
                // Registers are only known once a module is loaded on a device (CudaFunction.Registers).
                Console.WriteLine($"{r.Name,-20} {r.Arch,-8} {r.PtxBytes,10} {r.Entries.Count,8} {"-",5} {r.CompileMs,9:F1}  {(r.Success ? "ok" : "FAILED")}");
                if (!r.Success || r.Log.Length > 0) Console.WriteLine("  " + r.Log.Replace("\n", "\n  "));
            }
            if (pr.GetValue(ptx) is { } dir)
            {
                Directory.CreateDirectory(dir);
                foreach (var r in results.Where(r => r.Success))
                    File.WriteAllBytes(Path.Combine(dir, $"{Path.GetFileNameWithoutExtension(r.Name)}.{r.Arch}.ptx"), r.Ptx);
                Console.WriteLine($"PTX written to {dir}");
            }
            int failed = results.Count(r => !r.Success);
            Console.WriteLine(failed == 0 ? $"{results.Count} compilations ok" : $"{failed} of {results.Count} compilations FAILED");
            return failed == 0 ? 0 : 1;
        });
        return cmd;
    }
}
