using FastIF.Tensors;

namespace FastIF.Weights;

/// <summary>
/// PyTorch checkpoints to safetensors: one <c>.bin</c> to one <c>.safetensors</c> (streamed tensor by tensor, written
/// atomically), a sharded <c>*.bin.index.json</c> to shards plus a <c>*.safetensors.index.json</c>, or every checkpoint of
/// a folder. Names are kept (diffusers' and transformers' loaders find the result under the names they look for);
/// float tensors can be cast on the way.
/// </summary>
public static class TorchConverter
{
    /// <summary>The safetensors name diffusers/transformers look for beside a given .bin name.</summary>
    public static string SafetensorsName(string binName) => binName switch
    {
        "pytorch_model.bin" => "model.safetensors",
        _ when binName.StartsWith("pytorch_model.") && binName.EndsWith(".bin") => "model." + binName["pytorch_model.".Length..^4] + ".safetensors",
        _ when binName.StartsWith("pytorch_model-") && binName.EndsWith(".bin") => "model-" + binName["pytorch_model-".Length..^4] + ".safetensors",
        _ when binName.EndsWith(".bin") || binName.EndsWith(".pt") || binName.EndsWith(".pth") => System.IO.Path.ChangeExtension(binName, ".safetensors"),
        _ => binName + ".safetensors",
    };

    /// <summary>Converts one checkpoint; <paramref name="castTo"/> (F32/F16/BF16 or null to keep) applies to float tensors.</summary>
    public static void ConvertFile(string bin, string outPath, DType? castTo, IProgress<(long Done, long Total)>? progress = null,
        CancellationToken cancel = default)
    {
        using var ck = TorchCheckpoint.Open(bin);
        var decl = new List<(string, DType, Shape)>();
        foreach (var name in ck.Names)
        {
            ck.TryGetEntry(name, out var e);
            decl.Add((name, castTo is { } c && e.DType.IsFloat() ? c : e.DType, e.Shape));
        }
        long total = decl.Sum(d => d.Item3.Elements), done = 0;
        var meta = new Dictionary<string, string> { ["format"] = "pt", ["producer"] = "fastif convert", ["source"] = System.IO.Path.GetFileName(bin) };
        using var w = new SafetensorsWriter(outPath, decl, meta);
        foreach (var (name, dt, shape) in decl)
        {
            cancel.ThrowIfCancellationRequested();
            ck.TryGetEntry(name, out var e);
            if (dt == e.DType) w.Write(name, ck.ReadBytes(name));
            else w.Write(name, ck.ReadFloat32(name));
            done += shape.Elements;
            progress?.Report((done, total));
        }
        w.Commit();
    }

    /// <summary>
    /// Converts what <paramref name="input"/> names (a .bin, a .bin index, or a folder of them) into
    /// <paramref name="output"/> (a file for a single .bin, else a folder; default: beside the input); returns the files written.
    /// </summary>
    public static List<string> Convert(string input, string? output, DType? castTo, Action<string>? onFile = null,
        IProgress<(long Done, long Total)>? progress = null, CancellationToken cancel = default)
    {
        var written = new List<string>();
        if (Directory.Exists(input))
        {
            var indexes = Directory.GetFiles(input, "*.bin.index*.json").Order().ToList();
            var sharded = new HashSet<string>();
            foreach (var ix in indexes)
            {
                sharded.UnionWith(ShardIndex.ReadWeightMap(ix).Values);
                written.AddRange(Convert(ix, output ?? input, castTo, onFile, progress, cancel));
            }
            foreach (var bin in Directory.GetFiles(input).Where(f => f.EndsWith(".bin") || f.EndsWith(".pt") || f.EndsWith(".pth")).Order())
                if (!sharded.Contains(System.IO.Path.GetFileName(bin))) written.AddRange(Convert(bin, output ?? input, castTo, onFile, progress, cancel));
            if (written.Count == 0) throw new FastIFException($"{input}: no .bin/.pt checkpoints or .bin index in this folder");
            return written;
        }
        if (!File.Exists(input)) throw new FastIFException($"{input}: not found");
        string dir = output ?? System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(input))!;
        if (input.EndsWith(".json"))
        {
            var map = ShardIndex.ReadWeightMap(input);
            var shards = map.Values.Distinct().Order(StringComparer.Ordinal).ToList();
            string inDir = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(input))!;
            Directory.CreateDirectory(dir);
            long totalBytes = 0;
            var newMap = new Dictionary<string, string>();
            try
            {
                foreach (var shard in shards)
                {
                    var target = System.IO.Path.Combine(dir, SafetensorsName(shard));
                    onFile?.Invoke(target);
                    ConvertFile(System.IO.Path.Combine(inDir, shard), target, castTo, progress, cancel);
                    written.Add(target);
                    using var f = SafetensorsFile.Open(target);
                    foreach (var e in f.Entries)
                    {
                        totalBytes += e.Length;
                        newMap[e.Name] = System.IO.Path.GetFileName(target);
                    }
                }
                foreach (var name in map.Keys) if (!newMap.ContainsKey(name)) throw new FastIFException($"{input}: the index lists \"{name}\" but its shard does not hold it");
                var indexPath = System.IO.Path.Combine(dir, IndexName(System.IO.Path.GetFileName(input)));
                ShardIndex.Write(indexPath, totalBytes, newMap);
                written.Add(indexPath);
                return written;
            }
            catch
            {
                // Shards without their index are a half-converted checkpoint nothing can load: take back what this call wrote.
                foreach (var f in written) File.Delete(f);
                throw;
            }
        }
        var outPath = output != null && (Directory.Exists(output) || output.EndsWith('/'))
            ? System.IO.Path.Combine(output, SafetensorsName(System.IO.Path.GetFileName(input)))
            : output ?? System.IO.Path.Combine(dir, SafetensorsName(System.IO.Path.GetFileName(input)));
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(outPath))!);
        onFile?.Invoke(outPath);
        ConvertFile(input, outPath, castTo, progress, cancel);
        written.Add(outPath);
        return written;
    }

    /// <summary>pytorch_model.bin.index[.v].json → model.safetensors.index[.v].json; X.bin.index.json → X.safetensors.index.json.</summary>
    public static string IndexName(string binIndex) => binIndex.StartsWith("pytorch_model.bin.index")
        ? "model.safetensors.index" + binIndex["pytorch_model.bin.index".Length..]
        : binIndex.Replace(".bin.index", ".safetensors.index");
}
