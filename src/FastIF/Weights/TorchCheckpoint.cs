using System.IO.Compression;
using FastIF.Tensors;

namespace FastIF.Weights;

/// <summary>
/// A PyTorch <c>.bin</c> / <c>.pt</c> checkpoint (torch.save's zip format, PyTorch ≥ 1.6) read without PyTorch and without
/// executing its pickle (<see cref="TorchPickle"/>): the state dict's names, dtypes and shapes up front, each tensor's
/// bytes on request, read from its storage record and gathered into contiguous order when the view is strided.
/// </summary>
public sealed class TorchCheckpoint : IDisposable
{
    private static readonly byte[] LegacyMagic = [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];
    private const long MaxPickleBytes = 64L << 20; // a state dict's pickle is ~100 bytes a tensor
    private readonly ZipArchive _zip;
    private readonly string _prefix;
    private readonly Dictionary<string, TorchTensor> _tensors;
    private readonly List<string> _names;

    private TorchCheckpoint(string path, ZipArchive zip, string prefix, List<(string, TorchTensor)> tensors)
    {
        Path = path;
        _zip = zip;
        _prefix = prefix;
        _names = tensors.Select(t => t.Item1).ToList();
        _tensors = tensors.ToDictionary(t => t.Item1, t => t.Item2);
    }

    /// <summary>The file.</summary>
    public string Path { get; }

    /// <summary>Tensor names in file order.</summary>
    public IReadOnlyList<string> Names => _names;

