using FastIF.Tensors;
using FastIF.Weights;

namespace FastIF.Models.T5;

/// <summary>
/// The HF names and shapes of a T5 encoder's tensors, checked against a checkpoint all at once: one error lists every
/// missing, mis-shaped or non-float tensor. Each tensor keeps its own stored dtype (fp16 checkpoints may hold F32
/// <c>wo</c>). <c>shared.weight</c> may appear as <c>encoder.embed_tokens.weight</c>; decoder and LM-head tensors of full
/// T5 checkpoints are ignored.
/// </summary>
public sealed class T5Weights
{
    /// <summary>The embedding's name in this checkpoint.</summary>
    public string Embedding { get; }
    private readonly T5Config _c;

    /// <summary>The names of block <paramref name="i"/>'s attention sub-layer tensors.</summary>
    public static string Attn(int i, string part) => $"encoder.block.{i}.layer.0.{part}";
    /// <summary>The names of block <paramref name="i"/>'s feed-forward sub-layer tensors.</summary>
    public static string Ffn(int i, string part) => $"encoder.block.{i}.layer.1.{part}";
    /// <summary>Block 0's relative position bias table <c>[buckets, heads]</c>.</summary>
    public const string RelativeBias = "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight";
    /// <summary>The final RMS norm.</summary>
    public const string FinalNorm = "encoder.final_layer_norm.weight";

    /// <summary>Every tensor the encoder reads, with its shape (embedding first).</summary>
    public static IEnumerable<(string Name, Shape Shape)> Expected(T5Config c, string embedding = "shared.weight")
    {
        yield return (embedding, new Shape(c.VocabSize, c.DModel));
        yield return (RelativeBias, new Shape(c.RelativeBuckets, c.NumHeads));
        for (int i = 0; i < c.NumLayers; i++)
        {
            yield return (Attn(i, "layer_norm.weight"), new Shape(c.DModel));
            foreach (var p in new[] { "q", "k", "v" }) yield return (Attn(i, $"SelfAttention.{p}.weight"), new Shape(c.InnerDim, c.DModel));
            yield return (Attn(i, "SelfAttention.o.weight"), new Shape(c.DModel, c.InnerDim));
            yield return (Ffn(i, "layer_norm.weight"), new Shape(c.DModel));
            yield return (Ffn(i, "DenseReluDense.wi_0.weight"), new Shape(c.DFf, c.DModel));
            yield return (Ffn(i, "DenseReluDense.wi_1.weight"), new Shape(c.DFf, c.DModel));
            yield return (Ffn(i, "DenseReluDense.wo.weight"), new Shape(c.DModel, c.DFf));
        }
        yield return (FinalNorm, new Shape(c.DModel));
    }

    /// <summary>Checks <paramref name="ckpt"/> against <paramref name="c"/>.</summary>
    public T5Weights(T5Config c, Checkpoint ckpt)
    {
        _c = c;
        Embedding = ckpt.TryGetEntry("shared.weight", out _) ? "shared.weight" : "encoder.embed_tokens.weight";
        var problems = new List<string>();
        var expected = new HashSet<string>();
        foreach (var (name, shape) in Expected(c, Embedding))
        {
            expected.Add(name);
            if (!ckpt.TryGetEntry(name, out var e)) problems.Add(name == Embedding ? "missing shared.weight (nor encoder.embed_tokens.weight)" : $"missing {name} {shape}");
            else if (e.Shape != shape) problems.Add($"mis-shaped {name}: file has {e.Shape}, config needs {shape}");
            else if (e.DType is not (DType.F32 or DType.F16 or DType.BF16)) problems.Add($"{name} is {e.DType}; T5 weights must be F32, F16 or BF16");
        }
        foreach (var name in ckpt.Names)
        {
            bool ignorable = name.StartsWith("decoder.") || name.StartsWith("lm_head.") || name == "encoder.embed_tokens.weight" || name == "shared.weight";
            if (!expected.Contains(name) && !ignorable) problems.Add($"unexpected {name}");
        }
        if (problems.Count > 0)
            throw new WeightMismatchException($"{ckpt.Source}: T5 weights do not match the config: {problems.Count} problem(s); first: {problems[0]}\n  "
                + string.Join("\n  ", problems.Take(30)) + (problems.Count > 30 ? $"\n  ... and {problems.Count - 30} more" : ""));
    }

    /// <summary>The stored bytes of the whole model (what streaming reads per encode).</summary>
    public long StoredBytes(Checkpoint ckpt) => Expected(_c, Embedding).Sum(t => ckpt.GetEntry(t.Name).Length);
}
