using FastIF.Native;

namespace FastIF.Backends.Cuda;

/// <summary>
/// Bounds how far the host runs ahead of the device in a sampling loop: before queueing a step it waits until the step
/// <c>depth</c> places earlier has finished (an event per slot, recorded after each step). The device always has the
/// next step queued, so this costs no idle time, while cancellation and progress stay within <c>depth</c> steps of
/// the device instead of waiting for a whole run that was queued at once.
/// </summary>
public sealed class CudaStepThrottle : IDisposable
{
    private readonly CudaBackend _backend;
    private readonly CudaEvent[] _slots;
    private long _queued;

    /// <summary>At most <paramref name="depth"/> steps in flight (at least 1).</summary>
    public CudaStepThrottle(CudaBackend backend, int depth = 2)
    {
        if (depth < 1) throw new ArgumentOutOfRangeException(nameof(depth), depth, "at least one step must be allowed in flight");
        _backend = backend;
        _slots = new CudaEvent[depth];
        try
        {
            for (int i = 0; i < depth; i++) _slots[i] = backend.Context.CreateEvent(timing: false);
        }
        catch
        {
            foreach (var e in _slots) e?.Dispose();
            throw;
        }
    }

    /// <summary>Call before queueing a step: waits for the step <c>depth</c> places back.</summary>
    public void BeforeStep()
    {
        if (_queued >= _slots.Length) _slots[_queued % _slots.Length].Synchronize();
    }

    /// <summary>Call after queueing a step: marks its end on the stream.</summary>
    public void AfterStep() => _slots[_queued++ % _slots.Length].Record(_backend.Stream);

    /// <summary>Releases the events.</summary>
    public void Dispose()
    {
        foreach (var e in _slots) e.Dispose();
    }
}
