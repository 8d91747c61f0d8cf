using FastIF.Benchmarking;
using FastIF.Native;

namespace FastIF.Backends.Cuda;

/// <summary>
/// Times ops with CUDA events on the backend's stream: recording costs no synchronisation, so the step runs as it
/// would unprofiled (minus the graph); the times are read once at the end. Events are pooled across steps.
/// </summary>
public sealed class CudaOpClock(CudaBackend backend) : IOpClock
{
    private readonly List<CudaEvent> _pool = [];
    private readonly List<(int Start, int Stop)> _marks = [];
    private int _used;

    private int Record()
    {
        if (_used == _pool.Count) _pool.Add(backend.Context.CreateEvent(timing: true));
        _pool[_used].Record(backend.Stream);
        return _used++;
    }

    /// <inheritdoc/>
    public int Start()
    {
        _marks.Add((Record(), -1));
        return _marks.Count - 1;
    }

    /// <inheritdoc/>
    public void Stop(int token) => _marks[token] = (_marks[token].Start, Record());

    /// <inheritdoc/>
    public double[] Resolve()
    {
        backend.Synchronize();
        var ms = _marks.Select(m => m.Stop < 0 ? 0.0 : (double)_pool[m.Stop].ElapsedSince(_pool[m.Start])).ToArray();
        _marks.Clear();
        _used = 0;
        return ms;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        foreach (var e in _pool) e.Dispose();
        _pool.Clear();
    }
}
