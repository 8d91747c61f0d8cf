using FastIF.Native;

namespace FastIF.Runtime;

/// <summary>
/// Host→device uploads through two page-locked buffers used in turn: while the copy engine reads one, the CPU fills the
/// other (from a memory-mapped file that means the disk read and page faults overlap the PCIe transfer). Nothing waits for
/// the last copy: the caller's stream orders everything after it, and <see cref="Dispose"/> waits before freeing.
/// </summary>
public sealed unsafe class PinnedUploader : IDisposable
{
    private readonly CudaContext _context;
    private readonly CudaStream _stream;
    private readonly PinnedHostMemory[] _buffers;
    private readonly CudaEvent[] _done;
    private int _next;

    /// <summary>Two pinned buffers of <paramref name="chunkBytes"/> each, feeding <paramref name="stream"/>.</summary>
    public PinnedUploader(CudaContext context, CudaStream stream, long chunkBytes = 32L << 20)
    {
        if (chunkBytes <= 0 || chunkBytes > int.MaxValue) throw new ArgumentOutOfRangeException(nameof(chunkBytes));
        _context = context;
        _stream = stream;
        _buffers = [context.AllocatePinned(chunkBytes, "upload buffer A"), context.AllocatePinned(chunkBytes, "upload buffer B")];
        _done = [context.CreateEvent(timing: false), context.CreateEvent(timing: false)];
    }

    /// <summary>Total bytes queued so far.</summary>
    public long BytesUploaded { get; private set; }

    /// <summary>Queues the copy of <paramref name="source"/> to device address <paramref name="destination"/>; returns as soon
    /// as the data is in pinned memory (the span may then be reused).</summary>
    public void Upload(ReadOnlySpan<byte> source, ulong destination)
    {
        _context.MakeCurrent();
        for (int done = 0; done < source.Length;)
        {
            int k = _next;
            _next ^= 1;
            // The last copy out of this buffer must have finished before it is overwritten.
            _done[k].Synchronize();
            var buffer = _buffers[k].AsSpan<byte>();
            int n = Math.Min(buffer.Length, source.Length - done);
            source.Slice(done, n).CopyTo(buffer);
            CudaDriver.Check(CudaDriver.cuMemcpyHtoDAsync_v2(destination + (ulong)done, (void*)_buffers[k].Value, (nuint)n, _stream.Value),
                "cuMemcpyHtoDAsync_v2");
            _done[k].Record(_stream);
            done += n;
        }
        BytesUploaded += source.Length;
    }

    /// <summary>Waits for the queued copies, then frees the buffers.</summary>
    public void Dispose()
    {
        foreach (var e in _done) e.Synchronize();
        foreach (var e in _done) e.Dispose();
        foreach (var b in _buffers) b.Dispose();
    }
}
