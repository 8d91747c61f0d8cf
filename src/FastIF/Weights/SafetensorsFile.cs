using System.Buffers.Binary;
using System.IO.MemoryMappedFiles;
using FastIF.Tensors;

namespace FastIF.Weights;

/// <summary>
/// A memory-mapped safetensors file: the header is validated once at open (every rule of the format, errors naming
/// the file and tensor), then tensors are zero-copy views into the map. Dispose releases the map; spans obtained
/// earlier must not be used after that.
/// </summary>
public sealed unsafe class SafetensorsFile : IDisposable
{
    private readonly MemoryMappedFile? _map;
    private readonly MemoryMappedViewAccessor? _view;
    private readonly byte* _base;
    private readonly Dictionary<string, TensorEntry> _byName;
    private bool _disposed;

    private SafetensorsFile(string path, MemoryMappedFile? map, MemoryMappedViewAccessor? view, byte* basePtr,
        List<TensorEntry> entries, Dictionary<string, string> metadata)
    {
        Path = path;
        _map = map;
        _view = view;
        _base = basePtr;
        Entries = entries;
        Metadata = metadata;
        _byName = entries.ToDictionary(e => e.Name);
    }

    /// <summary>Maps and validates a file.</summary>
    public static SafetensorsFile Open(string path)
    {
        long length;
        try { length = new FileInfo(path).Length; }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            throw new SafetensorsException($"{path}: cannot open: {e.Message}");
        }
        if (length < 8) throw new SafetensorsException($"{path}: {length} bytes is too short for a safetensors file (8-byte header length first)");
        MemoryMappedFile? map = null;
        MemoryMappedViewAccessor? view = null;
        try
        {
            map = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
            view = map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
            byte* p = null;
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
            p += view.PointerOffset;
            ulong n = BinaryPrimitives.ReadUInt64LittleEndian(new ReadOnlySpan<byte>(p, 8));
            if (n < 2 || n > SafetensorsHeader.MaxHeaderBytes || (long)n > length - 8)
                throw new SafetensorsException($"{path}: header length {n} is outside [2, min({SafetensorsHeader.MaxHeaderBytes}, file size - 8 = {length - 8})]");
            var (entries, meta) = SafetensorsHeader.Parse(new ReadOnlySpan<byte>(p + 8, (int)n), 8 + (long)n, length, path);
            var f = new SafetensorsFile(path, map, view, p, entries, meta);
            return f;
        }
        catch (Exception e)
        {
            if (view != null)
            {
                view.SafeMemoryMappedViewHandle.ReleasePointer();
                view.Dispose();
            }
            map?.Dispose();
            if (e is SafetensorsException) throw;
            if (e is IOException or UnauthorizedAccessException) throw new SafetensorsException($"{path}: cannot map: {e.Message}");
            throw;
        }
    }

    /// <summary>The file path.</summary>
    public string Path { get; }

    /// <summary>The <c>__metadata__</c> map (empty when absent).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>Entries in header order.</summary>
    public IReadOnlyList<TensorEntry> Entries { get; }

    /// <summary>Looks up an entry.</summary>
    public bool TryGetEntry(string name, out TensorEntry entry) => _byName.TryGetValue(name, out entry);

    /// <summary>The entry, or an error naming the file and tensor.</summary>
    public TensorEntry GetEntry(string name) => _byName.TryGetValue(name, out var e)
        ? e : throw new SafetensorsException($"{Path}: no tensor \"{name}\"");

    /// <summary>Zero-copy bytes of a tensor (valid until Dispose).</summary>
    public ReadOnlySpan<byte> GetBytes(string name)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var e = GetEntry(name);
        if (e.Length > int.MaxValue)
            throw new SafetensorsException($"{Path}: tensor \"{name}\" is {e.Length} bytes, beyond one span; read it in parts with ReadFloat32(name, start, dest)");
        return new ReadOnlySpan<byte>(_base + e.Offset, (int)e.Length);
    }

    /// <summary>A float tensor (F32, F16, BF16, F64) converted to fp32.</summary>
    public float[] ReadFloat32(string name)
    {
        var e = GetEntry(name);
        if (!e.DType.IsFloat()) throw new SafetensorsException($"{Path}: tensor \"{name}\" is {e.DType.SafetensorsName()}, not a float type");
        if (e.Shape.Elements > Array.MaxLength) throw new SafetensorsException($"{Path}: tensor \"{name}\" has too many elements for one array");
        var dst = new float[e.Shape.Elements];
        DTypeConvert.ToFloat32(GetBytes(name), e.DType, dst);
        return dst;
    }

    /// <summary>An integer tensor (I64, I32) as long.</summary>
    public long[] ReadInt64(string name)
    {
        var e = GetEntry(name);
        var raw = GetBytes(name);
        return e.DType switch
        {
            DType.I64 => System.Runtime.InteropServices.MemoryMarshal.Cast<byte, long>(raw).ToArray(),
            DType.I32 => System.Runtime.InteropServices.MemoryMarshal.Cast<byte, int>(raw).ToArray().Select(v => (long)v).ToArray(),
            _ => throw new SafetensorsException($"{Path}: tensor \"{name}\" is {e.DType.SafetensorsName()}, not I64 or I32"),
        };
    }

    /// <summary>Releases the map.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        if (_view != null)
        {
            _view.SafeMemoryMappedViewHandle.ReleasePointer();
            _view.Dispose();
        }
        _map?.Dispose();
    }
}
