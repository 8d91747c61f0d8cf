using FastIF.Native;
using FastIF.Runtime;
using FastIF.Tensors;

namespace FastIF.Backends.Cuda;

/// <summary>
/// One forward function (a UNet call, a whole sampling step) captured as a CUDA graph for fixed input shapes and
/// replayed. The function runs once eagerly in a private pool (which finds every convolution algorithm, compiles every
/// kernel and leaves the pool holding exactly the blocks the function rents), then once under stream capture: every
/// rent is then served from that pool without a cuMemAlloc, and the addresses baked into the graph stay owned by it.
/// A replay copies the inputs into the graph's input tensors, launches, and copies the output out: no allocation and
/// no host synchronisation.
/// </summary>
public sealed class CudaGraphRunner : IDisposable
{
    private readonly CudaBackend _backend;
    private readonly DevicePool _pool;
    private readonly CudaTensor[] _inputs;
    private readonly Tensor _output;
    private readonly CudaGraph _graph;
    private readonly CudaGraphExec _exec;
    private bool _disposed;

    /// <summary>Captures <paramref name="forward"/> for inputs of <paramref name="inputShapes"/> (rank-1 inputs are fp32, like
    /// <see cref="CudaBackend.FromHost"/>'s; the rest in the backend's precision).</summary>
    public CudaGraphRunner(CudaBackend backend, Func<IReadOnlyList<Tensor>, Tensor> forward, params Shape[] inputShapes)
    {
        _backend = backend;
        _pool = backend.CreatePool("graph");
        var inputs = new List<CudaTensor>();
        Tensor? output = null;
        CudaGraph? graph = null;
        try
        {
            using (backend.UsePool(_pool))
            {
                foreach (var s in inputShapes) inputs.Add(backend.New(s, s.Rank == 1 ? DType.F32 : backend.Precision));
                // Inputs are uninitialised memory: zero them so the warm-up pass does arithmetic on numbers.
                foreach (var t in inputs) backend.Zero(t);
                forward(inputs).Dispose();
                backend.Synchronize();
                long before = _pool.DeviceAllocations;
                backend.Context.BeginCapture(backend.Stream);
                try { output = forward(inputs); }
                finally { graph = backend.Context.EndCapture(backend.Stream); }
                if (_pool.DeviceAllocations != before)
                    throw new FastIFException($"graph capture: the forward allocated {_pool.DeviceAllocations - before} new device blocks " +
                        "while being captured (its allocation pattern differs between calls), so it cannot be replayed safely");
            }
            _exec = backend.Context.Instantiate(graph);
            _graph = graph;
            _output = output;
            _inputs = [.. inputs];
        }
        catch
        {
            output?.Dispose();
            graph?.Dispose();
            foreach (var t in inputs) t.Dispose();
            _pool.Dispose();
            throw;
        }
    }

    /// <summary>The shape of the function's output.</summary>
    public Shape OutputShape => _output.Shape;

    /// <summary>Device memory the graph's scratch and I/O hold.</summary>
    public long ReservedBytes => _pool.ReservedBytes;

    /// <summary>Queues one replay: <paramref name="inputs"/> (this backend's tensors of the captured shapes) in, the output
    /// copied into <paramref name="output"/>.</summary>
    public void Run(IReadOnlyList<Tensor> inputs, Tensor output)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (inputs.Count != _inputs.Length) throw new ShapeException($"graph: {inputs.Count} inputs given, {_inputs.Length} captured");
        for (int i = 0; i < inputs.Count; i++) _backend.CopyInto(inputs[i], _inputs[i]);
        _exec.Launch(_backend.Stream);
        _backend.CopyInto(_output, output);
    }

    /// <summary>Replays with the inputs already in place (for timing the graph alone).</summary>
    public void Replay()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        _exec.Launch(_backend.Stream);
    }

    /// <summary>The graph's own input tensors (write into them with <see cref="CudaBackend.CopyInto"/>).</summary>
    public IReadOnlyList<Tensor> Inputs => _inputs;

    /// <summary>The graph's own output tensor, valid after a replay completes and until the next.</summary>
    public Tensor Output => _output;

    /// <summary>Frees the graph and its memory once queued work has finished.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _backend.Synchronize();
        _exec.Dispose();
        _graph.Dispose();
        _output.Dispose();
        foreach (var t in _inputs) t.Dispose();
        _pool.Dispose();
    }
}
