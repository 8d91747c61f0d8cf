using System.Text.Json;
using System.Text.Json.Serialization;

namespace FastIF.Weights;

/// <summary>
/// A sharded checkpoint's index as HuggingFace writes it (<c>model.safetensors.index.json</c>,
/// <c>pytorch_model.bin.index.json</c>): <c>{"metadata": {"total_size": N}, "weight_map": {tensor: shard file}}</c>.
/// One reader and one writer for every index FastIF opens or makes.
/// </summary>
public static class ShardIndex
{
    /// <summary>The tensor → shard map, checked: an object <c>weight_map</c> of file names beside the index, each tensor once.</summary>
    public static Dictionary<string, string> ReadWeightMap(string indexPath)
    {
        try
        {
            var bytes = File.ReadAllBytes(indexPath);
            if (!System.Text.Unicode.Utf8.IsValid(bytes)) throw new SafetensorsException($"{indexPath}: not valid UTF-8");
            using var doc = JsonDocument.Parse(bytes, new JsonDocumentOptions { MaxDepth = 8 });
            if (doc.RootElement.ValueKind != JsonValueKind.Object || !doc.RootElement.TryGetProperty("weight_map", out var wm)
                || wm.ValueKind != JsonValueKind.Object)
                throw new SafetensorsException($"{indexPath}: a sharded index needs an object \"weight_map\"");
            var map = new Dictionary<string, string>();
            foreach (var p in wm.EnumerateObject())
            {
                if (p.Value.ValueKind != JsonValueKind.String) throw new SafetensorsException($"{indexPath}: weight_map[\"{p.Name}\"] must be a file name");
                var shard = p.Value.GetString()!;
                if (shard.Contains('/') || shard.Contains('\\') || shard is "." or "..")
                    throw new SafetensorsException($"{indexPath}: weight_map[\"{p.Name}\"] = \"{shard}\" must name a file beside the index");
                if (!map.TryAdd(p.Name, shard)) throw new SafetensorsException($"{indexPath}: tensor \"{p.Name}\" listed twice");
            }
            return map;
        }
        catch (JsonException e) { throw new SafetensorsException($"{indexPath}: not valid JSON: {e.Message}"); }
        catch (IOException e) { throw new SafetensorsException($"{indexPath}: cannot read: {e.Message}"); }
    }

    /// <summary>Writes an index (keys sorted, as HF does), atomically: a temporary file beside it, then a rename.</summary>
    public static void Write(string indexPath, long totalSize, IEnumerable<KeyValuePair<string, string>> weightMap)
    {
        var map = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var (tensor, shard) in weightMap) map[tensor] = shard;
        var doc = new Dictionary<string, object> { ["metadata"] = new Dictionary<string, long> { ["total_size"] = totalSize }, ["weight_map"] = map };
        var tmp = indexPath + ".tmp";
        File.WriteAllText(tmp, JsonSerializer.Serialize(doc, ShardIndexJson.Default.DictionaryStringObject) + "\n");
        File.Move(tmp, indexPath, overwrite: true);
    }
}

[JsonSerializable(typeof(Dictionary<string, object>))]
[JsonSerializable(typeof(Dictionary<string, long>))]
[JsonSerializable(typeof(SortedDictionary<string, string>))]
[JsonSourceGenerationOptions(WriteIndented = true)]
internal sealed partial class ShardIndexJson : JsonSerializerContext;
