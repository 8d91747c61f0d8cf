using FastIF.Backends.Cpu;
using FastIF.Tensors;

namespace FastIF.Tests.Cpu;

/// <summary>Fresh random CPU tensors for the op tests: uniform in (−scale, scale).</summary>
internal static class CpuRandom
{
    public static Tensor Tensor(Random r, Shape s, float scale = 1f) =>
        CpuBackend.Instance.FromHost(Enumerable.Range(0, (int)s.Elements).Select(_ => (float)(r.NextDouble() * 2 - 1) * scale).ToArray(), s);

    public static Tensor Tensor(Random r, params int[] dims) => Tensor(r, new Shape(dims));
}
