using System.Runtime.InteropServices;
using FastIF.Runtime;

namespace FastIF.Native;

/// <summary>
/// Base of every owned native CUDA-stack object. Driver objects remember their context and make it current before
/// being destroyed, because release may run on a finalizer thread where no context is current.
/// </summary>
public abstract class CudaHandle : SafeHandle
{
    private readonly nint _context;

    /// <summary>Takes ownership of <paramref name="value"/>; <paramref name="context"/> is the CUcontext it belongs to (0: none needed).</summary>
    protected CudaHandle(nint value, nint context) : base(0, true)
    {
        _context = context;
        SetHandle(value);
    }

    /// <summary>The raw handle (valid until disposed).</summary>
    public nint Value => handle;

    /// <inheritdoc/>
    public override bool IsInvalid => handle == 0;

    /// <summary>Destroys the raw handle; returns the library's status (0 = success).</summary>
    protected abstract int Destroy(nint value);

    /// <inheritdoc/>
    protected sealed override bool ReleaseHandle()
    {
        if (_context != 0 && CudaDriver.cuCtxSetCurrent(_context) != 0) return false;
        return Destroy(handle) == 0;
    }
}

/// <summary>Device memory from cuMemAlloc_v2; freed with cuMemFree_v2.</summary>
public sealed class DeviceMemory : CudaHandle
{
    internal DeviceMemory(ulong ptr, long bytes, nint context) : base((nint)ptr, context) => Bytes = bytes;

    /// <summary>The device address (CUdeviceptr).</summary>
    public ulong Pointer => (ulong)Value;

    /// <summary>Size in bytes.</summary>
    public long Bytes { get; }

    /// <inheritdoc/>
    protected override int Destroy(nint value) => CudaDriver.cuMemFree_v2((ulong)value);
}

/// <summary>Page-locked host memory from cuMemHostAlloc; freed with cuMemFreeHost.</summary>
public sealed unsafe class PinnedHostMemory : CudaHandle
{
    internal PinnedHostMemory(nint ptr, long bytes, nint context) : base(ptr, context) => Bytes = bytes;

    /// <summary>Size in bytes.</summary>
    public long Bytes { get; }

    /// <summary>The whole buffer viewed as elements of <typeparamref name="T"/>.</summary>
    public Span<T> AsSpan<T>() where T : unmanaged => new((void*)Value, checked((int)(Bytes / sizeof(T))));

    /// <inheritdoc/>
    protected override int Destroy(nint value) => CudaDriver.cuMemFreeHost((void*)value);
}

/// <summary>A CUstream (created non-blocking); destroyed with cuStreamDestroy_v2.</summary>
public sealed class CudaStream : CudaHandle
{
    internal CudaStream(nint stream, nint context) : base(stream, context) { }

    /// <summary>Blocks until all work queued on the stream has finished.</summary>
    public void Synchronize() => CudaDriver.Check(CudaDriver.cuStreamSynchronize(Value), "cuStreamSynchronize");

    /// <inheritdoc/>
    protected override int Destroy(nint value) => CudaDriver.cuStreamDestroy_v2(value);
}

/// <summary>A CUevent; destroyed with cuEventDestroy_v2.</summary>
public sealed unsafe class CudaEvent : CudaHandle
{
    internal CudaEvent(nint evt, nint context) : base(evt, context) { }

    /// <summary>Records the event on <paramref name="stream"/>.</summary>
    public void Record(CudaStream stream) => CudaDriver.Check(CudaDriver.cuEventRecord(Value, stream.Value), "cuEventRecord");

    /// <summary>Blocks until the event has completed.</summary>
    public void Synchronize() => CudaDriver.Check(CudaDriver.cuEventSynchronize(Value), "cuEventSynchronize");

    /// <summary>Milliseconds between <paramref name="start"/> and this event (both recorded and completed).</summary>
    public float ElapsedSince(CudaEvent start)
    {
        float ms;
        CudaDriver.Check(CudaDriver.cuEventElapsedTime(&ms, start.Value, Value), "cuEventElapsedTime");
        return ms;
    }

    /// <inheritdoc/>
    protected override int Destroy(nint value) => CudaDriver.cuEventDestroy_v2(value);
}

/// <summary>A loaded CUmodule; unloaded with cuModuleUnload.</summary>
public sealed unsafe class CudaModule : CudaHandle
{
    internal CudaModule(nint module, nint context) : base(module, context) { }

    /// <summary>Looks up an <c>extern "C"</c> kernel by name.</summary>
    public CudaFunction GetFunction(string name)
    {
        nint f;
        var bytes = System.Text.Encoding.UTF8.GetBytes(name + "\0");
        fixed (byte* p = bytes)
        {
            int rc = CudaDriver.cuModuleGetFunction(&f, Value, p);
            if (rc != 0) throw CudaDriver.Error(rc, $"cuModuleGetFunction('{name}')");
        }
        return new CudaFunction(f, name, this);
    }

    /// <inheritdoc/>
    protected override int Destroy(nint value) => CudaDriver.cuModuleUnload(value);
}

/// <summary>A CUgraph from stream capture; destroyed with cuGraphDestroy.</summary>
public sealed class CudaGraph : CudaHandle
{
    internal CudaGraph(nint graph, nint context) : base(graph, context) { }

    /// <inheritdoc/>
    protected override int Destroy(nint value) => CudaDriver.cuGraphDestroy(value);
}

/// <summary>An instantiated CUgraphExec; destroyed with cuGraphExecDestroy.</summary>
public sealed unsafe class CudaGraphExec : CudaHandle
{
    internal CudaGraphExec(nint exec, nint context) : base(exec, context) { }

    /// <summary>Launches the executable graph on <paramref name="stream"/>.</summary>
    public void Launch(CudaStream stream) => CudaDriver.Check(CudaDriver.cuGraphLaunch(Value, stream.Value), "cuGraphLaunch");

    /// <summary>Updates this executable graph in place from a topologically identical graph; false when the driver refuses.</summary>
    public bool TryUpdate(CudaGraph graph)
    {
        CudaDriver.GraphExecUpdateResultInfo info;
        int rc = CudaDriver.cuGraphExecUpdate_v2(Value, graph.Value, &info);
        return rc == 0;
    }

    /// <inheritdoc/>
    protected override int Destroy(nint value) => CudaDriver.cuGraphExecDestroy(value);
}
