using FastIF.Tensors;

namespace FastIF.Backends.Cpu;

/// <summary>A CPU tensor: fp32 values in a managed array, row-major in its logical shape.</summary>
public sealed class CpuTensor : Tensor
{
    internal CpuTensor(CpuBackend backend, Shape shape, float[] data) : base(backend, shape, DType.F32)
    {
        if (data.LongLength != shape.Elements)
            throw new ShapeException($"cpu tensor {shape} needs {shape.Elements} values, got {data.LongLength}");
        Data = data;
    }

    /// <summary>The values (row-major). Ops never modify an input's array.</summary>
    public float[] Data { get; }

    /// <inheritdoc/>
    protected override void Release() { }
}
