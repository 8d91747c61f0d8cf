using FastIF.Native;

namespace FastIF.Runtime;

/// <summary>
/// A reusable page-locked buffer for host→device uploads of any size: the data is copied through it in chunks with
/// cuMemcpyHtoDAsync (which is only truly asynchronous from pinned memory).
/// </summary>
public sealed unsafe class PinnedStaging : IDisposable
{
    private readonly CudaContext _context;
    private readonly PinnedHostMemory _buffer;

    /// <summary>Allocates <paramref name="chunkBytes"/> of pinned memory.</summary>
    public PinnedStaging(CudaContext context, long chunkBytes = 64L << 20)
    {
        _context = context;
        _buffer = context.AllocatePinned(chunkBytes, "pinned staging buffer");
    }

    /// <summary>Copies <paramref name="source"/> to <paramref name="destination"/> + <paramref name="offsetBytes"/> on <paramref name="stream"/>; returns when done.</summary>
    public void Upload(ReadOnlySpan<byte> source, DeviceMemory destination, long offsetBytes, CudaStream stream)
    {
        if (offsetBytes < 0 || offsetBytes + source.Length > destination.Bytes)
            throw new ArgumentOutOfRangeException(nameof(offsetBytes), $"upload of {source.Length} bytes at {offsetBytes} exceeds the {destination.Bytes}-byte buffer");
        _context.MakeCurrent();
        var staging = new Span<byte>((void*)_buffer.Value, (int)Math.Min(_buffer.Bytes, int.MaxValue));
        for (long done = 0; done < source.Length;)
        {
            int n = (int)Math.Min(staging.Length, source.Length - done);
            source.Slice((int)done, n).CopyTo(staging);
            CudaDriver.Check(CudaDriver.cuMemcpyHtoDAsync_v2(destination.Pointer + (ulong)(offsetBytes + done), (void*)_buffer.Value, (nuint)n, stream.Value),
                "cuMemcpyHtoDAsync_v2");
            // The next chunk overwrites the staging buffer, so this copy must have finished reading it.
            stream.Synchronize();
            done += n;
        }
    }

    /// <inheritdoc/>
    public void Dispose() => _buffer.Dispose();
}
