using System.CommandLine;
using FastIF.Backends;
using FastIF.Backends.Cpu;
using FastIF.Backends.Cuda;
using FastIF.Models.UNet;
using FastIF.Native;
using FastIF.Runtime;
using FastIF.Tensors;

namespace FastIF.Cli.Commands;

/// <summary>The shared <c>--backend</c> and <c>--precision</c> options: auto picks the best backend present and says so.</summary>
internal static class BackendOption
{
    public static Option<string> Create() => new("--backend")
    {
        Description = "cpu, cuda or auto (cuda when a GPU is found, else cpu)",
        DefaultValueFactory = _ => "auto",
    };

    public static Option<string> CreatePrecision() => new("--precision")
    {
        Description = "storage type on the cuda backend: fp16, bf16 or fp32 (math is fp32 throughout; the cpu backend is always fp32)",
        DefaultValueFactory = _ => "fp16",
    };

    public static Option<string> CreateAttention() => new("--attention")
    {
        Description = "cuda attention: gemm (cuBLAS batched GEMMs around a softmax kernel), flash (FastIF's fused online-softmax kernel) " +
            "or mma (the fused kernel on tensor cores: fp16/bf16, head dim 64; not yet run on a GPU)",
        DefaultValueFactory = _ => "gemm",
    };

    public static Option<string> CreateUpsample() => new("--upsample")
    {
        Description = "upsampler ResNets: subpixel (a 2x2 phase convolution of the low-resolution input, 4/9 of the work), " +
            "nearest (upsample, then the 3x3 convolution, as diffusers does) or auto (nearest on the cpu reference, subpixel on cuda)",
        DefaultValueFactory = _ => "auto",
    };

    /// <summary>The UNet graph options <c>--upsample</c> names for <paramref name="be"/>.</summary>
    public static UNetOptions ParseUpsample(string value, IBackend be) => value switch
    {
        "auto" => UNetOptions.For(be),
        "subpixel" => UNetOptions.For(be) with { SubpixelUpsample = true },
        "nearest" => UNetOptions.For(be) with { SubpixelUpsample = false },
        _ => throw new FastIFException($"unknown --upsample \"{value}\"; known: auto, subpixel, nearest"),
    };

    /// <summary>How a UNet's upsamplers run, as <c>--upsample</c> names it (for reports).</summary>
    public static string UpsampleName(UNetOptions o) => o.SubpixelUpsample ? "subpixel" : "nearest";

    /// <summary>
    /// Opens the named backend; <paramref name="precision"/> and <paramref name="attention"/> apply to cuda only. Under
    /// FastIF's CUDA emulator (<see cref="NativeLibraries.EmulatorVariable"/>) "auto" takes the CPU, "cuda" runs on the
    /// emulator, and a command that reports timings (<paramref name="timing"/>) refuses it: its times are not a GPU's.
    /// </summary>
    public static IBackend Resolve(string name, string precision = "fp16", string attention = "gemm", bool timing = false)
    {
        if (timing && name == "cuda" && NativeLibraries.IsEmulated)
            throw new FastIFException($"{NativeLibraries.EmulatorVariable} is set, so --backend cuda is FastIF's CPU emulator of " +
                                      "CUDA, whose timings say nothing about a GPU; unset it to time a real device");
        var dt = ParsePrecision(precision);
        var kernel = attention switch
        {
            "gemm" => AttentionKernel.Gemm,
            "flash" => AttentionKernel.Flash,
            "mma" => AttentionKernel.Mma,
            _ => throw new FastIFException($"unknown attention kernel \"{attention}\"; known: gemm, flash, mma"),
        };
        switch (name)
        {
            case "cpu":
                return CpuBackend.Instance;
            case "cuda":
                return new CudaBackend(new CudaBackendOptions(dt, AttentionKernel: kernel));
            case "auto":
                // Every command names the backend it ran on in its output, so the choice is never silent.
                return !NativeLibraries.IsEmulated && CudaContext.DevicesPresent(out _) > 0 ? new CudaBackend(new CudaBackendOptions(dt, AttentionKernel: kernel)) : CpuBackend.Instance;
            default:
                throw new FastIFException($"unknown backend \"{name}\"; known: auto, cpu, cuda");
        }
    }

    private static DType ParsePrecision(string p) => p.ToLowerInvariant() switch
    {
        "fp16" or "f16" or "half" => DType.F16,
        "bf16" => DType.BF16,
        "fp32" or "f32" or "float" => DType.F32,
        _ => throw new FastIFException($"unknown precision \"{p}\"; known: fp16, bf16, fp32"),
    };
}
