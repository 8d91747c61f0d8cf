using System.Runtime.InteropServices;
using FastIF.Native;
using FastIF.Tensors;

namespace FastIF.Backends.Cuda;

// Untyped device arrays for FastIF's own kernels (tables, counters, structs): bytes copied as they are, held in fp32
// tensors of the rounded-up size so they live in the same pool and are freed the same way.
public sealed unsafe partial class CudaBackend
{
    /// <summary>A device copy of <paramref name="data"/>'s bytes (blocks until copied).</summary>
    internal CudaTensor UploadRaw<T>(ReadOnlySpan<T> data) where T : unmanaged
    {
        var bytes = MemoryMarshal.AsBytes(data);
        var t = New(new Shape(Math.Max(1, (bytes.Length + 3) / 4)), DType.F32);
        WriteRaw(data, t);
        return t;
    }

    /// <summary>Overwrites the start of <paramref name="dst"/> with <paramref name="data"/>'s bytes (blocks until copied).</summary>
    internal void WriteRaw<T>(ReadOnlySpan<T> data, CudaTensor dst) where T : unmanaged
    {
        var bytes = MemoryMarshal.AsBytes(data);
        if (bytes.Length > dst.Bytes) throw new ShapeException($"WriteRaw: {bytes.Length} bytes into {dst.Bytes}");
        if (bytes.Length == 0) return;
        Context.MakeCurrent();
        fixed (byte* p = bytes)
            CudaDriver.Check(CudaDriver.cuMemcpyHtoDAsync_v2(dst.Pointer, p, (nuint)bytes.Length, Stream.Value), "cuMemcpyHtoDAsync_v2");
        Stream.Synchronize();
    }

    /// <summary>Reads the start of <paramref name="src"/> into <paramref name="dest"/> (waits for queued work).</summary>
    internal void ReadRaw<T>(CudaTensor src, Span<T> dest) where T : unmanaged
    {
        var bytes = MemoryMarshal.AsBytes(dest);
        if (bytes.Length > src.Bytes) throw new ShapeException($"ReadRaw: {bytes.Length} bytes from {src.Bytes}");
        if (bytes.Length == 0) return;
        Context.MakeCurrent();
        fixed (byte* p = bytes)
            CudaDriver.Check(CudaDriver.cuMemcpyDtoHAsync_v2(p, src.Pointer, (nuint)bytes.Length, Stream.Value), "cuMemcpyDtoHAsync_v2");
        Stream.Synchronize();
    }

    /// <summary>A kernel of one of FastIF's own sources other than the UNet's.</summary>
    internal Runtime.CudaFunction Kernel(string source, string name) => _kernels.GetFunction(source, name);

    /// <summary>Grid size for a grid-stride loop over <paramref name="n"/> items.</summary>
    internal uint GridFor(long n, int threads = 256) => Blocks(n, threads);
}
