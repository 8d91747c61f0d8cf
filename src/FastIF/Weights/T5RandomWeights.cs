using FastIF.Models.T5;
using FastIF.Models.UNet;
using FastIF.Tensors;

namespace FastIF.Weights;

/// <summary>
/// Random weights of a T5 encoder's real shapes, written as HF writes a <c>text_encoder/</c> folder: <c>config.json</c>,
/// two shards <c>model-0000k-of-00002.safetensors</c> (split by bytes, inside a block as HF does) and
/// <c>model.safetensors.index.json</c>. Streamed tensor by tensor, so T5-XXL (9.5 GB in bf16) never sits in memory.
/// Scales keep activations O(1): linear weights N(0, 1/fan_in), norm scales 1 + N(0, 0.15²), the position-bias table
/// N(0, 0.05²), embeddings N(0, 1/D).
/// </summary>
public static class T5RandomWeights
{
    /// <summary>Writes the folder; returns the index path.</summary>
    public static string Write(T5Config config, string directory, DType dtype, ulong seed,
        IProgress<(long Done, long Total)>? progress = null, CancellationToken cancel = default)
    {
        if (dtype is not (DType.F32 or DType.F16 or DType.BF16))
            throw new ArgumentException($"random weights are written as F32, F16 or BF16, not {dtype}", nameof(dtype));
        Directory.CreateDirectory(directory);
        var specs = T5Weights.Expected(config).Select(t => new ParamSpec(t.Name, t.Shape, KindOf(t.Name))).OrderBy(s => s.Name, StringComparer.Ordinal).ToList();
        long total = specs.Sum(s => s.Shape.Elements), half = 0, done = 0;
        int split = 0;
        while (split < specs.Count && half < total / 2) half += specs[split++].Shape.Elements;
        var shards = new[] { specs[..split], specs[split..] };
        var map = new Dictionary<string, string>();
        var meta = new Dictionary<string, string> { ["format"] = "pt", ["producer"] = "fastif weights random", ["seed"] = seed.ToString() };
        for (int k = 0; k < 2; k++)
        {
            var name = $"model-{k + 1:D5}-of-00002.safetensors";
            using var w = new SafetensorsWriter(Path.Combine(directory, name), shards[k].Select(s => (s.Name, dtype, s.Shape)).ToList(), meta);
            foreach (var s in shards[k])
            {
                cancel.ThrowIfCancellationRequested();
                var values = new float[s.Shape.Elements];
                RandomWeights.Fill(values, s, seed);
                w.Write(s.Name, values);
                map[s.Name] = name;
                done += values.Length;
                progress?.Report((done, total));
            }
            w.Commit();
        }
        var index = Path.Combine(directory, "model.safetensors.index.json");
        ShardIndex.Write(index, total * dtype.Size(), map);
        File.WriteAllText(Path.Combine(directory, "config.json"), config.ToJson() + "\n");
        return index;
    }

    private static ParamKind KindOf(string name) =>
        name.EndsWith("layer_norm.weight") ? ParamKind.NormWeight
        : name == T5Weights.RelativeBias ? ParamKind.Bias
        : name == "shared.weight" ? ParamKind.Embedding
        : ParamKind.Weight;
}