    /// <summary>Opens and validates a checkpoint (the pickle and every storage record's size), reading no tensor data.</summary>
    public static TorchCheckpoint Open(string path)
    {
        FileStream fs;
        try { fs = File.OpenRead(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new TorchCheckpointException($"{path}: cannot open ({e.Message})"); }
        try
        {
            var head = new byte[LegacyMagic.Length];
            int n = fs.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
            if (n == head.Length && head.AsSpan().SequenceEqual(LegacyMagic))
                throw new TorchCheckpointException($"{path}: the legacy torch.save format (before PyTorch 1.6) is not supported; re-save it with torch >= 1.6");
            if (n < 4 || head[0] != (byte)'P' || head[1] != (byte)'K')
                throw new TorchCheckpointException($"{path}: not a PyTorch checkpoint (expected a zip archive from torch.save)");
            fs.Position = 0;
            ZipArchive zip;
            try { zip = new ZipArchive(fs, ZipArchiveMode.Read, leaveOpen: false); }
            catch (InvalidDataException e) { throw new TorchCheckpointException($"{path}: damaged zip archive ({e.Message})"); }
            try { return Read(path, zip); }
            catch (InvalidDataException e)
            {
                // ZipArchive reads its central directory lazily: damage can surface at the first look at the entries.
                zip.Dispose();
                throw new TorchCheckpointException($"{path}: damaged zip archive ({e.Message})");
            }
            catch { zip.Dispose(); throw; }
        }
        catch
        {
            fs.Dispose();
            throw;
        }
    }

    private static TorchCheckpoint Read(string path, ZipArchive zip)
    {
        var pkl = zip.Entries.FirstOrDefault(e => e.FullName.EndsWith("/data.pkl") && e.FullName.Count(c => c == '/') == 1)
            ?? throw new TorchCheckpointException($"{path}: no <archive>/data.pkl record: not a torch.save checkpoint");
        string prefix = pkl.FullName[..^"data.pkl".Length];
        if (zip.GetEntry(prefix + "byteorder") is { } bo)
        {
            var order = ReadAll(bo, 16, path).AsSpan().Trim((byte)'\n');
            if (!order.SequenceEqual("little"u8)) throw new TorchCheckpointException($"{path}: saved on a {System.Text.Encoding.ASCII.GetString(order)}-endian machine; only little-endian is supported");
        }
        var root = TorchPickle.Load(ReadAll(pkl, MaxPickleBytes, path), path);
        // Full checkpoints sometimes wrap the weights: {"state_dict": {...}} or {"model": {...}}.
        var entries = TorchPickle.Entries(root) ?? throw new TorchCheckpointException($"{path}: the pickle holds no dictionary of tensors");
        if (!entries.Any(e => e.Value is TorchTensor) && entries.FirstOrDefault(e => e.Key as string is "state_dict" or "model" or "module").Value is { } inner
            && TorchPickle.Entries(inner) is { } nested)
            entries = nested;
        var tensors = new List<(string, TorchTensor)>();
        foreach (var (key, value) in entries)
        {
            if (value is not TorchTensor t) continue; // non-tensor state (step counters, configs) is not weights
            if (key is not string name) throw new TorchCheckpointException($"{path}: a tensor is stored under the non-string key {key}");
            var rec = zip.GetEntry($"{prefix}data/{t.Storage.Key}")
                ?? throw new TorchCheckpointException($"{path}: tensor \"{name}\" views storage {t.Storage.Key}, which has no data/{t.Storage.Key} record");
            long need = t.Storage.Numel * t.Storage.DType.Size();
            if (rec.Length != need)
                throw new TorchCheckpointException($"{path}: storage {t.Storage.Key} holds {rec.Length} bytes, {t.Storage.Numel} x {t.Storage.DType} needs {need}");
            if (t.Size.Any(d => d > int.MaxValue) || t.Size.Aggregate(1L, (a, d) => d == 0 || a <= int.MaxValue / Math.Max(d, 1) ? a * d : long.MaxValue) > int.MaxValue)
                throw new TorchCheckpointException($"{path}: tensor \"{name}\" of shape [{string.Join(", ", t.Size)}] is too large to convert");
            tensors.Add((name, t));
        }
        if (tensors.Count == 0) throw new TorchCheckpointException($"{path}: no tensors in the checkpoint");
        return new TorchCheckpoint(path, zip, prefix, tensors);
    }

    private static byte[] ReadAll(ZipArchiveEntry e, long limit, string path)
    {
        if (e.Length > limit) throw new TorchCheckpointException($"{path}: record {e.FullName} of {e.Length} bytes exceeds {limit}");
        // The declared size is only trusted as far as data actually arrives: the buffer grows with what is read, so a
        // damaged directory entry cannot make us allocate gigabytes up front.
        var buf = new byte[(int)Math.Min(e.Length, 1 << 20)];
        int filled = 0;
        try
        {
            using var s = e.Open();
            while (true)
            {
                if (filled == buf.Length)
                {
                    if (buf.Length == e.Length)
                    {
                        if (s.ReadByte() >= 0) throw new TorchCheckpointException($"{path}: record {e.FullName} holds more than its declared {e.Length} bytes");
                        break;
                    }
                    Array.Resize(ref buf, (int)Math.Min(e.Length, 2L * buf.Length));
                }
                int n = s.Read(buf, filled, buf.Length - filled);
                if (n == 0) break;
                filled += n;
            }
        }
        catch (Exception ex) when (ex is InvalidDataException or IOException)
        {
            throw new TorchCheckpointException($"{path}: record {e.FullName} is damaged ({ex.Message})");
        }
        if (filled != e.Length) throw new TorchCheckpointException($"{path}: record {e.FullName} holds {filled} of its declared {e.Length} bytes");
        return buf;
    }

    /// <summary>The tensor's dtype and shape (Offset and Length are those of the contiguous copy <see cref="ReadBytes"/> returns).</summary>
    public bool TryGetEntry(string name, out TensorEntry entry)
    {
        entry = default;
        if (!_tensors.TryGetValue(name, out var t)) return false;
        var shape = new Shape(t.Size.Select(d => (int)d).ToArray());
        entry = new TensorEntry(name, t.Storage.DType, shape, 0, shape.Elements * t.Storage.DType.Size());
        return true;
    }

    /// <summary>The tensor's values as contiguous little-endian bytes of its stored dtype.</summary>
    public byte[] ReadBytes(string name)
    {
        if (!_tensors.TryGetValue(name, out var t)) throw new TorchCheckpointException($"{Path}: no tensor \"{name}\"");
        int es = t.Storage.DType.Size();
        long count = t.Size.Aggregate(1L, (a, d) => a * d);
        var dst = new byte[count * es];
        if (count == 0) return dst;
        var rec = _zip.GetEntry($"{_prefix}data/{t.Storage.Key}")!;
        // The storage record is read whole (a tensor rarely views a small part of a large one); views are gathered.
        var src = ReadAll(rec, Array.MaxLength, Path);
        long[] contiguous = new long[t.Size.Length];
        for (long k = t.Size.Length - 1, s = 1; k >= 0; s *= t.Size[k], k--) contiguous[k] = s;
        if (t.Stride.SequenceEqual(contiguous))
        {
            src.AsSpan((int)(t.Offset * es), dst.Length).CopyTo(dst);
            return dst;
        }
        var idx = new long[t.Size.Length];
        for (long i = 0; i < count; i++)
        {
            long off = t.Offset;
            for (int k = 0; k < idx.Length; k++) off += idx[k] * t.Stride[k];
            src.AsSpan((int)(off * es), es).CopyTo(dst.AsSpan((int)(i * es), es));
            for (int k = idx.Length - 1; k >= 0 && ++idx[k] == t.Size[k]; k--) idx[k] = 0;
        }
        return dst;
    }

    /// <summary>A float tensor converted to fp32.</summary>
    public float[] ReadFloat32(string name)
    {
        if (!TryGetEntry(name, out var e)) throw new TorchCheckpointException($"{Path}: no tensor \"{name}\"");
        var r = new float[e.Shape.Elements];
        DTypeConvert.ToFloat32(ReadBytes(name), e.DType, r);
        return r;
    }

    /// <summary>Closes the file.</summary>
    public void Dispose() => _zip.Dispose();
}
