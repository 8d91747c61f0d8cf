using System.Text.Json;

namespace FastIF.Models.T5;

/// <summary>
/// A T5 v1.1 encoder's <c>config.json</c> (HuggingFace keys), as FastIF implements it: gated-GELU (tanh) feed-forward,
/// RMS norms, bidirectional bucketed relative position bias. Sizes come from the file; anything this encoder does not
/// implement is a <see cref="ConfigException"/> naming the key.
/// </summary>
public sealed record T5Config
{
    /// <summary>Model width.</summary>
    public required int DModel { get; init; }
    /// <summary>Per-head width.</summary>
    public required int DKv { get; init; }
    /// <summary>Attention heads.</summary>
    public required int NumHeads { get; init; }
    /// <summary>Feed-forward width.</summary>
    public required int DFf { get; init; }
    /// <summary>Encoder blocks.</summary>
    public required int NumLayers { get; init; }
    /// <summary>Embedding rows.</summary>
    public required int VocabSize { get; init; }
    /// <summary>Relative position buckets (both directions together).</summary>
    public int RelativeBuckets { get; init; } = 32;
    /// <summary>Distance from which every offset shares the last bucket.</summary>
    public int RelativeMaxDistance { get; init; } = 128;
    /// <summary>RMS norm epsilon.</summary>
    public float LayerNormEpsilon { get; init; } = 1e-6f;

    /// <summary>Width of the attention's inner space (heads × d_kv; need not equal d_model).</summary>
    public int InnerDim => NumHeads * DKv;

    /// <summary>The real t5-v1_1-xxl encoder that IF uses.</summary>
    public static T5Config Xxl { get; } = new() { DModel = 4096, DKv = 64, NumHeads = 64, DFf = 10240, NumLayers = 24, VocabSize = 32128 };

    /// <summary>Parameters of the encoder (embedding, blocks, final norm).</summary>
    public long Parameters =>
        (long)VocabSize * DModel + (long)RelativeBuckets * NumHeads + DModel
        + NumLayers * (4L * DModel * InnerDim + 3L * DModel * DFf + 2L * DModel);

    /// <summary>Reads a config file.</summary>
    public static T5Config Load(string path)
    {
        if (!File.Exists(path)) throw new ConfigException($"{path}: text encoder config not found");
        return Parse(File.ReadAllText(path), path);
    }

