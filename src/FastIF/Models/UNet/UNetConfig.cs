using System.Text.Json;

namespace FastIF.Models.UNet;

/// <summary>The block types of a diffusers <c>UNet2DConditionModel</c> that the IF models use.</summary>
public enum UNetBlockType
{
    /// <summary>ResNets only (<c>ResnetDownsampleBlock2D</c> / <c>ResnetUpsampleBlock2D</c>).</summary>
    Resnet,
    /// <summary>ResNet + added-KV attention pairs (<c>SimpleCrossAttnDownBlock2D</c> / <c>SimpleCrossAttnUpBlock2D</c>).</summary>
    SimpleCrossAttn,
}

/// <summary>
/// A diffusers <c>unet/config.json</c> as FastIF understands it. Every key of the file must be known and
/// every value one the engine implements; anything else is a <see cref="ConfigException"/> naming the key.
/// Keys absent from older files take diffusers' defaults.
/// </summary>
public sealed record UNetConfig
{
    /// <summary>Input channels (3 stage I, 6 stage II).</summary>
    public int InChannels { get; init; } = 3;
    /// <summary>Output channels (6: ε and the learned-range variance value).</summary>
    public int OutChannels { get; init; } = 6;
    /// <summary>Default sample size of the pipelines.</summary>
    public int SampleSize { get; init; } = 64;
    /// <summary>Channel width per level.</summary>
    public int[] BlockOutChannels { get; init; } = [];
    /// <summary>ResNets per down level.</summary>
    public int[] LayersPerBlock { get; init; } = [];
    /// <summary>Down block types, one per level.</summary>
    public UNetBlockType[] DownBlockTypes { get; init; } = [];
    /// <summary>Up block types, one per level (from the lowest resolution up).</summary>
    public UNetBlockType[] UpBlockTypes { get; init; } = [];
    /// <summary>Per-head width of the SimpleCrossAttn layers (diffusers' <c>attention_head_dim</c>).</summary>
    public int AttentionHeadDim { get; init; } = 64;
    /// <summary>Width of the projected text (<c>cross_attention_dim</c>).</summary>
    public int CrossAttentionDim { get; init; }
    /// <summary>Whether attention layers carry a <c>norm_cross</c> GroupNorm(32) over the text.</summary>
    public bool CrossAttentionGroupNorm { get; init; } = true;
    /// <summary>Raw text width (T5: 4096), input of <c>encoder_hid_proj</c> and of the text pooling.</summary>
    public int EncoderHidDim { get; init; }
    /// <summary>Heads of the text attention pooling (<c>addition_embed_type "text"</c>); 0 when absent.</summary>
    public int AdditionEmbedHeads { get; init; }
    /// <summary>Whether a <c>class_embedding</c> MLP embeds the stage-II noise level (<c>class_embed_type "timestep"</c>).</summary>
    public bool ClassEmbedTimestep { get; init; }
    /// <summary>Width of the conditioning vector; defaults to 4·C0.</summary>
    public int TimeEmbeddingDim { get; init; }
    /// <summary>Whether a GELU follows the summed embedding (<c>time_embedding_act_fn "gelu"</c>).</summary>
    public bool TimeEmbeddingGelu { get; init; }
    /// <summary>Sinusoid order: true gives [cos, sin].</summary>
    public bool FlipSinToCos { get; init; } = true;
    /// <summary>Sinusoid frequency shift.</summary>
    public float FreqShift { get; init; }
    /// <summary>GroupNorm groups of ResNets, attention and the output head.</summary>
    public int NormNumGroups { get; init; } = 32;
    /// <summary>GroupNorm epsilon of ResNets and the output head.</summary>
    public float NormEps { get; init; } = 1e-5f;
    /// <summary>ResNets use <c>emb</c> directly instead of GELU(emb) (stage II).</summary>
    public bool ResnetSkipTimeAct { get; init; }
    /// <summary>Divisor of every down/up ResNet output.</summary>
    public float ResnetOutScaleFactor { get; init; } = 1f;
    /// <summary>Divisor of the two mid-block ResNet outputs.</summary>
    public float MidBlockScaleFactor { get; init; } = 1f;
    /// <summary>Attention layers in down/up blocks use only the text keys/values.</summary>
    public bool OnlyCrossAttention { get; init; }
    /// <summary>Mid-block attention uses only the text keys/values.</summary>
    public bool MidBlockOnlyCrossAttention { get; init; }
    /// <summary>Kernel size of conv_in.</summary>
    public int ConvInKernel { get; init; } = 3;
    /// <summary>Kernel size of conv_out.</summary>
    public int ConvOutKernel { get; init; } = 3;

    /// <summary>Number of resolution levels.</summary>
    public int Levels => BlockOutChannels.Length;

    /// <summary>Reads and validates a config file.</summary>
    public static UNetConfig Load(string path)
    {
        string text;
        try { text = File.ReadAllText(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ConfigException($"{path}: cannot read UNet config: {e.Message}");
        }
        return Parse(text, path);
    }

    /// <summary>Parses and validates config JSON; <paramref name="source"/> names it in errors.</summary>
    public static UNetConfig Parse(string json, string source = "config.json")
    {
        JsonDocument doc;
        try { doc = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 16 }); }
        catch (JsonException e) { throw new ConfigException($"{source}: not valid JSON: {e.Message}"); }
        using (doc) return new UNetConfigReader(doc.RootElement, source).Read();
    }

    /// <summary>Spatial sizes must be divisible by this (one halving per level transition).</summary>
    public int SpatialMultiple => 1 << (Levels - 1);

    /// <summary>Serializes to a diffusers-compatible config.json (all keys written explicitly).</summary>
    public string ToJson() => UNetConfigWriter.Write(this);
}
