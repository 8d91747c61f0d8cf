namespace FastIF.Models.UNet;

/// <summary>
/// The IF UNet configurations (../shared/docs/if-architecture.md §3.1; IF-I-L, IF-I-M and IF-II-M are
/// inferred there from file sizes) and a tiny stage-I model for quick runs. Benchmarks make random weights
/// of these shapes; real snapshots always load their own config.json.
/// </summary>
public static class UNetPresets
{
    /// <summary>Names accepted by <see cref="Get"/>.</summary>
    public static IReadOnlyList<string> Names { get; } = ["tiny", "tiny-ii", "if-i-m", "if-i-l", "if-i-xl", "if-ii-m", "if-ii-l"];

    private static readonly UNetBlockType R = UNetBlockType.Resnet, A = UNetBlockType.SimpleCrossAttn;

    private static UNetConfig StageOne(int[] ch, int cross) => new()
    {
        InChannels = 3, OutChannels = 6, SampleSize = 64, BlockOutChannels = ch, LayersPerBlock = [3, 3, 3, 3],
        DownBlockTypes = [R, A, A, A], UpBlockTypes = [A, A, A, R], AttentionHeadDim = 64, CrossAttentionDim = cross,
        EncoderHidDim = 4096, AdditionEmbedHeads = 64, TimeEmbeddingDim = 4 * ch[0],
    };

    private static UNetConfig StageTwo(int[] ch, int[] layers, int cross) => new()
    {
        InChannels = 6, OutChannels = 6, SampleSize = 256, BlockOutChannels = ch, LayersPerBlock = layers,
        DownBlockTypes = [R, R, R, A, A], UpBlockTypes = [A, A, R, R, R], AttentionHeadDim = 64, CrossAttentionDim = cross,
        EncoderHidDim = 4096, AdditionEmbedHeads = 64, ClassEmbedTimestep = true, TimeEmbeddingDim = cross,
        TimeEmbeddingGelu = true, ResnetSkipTimeAct = true,
        ResnetOutScaleFactor = 1.4142271248762552f, MidBlockScaleFactor = 1.4142271248762552f,
    };

    /// <summary>The config of a named preset; an error lists the known names.</summary>
    public static UNetConfig Get(string name) => name switch
    {
        "tiny" => new UNetConfig
        {
            InChannels = 3, OutChannels = 6, SampleSize = 64, BlockOutChannels = [32, 64, 96, 128], LayersPerBlock = [2, 2, 2, 2],
            DownBlockTypes = [R, A, A, A], UpBlockTypes = [A, A, A, R], AttentionHeadDim = 32, CrossAttentionDim = 128,
            EncoderHidDim = 256, AdditionEmbedHeads = 4, TimeEmbeddingDim = 128, NormNumGroups = 32,
        },
        "tiny-ii" => StageTwo([32, 64, 96, 128, 128], [1, 1, 2, 2, 2], 128) with
        {
            SampleSize = 64, AttentionHeadDim = 32, EncoderHidDim = 256, AdditionEmbedHeads = 4,
        },
        "if-i-m" => StageOne([192, 384, 576, 768], 768),
        "if-i-l" => StageOne([320, 640, 960, 1280], 1280),
        "if-i-xl" => StageOne([704, 1408, 2112, 2816], 2816),
        "if-ii-m" => StageTwo([128, 256, 512, 768, 768], [2, 2, 3, 3, 3], 768),
        "if-ii-l" => StageTwo([160, 320, 640, 960, 1280], [2, 2, 3, 5, 5], 1280),
        _ => throw new ConfigException($"unknown preset \"{name}\"; known: {string.Join(", ", Names)}"),
    };
}