    /// <summary>Parses config JSON; every problem found is listed in one error.</summary>
    public static T5Config Parse(string json, string source = "config.json")
    {
        JsonDocument doc;
        try { doc = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 16 }); }
        catch (JsonException e) { throw new ConfigException($"{source}: not valid JSON ({e.Message})"); }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw new ConfigException($"{source}: expected a JSON object");
            var problems = new List<string>();
            int Int(string key, int? fallback = null)
            {
                if (!root.TryGetProperty(key, out var e) || e.ValueKind == JsonValueKind.Null)
                {
                    if (fallback is { } f) return f;
                    problems.Add($"\"{key}\" is missing");
                    return 1;
                }
                if (e.ValueKind != JsonValueKind.Number || !e.TryGetInt32(out int v) || v <= 0)
                {
                    problems.Add($"\"{key}\" must be a positive integer, got {e.GetRawText()}");
                    return 1;
                }
                return v;
            }
            string? Str(string key) => root.TryGetProperty(key, out var e) && e.ValueKind == JsonValueKind.String ? e.GetString() : null;

            if (Str("model_type") is { } mt && mt != "t5") problems.Add($"\"model_type\" is \"{mt}\"; this is a T5 encoder");
            if (root.TryGetProperty("architectures", out var arch) && arch.ValueKind == JsonValueKind.Array
                && !arch.EnumerateArray().Any(a => a.ValueKind == JsonValueKind.String && a.GetString() is "T5EncoderModel" or "T5ForConditionalGeneration" or "T5Model"))
                problems.Add($"\"architectures\" {arch.GetRawText()} names no T5 model");
            // v1.1 (IF's) is gated GELU, tanh form; the original T5 (ReLU) and other activations are not implemented.
            var ffp = Str("feed_forward_proj") ?? "relu";
            if (ffp != "gated-gelu") problems.Add($"\"feed_forward_proj\" is \"{ffp}\"; FastIF implements T5 v1.1's \"gated-gelu\"");
            if (Str("dense_act_fn") is { } act && act is not ("gelu_new" or "gelu_pytorch_tanh"))
                problems.Add($"\"dense_act_fn\" is \"{act}\"; FastIF implements the tanh GELU (\"gelu_new\")");
            if (root.TryGetProperty("is_gated_act", out var ga) && ga.ValueKind == JsonValueKind.False)
                problems.Add("\"is_gated_act\" is false; T5 v1.1's feed-forward is gated");
            float eps = 1e-6f;
            if (root.TryGetProperty("layer_norm_epsilon", out var le))
            {
                if (le.ValueKind == JsonValueKind.Number && le.GetDouble() is > 0 and < 1 and var d) eps = (float)d;
                else problems.Add($"\"layer_norm_epsilon\" must be a number in (0, 1), got {le.GetRawText()}");
            }
            var cfg = new T5Config
            {
                DModel = Int("d_model"), DKv = Int("d_kv"), NumHeads = Int("num_heads"), DFf = Int("d_ff"), NumLayers = Int("num_layers"),
                VocabSize = Int("vocab_size"), RelativeBuckets = Int("relative_attention_num_buckets", 32),
                RelativeMaxDistance = Int("relative_attention_max_distance", 128), LayerNormEpsilon = eps,
            };
            if (cfg.RelativeBuckets % 4 != 0) problems.Add($"\"relative_attention_num_buckets\" {cfg.RelativeBuckets} must be a multiple of 4");
            if (cfg.RelativeMaxDistance <= cfg.RelativeBuckets / 4)
                problems.Add($"\"relative_attention_max_distance\" {cfg.RelativeMaxDistance} must exceed the exact range {cfg.RelativeBuckets / 4}");
            if ((long)cfg.NumHeads * cfg.DKv > 1 << 20 || cfg.DModel > 1 << 20 || cfg.DFf > 1 << 22 || cfg.NumLayers > 1024)
                problems.Add("sizes are implausibly large for a T5 encoder");
            if (problems.Count > 0) throw new ConfigException($"{source}: unsupported T5 config: " + string.Join("; ", problems));
            return cfg;
        }
    }

    /// <summary>The config as HuggingFace writes it (what <c>fastif weights random --preset t5-xxl</c> puts beside the weights).</summary>
    public string ToJson() => $$"""
        {
          "architectures": ["T5EncoderModel"],
          "d_ff": {{DFf}},
          "d_kv": {{DKv}},
          "d_model": {{DModel}},
          "decoder_start_token_id": 0,
          "dense_act_fn": "gelu_new",
          "dropout_rate": 0.1,
          "eos_token_id": 1,
          "feed_forward_proj": "gated-gelu",
          "initializer_factor": 1.0,
          "is_encoder_decoder": true,
          "is_gated_act": true,
          "layer_norm_epsilon": {{LayerNormEpsilon.ToString("R", System.Globalization.CultureInfo.InvariantCulture)}},
          "model_type": "t5",
          "num_decoder_layers": {{NumLayers}},
          "num_heads": {{NumHeads}},
          "num_layers": {{NumLayers}},
          "pad_token_id": 0,
          "relative_attention_max_distance": {{RelativeMaxDistance}},
          "relative_attention_num_buckets": {{RelativeBuckets}},
          "tie_word_embeddings": false,
          "torch_dtype": "bfloat16",
          "vocab_size": {{VocabSize}}
        }
        """;
}

/// <summary>Named T5 encoder shapes for random weights and benchmarks.</summary>
public static class T5Presets
{
    /// <summary>The preset names.</summary>
    public static IReadOnlyList<string> Names { get; } = ["t5-xxl", "t5-tiny"];

    /// <summary>The config of a preset: <c>t5-xxl</c> is IF's encoder; <c>t5-tiny</c> is 2 small blocks with the real vocabulary
    /// and width 256, the text width of the tiny UNet presets, so a tiny snapshot runs prompt to image.</summary>
    public static T5Config Get(string name) => name switch
    {
        "t5-xxl" => T5Config.Xxl,
        "t5-tiny" => new T5Config { DModel = 256, DKv = 64, NumHeads = 4, DFf = 512, NumLayers = 2, VocabSize = 32128 },
        _ => throw new FastIFException($"unknown T5 preset \"{name}\"; known: {string.Join(", ", Names)}"),
    };
}
