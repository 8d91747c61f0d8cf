using FastIF.Native;
using FastIF.Runtime;

namespace FastIF.Backends.Cuda;

/// <summary>
/// A caching allocator for activations: freed blocks go back to a free list keyed by rounded size and are handed out
/// again, so the UNet's allocate-use-release pattern costs no cuMemAlloc after the first call. Work is stream-ordered on
/// the backend's one stream, so a block returned while kernels still read it is only reused by later work on that
/// stream. A CUDA graph gets a private pool: its scratch addresses are baked into the graph and must not be lent out.
/// </summary>
public sealed class DevicePool : IDisposable
{
    private readonly CudaContext _context;
    private readonly Dictionary<long, Stack<DeviceMemory>> _free = [];
    private readonly string _label;
    private bool _disposed;

    internal DevicePool(CudaContext context, string label)
    {
        _context = context;
        _label = label;
    }

    /// <summary>Bytes held from the device (in use plus cached).</summary>
    public long ReservedBytes { get; private set; }
    /// <summary>Bytes currently lent out.</summary>
    public long InUseBytes { get; private set; }
    /// <summary>The most bytes lent out at once since creation or <see cref="ResetPeak"/>.</summary>
    public long PeakInUseBytes { get; private set; }
    /// <summary>cuMemAlloc calls made (a warm pool makes none).</summary>
    public long DeviceAllocations { get; private set; }

    /// <summary>Starts a new peak measurement from the current use.</summary>
    public void ResetPeak() => PeakInUseBytes = InUseBytes;

    /// <summary>Sizes are rounded so near-equal requests share blocks: 512 B granules up to 1 MiB, then 1 MiB granules.</summary>
    public static long Round(long bytes) => bytes <= 1 << 20 ? (Math.Max(bytes, 1) + 511) & ~511L : (bytes + (1 << 20) - 1) & ~((1L << 20) - 1);

    internal DeviceBuffer Rent(long bytes, string what)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        long size = Round(bytes);
        DeviceMemory? mem = null;
        if (_free.TryGetValue(size, out var stack) && stack.Count > 0) mem = stack.Pop();
        if (mem == null)
        {
            try { mem = _context.Allocate(size, $"{_label}: {what}"); }
            catch (CudaOutOfMemoryException)
            {
                // Cached blocks of other sizes may be what stands in the way: give them back and try once more.
                _context.Synchronize();
                Trim();
                mem = _context.Allocate(size, $"{_label}: {what}");
            }
            ReservedBytes += size;
            DeviceAllocations++;
        }
        InUseBytes += size;
        PeakInUseBytes = Math.Max(PeakInUseBytes, InUseBytes);
        return new DeviceBuffer(mem, this);
    }

    internal void Return(DeviceMemory mem)
    {
        InUseBytes -= mem.Bytes;
        if (_disposed) { mem.Dispose(); return; }
        if (!_free.TryGetValue(mem.Bytes, out var stack)) _free[mem.Bytes] = stack = new Stack<DeviceMemory>();
        stack.Push(mem);
    }

    /// <summary>Frees every cached (not lent) block. The caller makes sure no queued work still uses them.</summary>
    public void Trim()
    {
        foreach (var stack in _free.Values)
            while (stack.Count > 0)
            {
                var m = stack.Pop();
                ReservedBytes -= m.Bytes;
                m.Dispose();
            }
    }

    /// <summary>Frees the cached blocks; blocks still lent are freed when their tensors are disposed.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        Trim();
        _disposed = true;
    }
}

/// <summary>Device memory shared by a tensor and its views (<c>ToTokens</c>, <c>Reshape</c>): freed or pooled with the last.</summary>
internal sealed class DeviceBuffer
{
    private DeviceMemory? _memory;
    private readonly DevicePool? _pool;
    private int _refs = 1;

    internal DeviceBuffer(DeviceMemory memory, DevicePool? pool)
    {
        _memory = memory;
        _pool = pool;
        Pointer = memory.Pointer;
        Bytes = memory.Bytes;
    }

    public ulong Pointer { get; }
    public long Bytes { get; }

    public DeviceBuffer AddRef()
    {
        if (_memory == null) throw new ObjectDisposedException("device buffer", "the tensor's device memory was already released");
        _refs++;
        return this;
    }

    public void Release()
    {
        if (--_refs > 0 || _memory == null) return;
        var m = _memory;
        _memory = null;
        if (_pool != null) _pool.Return(m);
        else m.Dispose();
    }
}
