using FastIF.Backends;
using FastIF.Backends.Cpu;

namespace FastIF.Models.UNet;

/// <summary>
/// How a <see cref="UNet2DCondition"/> computes what its config describes: choices that change the work done, never
/// the function computed (beyond rounding), so that each can be measured against the plain form side by side.
/// </summary>
/// <param name="SubpixelUpsample">Upsampler ResNets run "nearest ×2, then 3×3 conv1" as a sub-pixel convolution of the
/// low-resolution input (<see cref="SubpixelConv"/>: 4/9 of the multiply-adds, no upsampled copy); false upsamples first,
/// as diffusers does.</param>
public sealed record UNetOptions(bool SubpixelUpsample)
{
    /// <summary>diffusers' own order of operations: what the CPU reference runs, so that it answers to the goldens in
    /// the oracle's arithmetic (free-running pipeline goldens amplify even reordered fp32 sums).</summary>
    public static UNetOptions AsDiffusers { get; } = new(SubpixelUpsample: false);

    /// <summary>Every rewrite on: what the backends built for speed run, held to the reference by their parity tests.</summary>
    public static UNetOptions Fastest { get; } = new(SubpixelUpsample: true);

    /// <summary>The default for a backend: <see cref="AsDiffusers"/> on the CPU reference, <see cref="Fastest"/> elsewhere.</summary>
    public static UNetOptions For(IBackend backend) => backend.Innermost() is CpuBackend ? AsDiffusers : Fastest;
}
