using System.Buffers.Binary;
using System.Runtime.InteropServices;
using FastIF.Tensors;

namespace FastIF.Weights;

/// <summary>
/// Streams a safetensors file: the header (all names, dtypes and shapes) first, then each tensor in declared order,
/// so a real-size checkpoint passes through memory one tensor at a time. Writes go to a temporary file beside the
/// target, moved into place by <see cref="Commit"/>; disposing without committing deletes it.
/// </summary>
public sealed class SafetensorsWriter : IDisposable
{
    private readonly string _path, _temp;
    private readonly IReadOnlyList<(string Name, DType DType, Shape Shape)> _tensors;
    private FileStream? _stream;
    private int _next;
    private bool _committed;

    /// <summary>Starts writing to a temporary file next to <paramref name="path"/>.</summary>
    public SafetensorsWriter(string path, IReadOnlyList<(string Name, DType DType, Shape Shape)> tensors,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        _path = Path.GetFullPath(path);
        _tensors = tensors;
        var header = SafetensorsHeader.Write(tensors, metadata);
        var dir = Path.GetDirectoryName(_path)!;
        Directory.CreateDirectory(dir);
        _temp = Path.Combine(dir, $".{Path.GetFileName(_path)}.tmp-{Guid.NewGuid():N}");
        _stream = new FileStream(_temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20);
        Span<byte> len = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(len, (ulong)header.Length);
        _stream.Write(len);
        _stream.Write(header);
    }

    private (string Name, DType DType, Shape Shape) Expect(string name, long bytes)
    {
        if (_stream == null) throw new InvalidOperationException($"{_path}: writer is closed");
        if (_next >= _tensors.Count) throw new SafetensorsException($"{_path}: \"{name}\" written after all {_tensors.Count} declared tensors");
        var t = _tensors[_next];
        if (t.Name != name) throw new SafetensorsException($"{_path}: expected tensor \"{t.Name}\" next (declared order), got \"{name}\"");
        long need = t.Shape.Elements * t.DType.Size();
        if (bytes != need) throw new SafetensorsException($"{_path}: tensor \"{name}\" {t.DType.SafetensorsName()} {t.Shape} needs {need} bytes, got {bytes}");
        _next++;
        return t;
    }

    /// <summary>Writes the next tensor's raw little-endian bytes.</summary>
    public void Write(string name, ReadOnlySpan<byte> data)
    {
        Expect(name, data.Length);
        _stream!.Write(data);
    }

    /// <summary>Writes the next tensor from fp32 values, converted to its declared dtype (F32, F16, BF16).</summary>
    public void Write(string name, ReadOnlySpan<float> data)
    {
        var t = _tensors.ElementAtOrDefault(_next);
        int size = t.Name == name ? t.DType.Size() : 4;
        Expect(name, (long)data.Length * size);
        const int Chunk = 1 << 20;
        var buf = new byte[Math.Min(data.Length, Chunk) * size];
        for (int i = 0; i < data.Length; i += Chunk)
        {
            int n = Math.Min(Chunk, data.Length - i);
            DTypeConvert.FromFloat32(data.Slice(i, n), t.DType, buf.AsSpan(0, n * size));
            _stream!.Write(buf, 0, n * size);
        }
    }

    /// <summary>Writes the next tensor from int64 values (declared I64).</summary>
    public void Write(string name, ReadOnlySpan<long> data)
    {
        var t = _tensors.ElementAtOrDefault(_next);
        if (t.Name == name && t.DType != DType.I64) throw new SafetensorsException($"{_path}: tensor \"{name}\" is declared {t.DType}, not I64");
        Write(name, MemoryMarshal.AsBytes(data));
    }

    /// <summary>Flushes to disk and moves the temporary file into place.</summary>
    public void Commit()
    {
        if (_stream == null) throw new InvalidOperationException($"{_path}: writer is closed");
        if (_next != _tensors.Count)
            throw new SafetensorsException($"{_path}: only {_next} of {_tensors.Count} tensors written (next: \"{_tensors[_next].Name}\")");
        _stream.Flush(flushToDisk: true);
        _stream.Dispose();
        _stream = null;
        File.Move(_temp, _path, overwrite: true);
        _committed = true;
    }

    /// <summary>Saves whole fp32 arrays (stored as <paramref name="storeAs"/>) in one call.</summary>
    public static void Save(string path, IEnumerable<(string Name, Shape Shape, float[] Data)> tensors,
        DType storeAs = DType.F32, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var list = tensors.ToList();
        using var w = new SafetensorsWriter(path, list.Select(t => (t.Name, storeAs, t.Shape)).ToList(), metadata);
        foreach (var t in list) w.Write(t.Name, t.Data);
        w.Commit();
    }

    /// <summary>Closes; deletes the temporary file unless committed.</summary>
    public void Dispose()
    {
        _stream?.Dispose();
        _stream = null;
        if (!_committed && File.Exists(_temp)) File.Delete(_temp);
    }
}
