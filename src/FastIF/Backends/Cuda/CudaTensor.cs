using FastIF.Tensors;

namespace FastIF.Backends.Cuda;

/// <summary>
/// A tensor in device memory. Rank-4 tensors are stored with axis 1 moved last (activations NHWC, convolution weights
/// OHWI, which is the same permutation); everything else in its logical row-major order. Views share the buffer.
/// </summary>
public sealed class CudaTensor : Tensor
{
    internal CudaTensor(CudaBackend backend, Shape shape, DType storage, DeviceBuffer buffer) : base(backend, shape, storage)
    {
        long need = shape.Elements * storage.Size();
        if (buffer.Bytes < need) throw new ShapeException($"cuda tensor {shape} {storage} needs {need} bytes, buffer has {buffer.Bytes}");
        Buffer = buffer;
    }

    internal DeviceBuffer Buffer { get; }

    /// <summary>The device address of the first element.</summary>
    public ulong Pointer => Buffer.Pointer;

    /// <summary>Bytes the values occupy.</summary>
    public long Bytes => Shape.Elements * Storage.Size();

    /// <inheritdoc/>
    protected override void Release() => Buffer.Release();
}
