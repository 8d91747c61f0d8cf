using System.Text.Json;

namespace FastIF.Weights;

/// <summary>
/// One name space over a checkpoint: a single safetensors file, or a sharded set behind a
/// <c>*.safetensors.index*.json</c> (<c>{"metadata": {...}, "weight_map": {tensor: shard}}</c>). Every shard is
/// mapped and cross-checked against the index at open.
/// </summary>
public sealed class Checkpoint : IDisposable
{
    private readonly List<SafetensorsFile> _files;
    private readonly Dictionary<string, SafetensorsFile> _owner;

    private Checkpoint(string source, List<SafetensorsFile> files, Dictionary<string, SafetensorsFile> owner)
    {
        Source = source;
        _files = files;
        _owner = owner;
    }

    /// <summary>
    /// Opens <c>{dir}/{baseName}[.{variant}].safetensors</c> or, when that is absent, its sharded index
    /// <c>{baseName}.safetensors.index[.{variant}].json</c> (diffusers' variant naming). The error lists what was
    /// looked for and says when only the other variant exists.
    /// </summary>
    public static Checkpoint OpenDirectory(string dir, string baseName, string? variant = null)
    {
        if (!Directory.Exists(dir)) throw new SafetensorsException($"{dir}: folder not found");
        string Single(string? v) => Path.Combine(dir, v == null ? $"{baseName}.safetensors" : $"{baseName}.{v}.safetensors");
        string Index(string? v) => Path.Combine(dir, v == null ? $"{baseName}.safetensors.index.json" : $"{baseName}.safetensors.index.{v}.json");
        if (File.Exists(Single(variant))) return Open(Single(variant));
        if (File.Exists(Index(variant))) return Open(Index(variant));
        var msg = $"{dir}: no weights: looked for {Path.GetFileName(Single(variant))} and {Path.GetFileName(Index(variant))}";
        if (variant != null && (File.Exists(Single(null)) || File.Exists(Index(null))))
            msg += $"; the folder has the default (non-variant) weights: drop the variant \"{variant}\"";
        else if (variant == null)
        {
            var others = Directory.GetFiles(dir, $"{baseName}.*.safetensors").Select(Path.GetFileName).ToList();
            if (others.Count > 0) msg += $"; the folder has {string.Join(", ", others)}: ask for that variant (e.g. --variant fp16)";
        }
        var bins = Directory.GetFiles(dir, "*.bin").Select(Path.GetFileName).ToList();
        if (bins.Count > 0) msg += $"; it has PyTorch checkpoints ({string.Join(", ", bins.Take(3))}): convert them with `fastif convert --in {dir}`";
        throw new SafetensorsException(msg);
    }

    /// <summary>Opens a single .safetensors file or a sharded index (.json).</summary>
    public static Checkpoint Open(string path)
    {
        if (path.EndsWith(".json", StringComparison.OrdinalIgnoreCase)) return OpenIndex(path);
        var f = SafetensorsFile.Open(path);
        return new Checkpoint(path, [f], f.Entries.ToDictionary(e => e.Name, _ => f));
    }

    private static Checkpoint OpenIndex(string indexPath)
    {
        var map = ShardIndex.ReadWeightMap(indexPath);

        var dir = Path.GetDirectoryName(Path.GetFullPath(indexPath))!;
        var files = new List<SafetensorsFile>();
        try
        {
            var byShard = new Dictionary<string, SafetensorsFile>();
            foreach (var shard in map.Values.Distinct().Order(StringComparer.Ordinal))
            {
                var p = Path.Combine(dir, shard);
                if (!File.Exists(p)) throw new SafetensorsException($"{indexPath}: shard {shard} is missing");
                var f = SafetensorsFile.Open(p);
                files.Add(f);
                byShard[shard] = f;
            }
            var problems = new List<string>();
            var owner = new Dictionary<string, SafetensorsFile>();
            foreach (var (tensor, shard) in map)
            {
                if (byShard[shard].TryGetEntry(tensor, out _)) owner[tensor] = byShard[shard];
                else problems.Add($"\"{tensor}\" is mapped to {shard}, which does not hold it");
            }
            foreach (var (shard, f) in byShard)
                foreach (var e in f.Entries)
                    if (!map.TryGetValue(e.Name, out var s) || s != shard) problems.Add($"\"{e.Name}\" in {shard} is not in the weight_map for that shard");
            if (problems.Count > 0)
                throw new SafetensorsException($"{indexPath}: index and shards disagree:\n  " + string.Join("\n  ", problems.Take(20))
                    + (problems.Count > 20 ? $"\n  ... and {problems.Count - 20} more" : ""));
            return new Checkpoint(indexPath, files, owner);
        }
        catch
        {
            foreach (var f in files) f.Dispose();
            throw;
        }
    }

    /// <summary>The file or index path, for messages.</summary>
    public string Source { get; }

    /// <summary>All tensor names.</summary>
    public IReadOnlyCollection<string> Names => _owner.Keys;

    /// <summary>Looks up an entry.</summary>
    public bool TryGetEntry(string name, out TensorEntry entry)
    {
        entry = default;
        return _owner.TryGetValue(name, out var f) && f.TryGetEntry(name, out entry);
    }

    /// <summary>The entry, or an error naming the checkpoint and tensor.</summary>
    public TensorEntry GetEntry(string name) => TryGetEntry(name, out var e) ? e : throw new SafetensorsException($"{Source}: no tensor \"{name}\"");

    /// <summary>The file holding a tensor.</summary>
    public string FileOf(string name) => _owner.TryGetValue(name, out var f) ? f.Path : throw new SafetensorsException($"{Source}: no tensor \"{name}\"");

    /// <summary>Zero-copy bytes of a tensor.</summary>
    public ReadOnlySpan<byte> GetBytes(string name) => Owner(name).GetBytes(name);

    /// <summary>A float tensor converted to fp32.</summary>
    public float[] ReadFloat32(string name) => Owner(name).ReadFloat32(name);

    private SafetensorsFile Owner(string name) =>
        _owner.TryGetValue(name, out var f) ? f : throw new SafetensorsException($"{Source}: no tensor \"{name}\"");

    /// <summary>Releases every shard's map.</summary>
    public void Dispose()
    {
        foreach (var f in _files) f.Dispose();
    }
}
