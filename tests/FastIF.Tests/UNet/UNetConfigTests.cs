using FastIF.Models.UNet;

namespace FastIF.Tests.UNet;

public class UNetConfigTests
{
    /// <summary>../shared/docs from the repository root (the IF spec, with generated key lists), or null.</summary>
    private static string? DocsDir()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "FastIF.sln")))
            {
                var p = Path.GetFullPath(Path.Combine(dir.FullName, "..", "shared", "docs"));
                return Directory.Exists(p) ? p : null;
            }
        return null;
    }

    // Parameter counts from ../shared/docs/if-architecture.md §1 (checked there against diffusers on the meta device).
    [Theory]
    [InlineData("if-i-xl", 4_304_695_110L)]
    [InlineData("if-i-l", 935_365_830L)]
    [InlineData("if-i-m", 371_605_830L)]
    [InlineData("if-ii-l", 1_243_277_190L)]
    [InlineData("if-ii-m", 461_064_198L)]
    public void PresetParameterCountsMatchTheSpec(string preset, long expected)
        => Assert.Equal(expected, new UNet2DCondition(UNetPresets.Get(preset)).Parameters.Sum(p => p.Shape.Elements));

    // The spec's generated key lists: every state_dict key with its shape, in diffusers' order-independent form.
    [Theory]
    [InlineData("if-i-xl", "if-unet-keys-IF-I-XL-v1.0.tsv")]
    [InlineData("if-ii-l", "if-unet-keys-IF-II-L-v1.0.tsv")]
    public void PresetKeysAndShapesMatchTheSpecKeyList(string preset, string tsv)
    {
        var docs = DocsDir();
        if (docs == null || !File.Exists(Path.Combine(docs, tsv))) Assert.Skip($"../shared/docs/{tsv} not found");
        var expected = File.ReadLines(Path.Combine(docs!, tsv)).Where(l => !l.StartsWith('#') && l.Contains('\t'))
            .Select(l => l.Split('\t')).ToDictionary(p => p[0], p => p[1].Replace(" ", ""));
        var ours = new UNet2DCondition(UNetPresets.Get(preset)).Parameters
            .ToDictionary(p => p.Name, p => "[" + string.Join(",", p.Shape) + "]");
        Assert.Empty(expected.Keys.Except(ours.Keys));
        Assert.Empty(ours.Keys.Except(expected.Keys));
        foreach (var (k, shape) in expected) Assert.True(shape == ours[k], $"{k}: spec {shape}, ours {ours[k]}");
    }

    [Theory]
    [InlineData("if1_tiny", 442_414L)]
    [InlineData("if2_tiny", 431_882L)]
    public void FixtureConfigsParseWithTheFixtureParameterCounts(string folder, long parameters)
    {
        var cfg = UNetConfig.Load(Fixtures.Require("if", folder, "config.json"));
        Assert.Equal(parameters, new UNet2DCondition(cfg).Parameters.Sum(p => p.Shape.Elements));
    }

    [Fact]
    public void PresetsRoundTripThroughConfigJson()
    {
        foreach (var name in UNetPresets.Names)
        {
            var cfg = UNetPresets.Get(name);
            var back = UNetConfig.Parse(cfg.ToJson(), name);
            Assert.Equal(cfg.ToJson(), back.ToJson());
            Assert.Equal(new UNet2DCondition(cfg).Parameters.Count, new UNet2DCondition(back).Parameters.Count);
        }
    }

    private static string Tiny() => UNetPresets.Get("tiny").ToJson();

    [Theory]
    [InlineData("\"act_fn\": \"gelu\"", "\"act_fn\": \"silu\"", "act_fn")]
    [InlineData("\"mid_block_type\": \"UNetMidBlock2DSimpleCrossAttn\"", "\"mid_block_type\": \"UNetMidBlock2DCrossAttn\"", "mid_block_type")]
    [InlineData("\"resnet_time_scale_shift\": \"scale_shift\"", "\"resnet_time_scale_shift\": \"default\"", "resnet_time_scale_shift")]
    [InlineData("\"SimpleCrossAttnDownBlock2D\"", "\"CrossAttnDownBlock2D\"", "down_block_types")]
    [InlineData("\"sample_size\": 64", "\"sample_size\": 64, \"flux_capacitor\": 1", "flux_capacitor")]
    [InlineData("\"sample_size\": 64", "\"sample_size\": 64, \"num_attention_heads\": 8", "num_attention_heads")]
    [InlineData("\"sample_size\": 64", "\"sample_size\": 64, \"center_input_sample\": true", "center_input_sample")]
    [InlineData("\"cross_attention_dim\": 128", "\"cross_attention_dim\": 120", "cross_attention_dim")]
    [InlineData("\"attention_head_dim\": 32", "\"attention_head_dim\": 48", "attention_head_dim")]
    public void UnsupportedOptionsAreErrorsNamingTheOption(string find, string replace, string option)
    {
        var json = Tiny();
        Assert.Contains(find, json);
        var e = Assert.Throws<ConfigException>(() => UNetConfig.Parse(json.Replace(find, replace), "test.json"));
        Assert.Contains($"\"{option}\"", e.Message);
        Assert.Contains("test.json", e.Message);
    }

    [Fact]
    public void OlderConfigsWithoutLateKeysTakeDiffusersDefaults()
    {
        // Keys added to diffusers after the IF conversion (encoder_hid_dim_type & co.) may be absent.
        var json = Tiny().Replace("  \"encoder_hid_dim_type\": \"text_proj\",\n", "");
        Assert.DoesNotContain("encoder_hid_dim_type", json);
        Assert.Equal(256, UNetConfig.Parse(json).EncoderHidDim);
    }

    [Theory]
    [InlineData("[1, 2")]
    [InlineData("42")]
    [InlineData("{\"block_out_channels\": \"wide\"}")]
    public void MalformedJsonIsAConfigError(string json) => Assert.Throws<ConfigException>(() => UNetConfig.Parse(json));
}
