using BenchmarkDotNet.Attributes;
using FastIF.Backends;
using FastIF.Backends.Cpu;
using FastIF.Tensors;

namespace FastIF.Benchmarks;

/// <summary>
/// The CPU backend's hot ops at the shapes of IF-I's 64×64 guided step (UNet batch 2) and of T5-XXL's encode: each
/// benchmark is one op call on fixed random inputs; outputs are disposed so the measured work is the op alone.
/// </summary>
[MemoryDiagnoser]
[SimpleJob(warmupCount: 2, iterationCount: 8)]
public class CpuOpBenchmarks
{
    private readonly CpuBackend _be = CpuBackend.Instance;
    private Tensor _img = null!, _convW = null!, _convB = null!, _gamma = null!, _beta = null!, _ss = null!;
    private Tensor _tokens = null!, _linW = null!, _linB = null!, _q = null!, _k = null!, _text = null!;
    private Tensor _t5x = null!, _t5g = null!, _t5w = null!;

    private Tensor Random(params int[] dims)
    {
        var shape = new Shape(dims);
        var r = new Random(dims.Sum());
        var v = new float[shape.Elements];
        for (int i = 0; i < v.Length; i++) v[i] = (float)(r.NextDouble() * 2 - 1);
        return _be.FromHost(v, shape);
    }

    [GlobalSetup]
    public void Setup()
    {
        _img = Random(2, 128, 64, 64);
        _convW = Random(128, 128, 3, 3);
        _convB = Random(128);
        _gamma = Random(128);
        _beta = Random(128);
        _ss = Random(2, 256);
        _tokens = Random(2, 1024, 128);
        _linW = Random(128, 128);
        _linB = Random(128);
        _q = Random(2, 1024, 128);
        _k = Random(2, 1024, 128);
        _text = Random(2, 77, 128);
        _t5x = Random(2, 77, 4096);
        _t5g = Random(4096);
        _t5w = Random(10240, 4096);
    }

    /// <summary>A 3×3 convolution, 128 → 128 channels at 64×64 (ResNet body).</summary>
    [Benchmark] public void Conv3x3() => _be.Conv2d(_img, _convW, _convB, 1).Dispose();

    /// <summary>GroupNorm(32) with FiLM scale/shift and exact GELU (ResNet head).</summary>
    [Benchmark] public void GroupNormFilmGelu() => _be.GroupNorm(_img, 32, 1e-5f, _gamma, _beta, _ss, Activation.Gelu).Dispose();

    /// <summary>A 128 → 128 projection of 2 × 1024 tokens (attention q/k/v/out).</summary>
    [Benchmark] public void LinearTokens() => _be.Linear(_tokens, _linW, _linB).Dispose();

    /// <summary>Self attention over 1024 image tokens plus 77 text keys, 2 heads of 64.</summary>
    [Benchmark] public void AttentionImageAndText() => _be.Attention(_q, _text, _text, 2, 0.125f, _k, _k).Dispose();

    /// <summary>T5-XXL: one gated-FFN input projection (2 × 77 tokens, 4096 → 10240) with the tanh GELU.</summary>
    [Benchmark] public void T5FfnProjection() => _be.Linear(_t5x, _t5w, null, Activation.GeluTanh).Dispose();

    /// <summary>T5-XXL: RMS norm of 2 × 77 × 4096.</summary>
    [Benchmark] public void T5RmsNorm() => _be.RmsNorm(_t5x, 1e-6f, _t5g).Dispose();
}
