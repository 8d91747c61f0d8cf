using System.Text;
using System.Text.Json;
using FastIF.Tensors;

namespace FastIF.Weights;

/// <summary>A malformed or inconsistent safetensors file or index; the message names the file and tensor.</summary>
public sealed class SafetensorsException(string message) : FastIFException(message);

/// <summary>One tensor's header entry; <see cref="Offset"/> is absolute within the file.</summary>
public readonly record struct TensorEntry(string Name, DType DType, Shape Shape, long Offset, long Length);

/// <summary>Parses and validates a safetensors header against the size of its file.</summary>
internal static class SafetensorsHeader
{
    /// <summary>Headers beyond this are refused before any allocation (the reference implementation allows 100 MB).</summary>
    public const long MaxHeaderBytes = 100_000_000;

    public static (List<TensorEntry> Entries, Dictionary<string, string> Metadata) Parse(ReadOnlySpan<byte> json, long dataStart,
        long fileLength, string path)
    {
        string Where(string? tensor) => tensor == null ? $"{path}" : $"{path}: tensor \"{tensor}\"";
        if (!System.Text.Unicode.Utf8.IsValid(json)) throw new SafetensorsException($"{path}: header is not valid UTF-8");
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(json.ToArray(), new JsonDocumentOptions { MaxDepth = 8 });
        }
        catch (JsonException e) { throw new SafetensorsException($"{path}: header is not valid JSON: {e.Message}"); }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw new SafetensorsException($"{path}: header must be a JSON object, got {doc.RootElement.ValueKind}");
            var entries = new List<TensorEntry>();
            var meta = new Dictionary<string, string>();
            var names = new HashSet<string>();
            long dataLength = fileLength - dataStart;
            foreach (var p in doc.RootElement.EnumerateObject())
            {
                if (!names.Add(p.Name)) throw new SafetensorsException($"{Where(p.Name)} appears twice in the header");
                if (p.Name == "__metadata__")
                {
                    if (p.Value.ValueKind != JsonValueKind.Object) throw new SafetensorsException($"{path}: __metadata__ must be an object");
                    foreach (var m in p.Value.EnumerateObject())
                    {
                        if (m.Value.ValueKind != JsonValueKind.String)
                            throw new SafetensorsException($"{path}: __metadata__ value \"{m.Name}\" must be a string, got {m.Value.ValueKind}");
                        meta[m.Name] = m.Value.GetString()!;
                    }
                    continue;
                }
                entries.Add(Entry(p, dataStart, dataLength, Where(p.Name)));
            }
            CheckLayout(entries, dataStart, dataLength, path);
            return (entries, meta);
        }
    }

    private static TensorEntry Entry(JsonProperty p, long dataStart, long dataLength, string where)
    {
        var v = p.Value;
        if (v.ValueKind != JsonValueKind.Object) throw new SafetensorsException($"{where}: entry must be an object");
        JsonElement? dtype = null, shape = null, offsets = null;
        foreach (var f in v.EnumerateObject())
        {
            switch (f.Name)
            {
                case "dtype": dtype = f.Value; break;
                case "shape": shape = f.Value; break;
                case "data_offsets": offsets = f.Value; break;
                default: throw new SafetensorsException($"{where}: unknown entry field \"{f.Name}\"");
            }
        }
        if (dtype is not { ValueKind: JsonValueKind.String } d) throw new SafetensorsException($"{where}: \"dtype\" must be a string");
        if (!DTypes.TryParseSafetensors(d.GetString()!, out var dt)) throw new SafetensorsException($"{where}: unknown dtype \"{d.GetString()}\"");
        if (shape is not { ValueKind: JsonValueKind.Array } s) throw new SafetensorsException($"{where}: \"shape\" must be an array");
        if (s.GetArrayLength() > 16) throw new SafetensorsException($"{where}: {s.GetArrayLength()} dimensions (at most 16 supported)");
        var dims = new int[s.GetArrayLength()];
        long elements = 1;
        int k = 0;
        foreach (var x in s.EnumerateArray())
        {
            if (x.ValueKind != JsonValueKind.Number || !x.TryGetInt64(out var dim) || dim < 0)
                throw new SafetensorsException($"{where}: shape entry {x.GetRawText()} is not a non-negative integer");
            if (dim > int.MaxValue) throw new SafetensorsException($"{where}: dimension {dim} exceeds {int.MaxValue}");
            dims[k++] = (int)dim;
            elements = elements == 0 || dim == 0 ? 0 : elements > long.MaxValue / dim
                ? throw new SafetensorsException($"{where}: shape [{string.Join(", ", dims[..k])}...] overflows the element count")
                : elements * dim;
        }
        if (offsets is not { ValueKind: JsonValueKind.Array } o || o.GetArrayLength() != 2)
            throw new SafetensorsException($"{where}: \"data_offsets\" must be [begin, end]");
        if (!o[0].TryGetInt64(out var begin) || !o[1].TryGetInt64(out var end) || begin < 0 || end < begin)
            throw new SafetensorsException($"{where}: data_offsets {o.GetRawText()} must be integers with 0 <= begin <= end");
        if (end > dataLength)
            throw new SafetensorsException($"{where}: data_offsets end {end} is beyond the {dataLength} data bytes of the file");
        long size = dt.Size();
        if (elements > long.MaxValue / size || elements * size != end - begin)
            throw new SafetensorsException($"{where}: {dt.SafetensorsName()} shape [{string.Join(", ", dims)}] needs {(elements > long.MaxValue / size ? "more than 2^63" : (elements * size).ToString())} bytes, data_offsets span {end - begin}");
        return new TensorEntry(p.Name, dt, new Shape(dims), dataStart + begin, end - begin);
    }

    /// <summary>The data section must be covered exactly: no overlaps, no holes, nothing after the last tensor.</summary>
    private static void CheckLayout(List<TensorEntry> entries, long dataStart, long dataLength, string path)
    {
        long cursor = dataStart;
        foreach (var e in entries.OrderBy(e => e.Offset).ThenBy(e => e.Length))
        {
            if (e.Offset < cursor)
                throw new SafetensorsException($"{path}: tensor \"{e.Name}\" overlaps the previous tensor's data (starts at {e.Offset - dataStart}, previous ends at {cursor - dataStart})");
            if (e.Offset > cursor)
                throw new SafetensorsException($"{path}: {e.Offset - cursor} unindexed bytes before tensor \"{e.Name}\"");
            cursor = e.Offset + e.Length;
        }
        if (cursor != dataStart + dataLength)
            throw new SafetensorsException($"{path}: {dataStart + dataLength - cursor} bytes after the last tensor are not indexed by the header");
    }

    /// <summary>Serialises a header (tensors in order, contiguous), padded with spaces to a multiple of 8 bytes.</summary>
    public static byte[] Write(IReadOnlyList<(string Name, DType DType, Shape Shape)> tensors, IReadOnlyDictionary<string, string>? metadata)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms))
        {
            w.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                w.WriteStartObject("__metadata__");
                foreach (var (k, v) in metadata) w.WriteString(k, v);
                w.WriteEndObject();
            }
            long offset = 0;
            var seen = new HashSet<string>();
            foreach (var (name, dtype, shape) in tensors)
            {
                if (name == "__metadata__" || !seen.Add(name)) throw new SafetensorsException($"cannot write tensor name \"{name}\" twice or as __metadata__");
                long bytes = checked(shape.Elements * dtype.Size());
                w.WriteStartObject(name);
                w.WriteString("dtype", dtype.SafetensorsName());
                w.WriteStartArray("shape");
                foreach (var d in shape) w.WriteNumberValue(d);
                w.WriteEndArray();
                w.WriteStartArray("data_offsets");
                w.WriteNumberValue(offset);
                w.WriteNumberValue(offset + bytes);
                w.WriteEndArray();
                w.WriteEndObject();
                offset += bytes;
            }
            w.WriteEndObject();
        }
        int pad = (int)((8 - ms.Length % 8) % 8);
        for (int i = 0; i < pad; i++) ms.WriteByte((byte)' ');
        return ms.ToArray();
    }
}
