using FastIF.Native;
using FastIF.Runtime;

namespace FastIF.Backends.Cuda;

/// <summary>
/// A whole sampling step (step kernels and UNet) as one CUDA graph. The step takes no per-call arguments (it reads the
/// current row of a device table through a device counter), so it is captured once and replayed unchanged. The first
/// <see cref="Run"/> is the real first step, executed eagerly in a private pool: it finds the convolution algorithms,
/// compiles the kernels and leaves the pool holding exactly what a step rents. The second captures the step (every rent
/// then served from that pool without a cuMemAlloc, so the baked addresses stay owned by it) and launches it; later calls
/// only launch. No allocation, no host synchronisation.
/// </summary>
public sealed class CudaStepGraph : IDisposable
{
    private readonly CudaBackend _backend;
    private readonly Action _step;
    private readonly DevicePool _pool;
    private CudaGraph? _graph;
    private CudaGraphExec? _exec;
    private int _calls;
    private bool _disposed;

    /// <summary>Wraps <paramref name="step"/>, which must queue the same work on the backend's stream on every call.</summary>
    public CudaStepGraph(CudaBackend backend, Action step)
    {
        _backend = backend;
        _step = step;
        _pool = backend.CreatePool("step graph");
    }

    /// <summary>Steps run so far.</summary>
    public int Calls => _calls;

    /// <summary>Device memory the step's scratch holds.</summary>
    public long ReservedBytes => _pool.ReservedBytes;

    /// <summary>Queues one step.</summary>
    public void Run()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_calls == 0)
        {
            using (_backend.UsePool(_pool)) _step();
        }
        else
        {
            if (_exec == null) Capture();
            _exec!.Launch(_backend.Stream);
        }
        _calls++;
    }

    private void Capture()
    {
        long before = _pool.DeviceAllocations;
        var ctx = _backend.Context;
        using (_backend.UsePool(_pool))
        {
            ctx.BeginCapture(_backend.Stream);
            try { _step(); }
            finally { _graph = ctx.EndCapture(_backend.Stream); }
        }
        if (_pool.DeviceAllocations != before)
            throw new FastIFException($"step graph: the step allocated {_pool.DeviceAllocations - before} new device blocks while being captured " +
                "(its allocation pattern differs between steps), so it cannot be replayed safely; run with graphs off");
        _exec = ctx.Instantiate(_graph!);
    }

    /// <summary>Frees the graph and its scratch once queued work has finished.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _backend.Synchronize();
        _exec?.Dispose();
        _graph?.Dispose();
        _pool.Dispose();
    }
}
