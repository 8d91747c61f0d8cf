using FastIF.Backends;
using FastIF.Backends.Cpu;
using FastIF.Backends.Cuda;
using FastIF.Models.UNet;
using FastIF.Native;
using FastIF.Tensors;
using FastIF.Tests.UNet;
using FastIF.Weights;

namespace FastIF.Tests.Cuda;

/// <summary>
/// The whole UNet on the CUDA backend: every diffusers golden case (the same fixtures the CPU backend answers to), the
/// CUDA graph against the eager forward, and (opt-in, slow on the CPU side) real-size random weights against the CPU.
/// </summary>
[Collection("gpu")]
public class CudaUNetTests
{
    // fp32 is true fp32 (FMA convolutions, no TF32), held to the CPU backend's own golden tolerance. fp16/bf16 store every
    // activation rounded, ~60 layers deep: the figures allow the rounding noise to grow by the depth without hiding a
    // wrong op (a wrong op moves the output by O(1)).
    internal static (double RelL2, double MaxAbs) Tolerance(DType t) => t switch
    {
        DType.F32 => (1e-5, 5e-5),
        DType.F16 => (5e-3, 5e-2),
        _ => (3e-2, 3e-1),
    };

    public static TheoryData<string, string, string> Cases()
    {
        var data = new TheoryData<string, string, string>();
        foreach (var row in UNetGoldenTests.Cases())
        {
            var (io, prefix, _, _) = ((string, string, string, bool))row.Data;
            if (data.Any(r => r.Data.Item1 == io && r.Data.Item2 == prefix)) continue;
            foreach (var p in new[] { "fp32", "fp16", "bf16" }) data.Add(io, prefix, p);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void UNetMatchesDiffusersOnTheGpu(string ioName, string casePrefix, string precision)
    {
        if (casePrefix == "") Assert.Skip("golden fixtures not found: set FASTIF_FIXTURES or place them at ../shared/fixtures");
        var dt = precision switch { "fp32" => DType.F32, "fp16" => DType.F16, _ => DType.BF16 };
        var be = CudaBackendParityTests.Backend(dt);
        var ifDir = Fixtures.Require("if");
        using var io = SafetensorsFile.Open(Path.Combine(ifDir, ioName));
        // The fp32 file: the GPU rounds it to its storage type once at load; compared with diffusers' fp32-weight output.
        using var unet = UNet2DCondition.Load(UNetGoldenTests.ModelDir(ifDir, ioName), be, null);
        // The load's staging blocks are not left cached in the activation pool (LoadFinished).
        Assert.Equal(be.ActivationPool.InUseBytes, be.ActivationPool.ReservedBytes);
        using var sample = Load(io, be, casePrefix + ".sample");
        using var t = Steps(io, be, casePrefix + ".timestep");
        using var ehs = Load(io, be, casePrefix + ".encoder_hidden_states");
        using var cls = io.TryGetEntry(casePrefix + ".class_labels", out _) ? Steps(io, be, casePrefix + ".class_labels") : null;
        using var output = unet.Forward(sample, t, ehs, cls);
        var (rel, abs) = Tolerance(dt);
        Numerics.AssertClose($"{ioName} {casePrefix} on cuda {precision}", io.ReadFloat32($"{casePrefix}.output_fp32_weights"), output.ToArray(), rel, abs);
    }

    [Theory]
    [InlineData("fp16")]
    [InlineData("fp32")]
    public void GraphReplayEqualsTheEagerForward(string precision)
    {
        var be = CudaBackendParityTests.Backend(precision == "fp32" ? DType.F32 : DType.F16);
        var dir = Path.Combine(Path.GetTempPath(), $"fastif-graph-{Guid.NewGuid():N}");
        try
        {
            var config = UNetPresets.Get("tiny");
            RandomWeights.WriteUNet(config, dir, DType.F32, seed: 3, cancel: TestContext.Current.CancellationToken);
            using var unet = UNet2DCondition.Load(dir, be, null);
            // On the CUDA emulator (one CPU thread) a 16x16 sample keeps this to seconds; the graph is the same.
            int b = 2, s = NativeLibraries.IsEmulated ? 16 : config.SampleSize;
            var x = Gpu.Random(b * config.InChannels * s * s, out _);
            var e = Gpu.Random(b * 77 * config.EncoderHidDim, out _);
            using var xt = be.FromHost(x, new Shape(b, config.InChannels, s, s));
            using var tt = be.FromHost([999f, 500f], new Shape(b));
            using var et = be.FromHost(e, new Shape(b, 77, config.EncoderHidDim));
            Tensor Forward(IReadOnlyList<Tensor> i) => unet.Forward(i[0], i[1], i[2]);
            using var eager = Forward([xt, tt, et]);
            var want = eager.ToArray();
            using var runner = new CudaGraphRunner(be, Forward, xt.Shape, tt.Shape, et.Shape);
            using var got = be.FromHost(new float[want.Length], eager.Shape);
            for (int rep = 0; rep < 3; rep++)
            {
                runner.Run([xt, tt, et], got);
                Assert.Equal(want, got.ToArray()); // the same kernels on the same data: bit-identical
            }
            // New inputs through the same graph give the new answer, not a replay of the captured one.
            using var x2 = be.FromHost(Gpu.Random(x.Length, out _), xt.Shape);
            using var eager2 = Forward([x2, tt, et]);
            runner.Run([x2, tt, et], got);
            Assert.Equal(eager2.ToArray(), got.ToArray());
            Assert.NotEqual(want, got.ToArray());
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, true);
        }
    }

    /// <summary>Real-size stage I and II forwards on random weights, GPU fp16 against the CPU fp32 reference. Minutes of
    /// CPU time: runs only with FASTIF_BIG_PARITY=1 (the GPU visit sets it).</summary>
    [Theory]
    [InlineData("if-i-xl", 1, 64)]
    [InlineData("if-ii-l", 1, 256)]
    public void RealSizeForwardMatchesTheCpu(string preset, int batch, int size)
    {
        if (Environment.GetEnvironmentVariable("FASTIF_BIG_PARITY") != "1")
            Assert.Skip("real-size parity takes minutes of CPU time: set FASTIF_BIG_PARITY=1 to run it");
        var be = CudaBackendParityTests.Backend(DType.F16);
        var config = UNetPresets.Get(preset);
        var dir = RandomWeights.Cached(config, preset, DType.F16, seed: 0, cancel: TestContext.Current.CancellationToken);
        using var gpuUNet = UNet2DCondition.Load(dir, be, "fp16");
        using var cpuUNet = UNet2DCondition.Load(dir, CpuBackend.Instance, "fp16");
        var x = CudaBackendParityTests.RoundTo(DType.F16, Gpu.Random(batch * config.InChannels * size * size, out _));
        var e = CudaBackendParityTests.RoundTo(DType.F16, Gpu.Random(batch * 77 * config.EncoderHidDim, out _));
        float[] Run(IBackend b, UNet2DCondition u)
        {
            using var xt = b.FromHost(x, new Shape(batch, config.InChannels, size, size));
            using var tt = b.FromHost(Enumerable.Repeat(700f, batch).ToArray(), new Shape(batch));
            using var et = b.FromHost(e, new Shape(batch, 77, config.EncoderHidDim));
            using var cl = config.ClassEmbedTimestep ? b.FromHost(Enumerable.Repeat(100f, batch).ToArray(), new Shape(batch)) : null;
            using var y = u.Forward(xt, tt, et, cl);
            return y.ToArray();
        }
        var want = Run(CpuBackend.Instance, cpuUNet);
        var got = Run(be, gpuUNet);
        var (rel, abs) = Tolerance(DType.F16);
        Numerics.AssertClose($"{preset} forward, cuda fp16 vs cpu fp32", want, got, rel, abs);
    }

    private static Tensor Load(SafetensorsFile f, IBackend be, string name) => be.FromHost(f.ReadFloat32(name), f.GetEntry(name).Shape);

    private static Tensor Steps(SafetensorsFile f, IBackend be, string name)
    {
        var v = f.ReadInt64(name);
        return be.FromHost(v.Select(x => (float)x).ToArray(), new Shape(v.Length));
    }
}
