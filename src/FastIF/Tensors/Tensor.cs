using FastIF.Backends;

namespace FastIF.Tensors;

/// <summary>
/// A tensor owned by a backend. Shapes are logical PyTorch shapes (images NCHW, token sequences
/// [B, L, C]); each backend chooses its own physical layout and storage type behind them.
/// Disposing releases the storage; a tensor must not be used after that.
/// </summary>
public abstract class Tensor : IDisposable
{
    /// <summary>Creates a tensor header.</summary>
    protected Tensor(IBackend backend, Shape shape, DType storage)
    {
        Backend = backend;
        Shape = shape;
        Storage = storage;
    }

    /// <summary>The backend that owns the storage; ops only accept tensors of their own backend.</summary>
    public IBackend Backend { get; }

    /// <summary>Logical shape.</summary>
    public Shape Shape { get; }

    /// <summary>The element type the storage holds (F32 on the CPU backend).</summary>
    public DType Storage { get; }

    /// <summary>True once disposed.</summary>
    public bool IsDisposed { get; private set; }

    /// <summary>Releases the storage.</summary>
    public void Dispose()
    {
        if (IsDisposed) return;
        IsDisposed = true;
        Release();
        GC.SuppressFinalize(this);
    }

    /// <summary>Frees backend storage exactly once.</summary>
    protected abstract void Release();

    /// <summary>Copies the values to a new host array (fp32).</summary>
    public float[] ToArray()
    {
        var a = new float[Shape.Elements];
        Backend.ToHost(this, a);
        return a;
    }

    /// <inheritdoc/>
    public override string ToString() => $"{Backend.Name} tensor {Shape} {Storage}";
}
