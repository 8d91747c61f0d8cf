// PLACEHOLDER: the Weights helper replaces this file with the real reader/writer (same public API).
using FastIF.Tensors;

namespace FastIF.Weights;

/// <summary>A malformed or inconsistent safetensors file or index; the message names the file and tensor.</summary>
public sealed class SafetensorsException(string message) : FastIFException(message);

/// <summary>One tensor's header entry; offsets are absolute within the file.</summary>
public readonly record struct TensorEntry(string Name, DType DType, Shape Shape, long Offset, long Length);

/// <summary>A memory-mapped safetensors file with zero-copy tensor views.</summary>
public sealed class SafetensorsFile : IDisposable
{
    private SafetensorsFile() { }
    /// <summary>Maps and validates a file.</summary>
    public static SafetensorsFile Open(string path) => throw new NotImplementedException();
    /// <summary>The file path.</summary>
    public string Path => throw new NotImplementedException();
    /// <summary>The <c>__metadata__</c> map (empty when absent).</summary>
    public IReadOnlyDictionary<string, string> Metadata => throw new NotImplementedException();
    /// <summary>Entries in file order.</summary>
    public IReadOnlyList<TensorEntry> Entries => throw new NotImplementedException();
    /// <summary>Looks up an entry.</summary>
    public bool TryGetEntry(string name, out TensorEntry entry) => throw new NotImplementedException();
    /// <summary>The entry, or an error naming file and tensor.</summary>
    public TensorEntry GetEntry(string name) => throw new NotImplementedException();
    /// <summary>Zero-copy bytes of a tensor.</summary>
    public ReadOnlySpan<byte> GetBytes(string name) => throw new NotImplementedException();
    /// <summary>A float tensor converted to fp32.</summary>
    public float[] ReadFloat32(string name) => throw new NotImplementedException();
    /// <summary>An integer tensor (I64/I32) as long.</summary>
    public long[] ReadInt64(string name) => throw new NotImplementedException();
    /// <inheritdoc/>
    public void Dispose() { }
}

/// <summary>A checkpoint: one safetensors file or a sharded set behind an index, as one name space.</summary>
public sealed class Checkpoint : IDisposable
{
    private Checkpoint() { }
    /// <summary>Opens <c>{dir}/{baseName}[.{variant}].safetensors</c> or its sharded index.</summary>
    public static Checkpoint OpenDirectory(string dir, string baseName, string? variant = null) => throw new NotImplementedException();
    /// <summary>Opens a single .safetensors file or a .safetensors.index*.json.</summary>
    public static Checkpoint Open(string path) => throw new NotImplementedException();
    /// <summary>Description for messages (the file or index path).</summary>
    public string Source => throw new NotImplementedException();
    /// <summary>All tensor names.</summary>
    public IReadOnlyCollection<string> Names => throw new NotImplementedException();
    /// <summary>Looks up an entry.</summary>
    public bool TryGetEntry(string name, out TensorEntry entry) => throw new NotImplementedException();
    /// <summary>The entry, or an error naming the checkpoint and tensor.</summary>
    public TensorEntry GetEntry(string name) => throw new NotImplementedException();
    /// <summary>Zero-copy bytes of a tensor.</summary>
    public ReadOnlySpan<byte> GetBytes(string name) => throw new NotImplementedException();
    /// <summary>A float tensor converted to fp32.</summary>
    public float[] ReadFloat32(string name) => throw new NotImplementedException();
    /// <inheritdoc/>
    public void Dispose() { }
}

/// <summary>Streams a safetensors file: header first, then tensors in declared order; atomic on Commit.</summary>
public sealed class SafetensorsWriter : IDisposable
{
    /// <summary>Starts writing to a temporary file next to <paramref name="path"/>.</summary>
    public SafetensorsWriter(string path, IReadOnlyList<(string Name, DType DType, Shape Shape)> tensors,
        IReadOnlyDictionary<string, string>? metadata = null) => throw new NotImplementedException();
    /// <summary>Writes the next tensor's raw bytes.</summary>
    public void Write(string name, ReadOnlySpan<byte> data) => throw new NotImplementedException();
    /// <summary>Writes the next tensor from fp32 values, converting to its declared dtype.</summary>
    public void Write(string name, ReadOnlySpan<float> data) => throw new NotImplementedException();
    /// <summary>Flushes and renames the temporary file into place.</summary>
    public void Commit() => throw new NotImplementedException();
    /// <summary>Saves whole fp32 arrays (stored as <paramref name="storeAs"/>) in one call.</summary>
    public static void Save(string path, IEnumerable<(string Name, Shape Shape, float[] Data)> tensors,
        DType storeAs = DType.F32, IReadOnlyDictionary<string, string>? metadata = null) => throw new NotImplementedException();
    /// <inheritdoc/>
    public void Dispose() { }
}
