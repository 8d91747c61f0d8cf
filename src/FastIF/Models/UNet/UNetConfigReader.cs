using System.Text.Json;

namespace FastIF.Models.UNet;

/// <summary>Reads a diffusers UNet config key by key; unknown keys and unimplemented values are errors.</summary>
internal sealed class UNetConfigReader(JsonElement root, string source)
{
    private readonly List<string> _problems = [];

    public UNetConfig Read()
    {
        if (root.ValueKind != JsonValueKind.Object) throw new ConfigException($"{source}: expected a JSON object");
        var keys = new Dictionary<string, JsonElement>();
        foreach (var p in root.EnumerateObject()) keys[p.Name] = p.Value;

        JsonElement? Get(string k) => keys.Remove(k, out var v) && v.ValueKind != JsonValueKind.Null ? v : null;

        var cls = Get("_class_name");
        if (cls is { } c && Str(c) != "UNet2DConditionModel")
            Problem("_class_name", $"is \"{c}\"; only UNet2DConditionModel is implemented");
        foreach (var k in keys.Keys.Where(k => k.StartsWith('_')).ToList()) keys.Remove(k);

        var blockOut = IntList(Get("block_out_channels"), "block_out_channels") ?? [320, 640, 1280, 1280];
        int levels = blockOut.Length;
        var layers = Get("layers_per_block") is { } lp
            ? lp.ValueKind == JsonValueKind.Array ? IntList(lp, "layers_per_block")! : Enumerable.Repeat(Int(lp, "layers_per_block"), levels).ToArray()
            : Enumerable.Repeat(2, levels).ToArray();
        var down = BlockTypes(Get("down_block_types"), "down_block_types", "Down");
        var up = BlockTypes(Get("up_block_types"), "up_block_types", "Up");
        if (down.Length != levels) Problem("down_block_types", $"has {down.Length} entries for {levels} levels");
        if (up.Length != levels) Problem("up_block_types", $"has {up.Length} entries for {levels} levels");
        if (layers.Length != levels) Problem("layers_per_block", $"has {layers.Length} entries for {levels} levels");

        Expect(Get("act_fn"), "act_fn", "gelu", required: true);
        Expect(Get("mid_block_type"), "mid_block_type", "UNetMidBlock2DSimpleCrossAttn", required: true);
        Expect(Get("resnet_time_scale_shift"), "resnet_time_scale_shift", "scale_shift", required: true);
        Expect(Get("time_embedding_type"), "time_embedding_type", "positional", required: false);
        Expect(Get("attention_type"), "attention_type", "default", required: false);

        int encoderHid = Get("encoder_hid_dim") is { } eh ? Int(eh, "encoder_hid_dim") : 0;
        var ehType = Get("encoder_hid_dim_type");
        if (encoderHid == 0) Problem("encoder_hid_dim", "is missing; IF UNets project T5 states with encoder_hid_proj");
        if (ehType is { } et && Str(et) != "text_proj")
            Problem("encoder_hid_dim_type", $"is \"{et}\"; only \"text_proj\" is implemented");

        int addHeads = 0;
        if (Get("addition_embed_type") is { } aet)
        {
            if (Str(aet) != "text") Problem("addition_embed_type", $"is \"{aet}\"; only \"text\" (or null) is implemented");
            addHeads = Get("addition_embed_type_num_heads") is { } ah ? Int(ah, "addition_embed_type_num_heads") : 64;
        }
        else Get("addition_embed_type_num_heads");

        bool classTimestep = false;
        if (Get("class_embed_type") is { } cet)
        {
            if (Str(cet) == "timestep") classTimestep = true;
            else Problem("class_embed_type", $"is \"{cet}\"; only \"timestep\" (or null) is implemented");
        }

        bool crossNorm = true;
        if (Get("cross_attention_norm") is { } cn)
        {
            if (Str(cn) != "group_norm") Problem("cross_attention_norm", $"is \"{cn}\"; only \"group_norm\" (or null) is implemented");
        }
        else crossNorm = false;

        bool timeGelu = false;
        if (Get("time_embedding_act_fn") is { } tea)
        {
            if (Str(tea) == "gelu") timeGelu = true;
            else Problem("time_embedding_act_fn", $"is \"{tea}\"; only \"gelu\" (or null) is implemented");
        }

        foreach (var k in new[] { "addition_time_embed_dim", "num_class_embeds", "projection_class_embeddings_input_dim",
                     "time_cond_proj_dim", "timestep_post_act", "reverse_transformer_layers_per_block", "num_attention_heads" })
            if (Get(k) is { } v) Problem(k, $"is {v.GetRawText()}; only null is implemented (IF never sets it)");
        foreach (var k in new[] { "center_input_sample", "dual_cross_attention", "class_embeddings_concat" })
            if (Get(k) is { } v && v.ValueKind != JsonValueKind.False) Problem(k, $"is {v.GetRawText()}; only false is implemented");

        bool onlyCross = Get("only_cross_attention") is { } oc && Bool(oc, "only_cross_attention");
        bool midOnlyCross = Get("mid_block_only_cross_attention") is { } moc ? Bool(moc, "mid_block_only_cross_attention") : onlyCross;

        // Read, range-checked, but irrelevant to these block types at inference.
        if (Get("dropout") is { } dr && Float(dr, "dropout") is < 0 or >= 1) Problem("dropout", "must be in [0, 1)");
        Get("downsample_padding");
        Get("use_linear_projection");
        Get("upcast_attention");
        if (Get("transformer_layers_per_block") is { } tl && !(tl.ValueKind == JsonValueKind.Number && tl.GetInt32() == 1))
            Problem("transformer_layers_per_block", $"is {tl.GetRawText()}; these block types have no transformer layers (1 expected)");

        int c0 = blockOut.Length > 0 ? blockOut[0] : 0;
        var cfg = new UNetConfig
        {
            InChannels = Get("in_channels") is { } ic ? Int(ic, "in_channels") : 4,
            OutChannels = Get("out_channels") is { } oc2 ? Int(oc2, "out_channels") : 4,
            SampleSize = Get("sample_size") is { } ss ? Int(ss, "sample_size") : 64,
            BlockOutChannels = blockOut,
            LayersPerBlock = layers,
            DownBlockTypes = down,
            UpBlockTypes = up,
            AttentionHeadDim = Get("attention_head_dim") is { } ahd ? Int(ahd, "attention_head_dim") : 8,
            CrossAttentionDim = Get("cross_attention_dim") is { } cad ? Int(cad, "cross_attention_dim") : 1280,
            CrossAttentionGroupNorm = crossNorm,
            EncoderHidDim = encoderHid,
            AdditionEmbedHeads = addHeads,
            ClassEmbedTimestep = classTimestep,
            TimeEmbeddingDim = Get("time_embedding_dim") is { } ted ? Int(ted, "time_embedding_dim") : 4 * c0,
            TimeEmbeddingGelu = timeGelu,
            FlipSinToCos = Get("flip_sin_to_cos") is not { } fs || Bool(fs, "flip_sin_to_cos"),
            FreqShift = Get("freq_shift") is { } fsh ? Float(fsh, "freq_shift") : 0f,
            NormNumGroups = Get("norm_num_groups") is { } ng ? Int(ng, "norm_num_groups") : 32,
            NormEps = Get("norm_eps") is { } ne ? Float(ne, "norm_eps") : 1e-5f,
            ResnetSkipTimeAct = Get("resnet_skip_time_act") is { } rst && Bool(rst, "resnet_skip_time_act"),
            ResnetOutScaleFactor = Get("resnet_out_scale_factor") is { } ros ? Float(ros, "resnet_out_scale_factor") : 1f,
            MidBlockScaleFactor = Get("mid_block_scale_factor") is { } mbs ? Float(mbs, "mid_block_scale_factor") : 1f,
            OnlyCrossAttention = onlyCross,
            MidBlockOnlyCrossAttention = midOnlyCross,
            ConvInKernel = Get("conv_in_kernel") is { } cik ? Int(cik, "conv_in_kernel") : 3,
            ConvOutKernel = Get("conv_out_kernel") is { } cok ? Int(cok, "conv_out_kernel") : 3,
        };
        foreach (var k in keys.Keys) Problem(k, "is not a UNet2DConditionModel option FastIF knows");
        Validate(cfg);
        if (_problems.Count > 0)
            throw new ConfigException($"{source}: unsupported UNet config:\n  " + string.Join("\n  ", _problems));
        return cfg;
    }

    private void Validate(UNetConfig c)
    {
        if (c.Levels < 1) Problem("block_out_channels", "must list at least one level");
        if (c.NormNumGroups <= 0) Problem("norm_num_groups", $"must be positive, got {c.NormNumGroups}");
        foreach (var ch in c.BlockOutChannels)
        {
            if (ch <= 0 || (c.NormNumGroups > 0 && ch % c.NormNumGroups != 0))
                Problem("block_out_channels", $"channel count {ch} must be positive and divisible by norm_num_groups {c.NormNumGroups}");
            if (ch % 2 != 0) Problem("block_out_channels", $"channel count {ch} must be even");
        }
        for (int i = 0; i < c.Levels; i++)
        {
            bool attn = c.DownBlockTypes.ElementAtOrDefault(i) == UNetBlockType.SimpleCrossAttn
                || c.UpBlockTypes.ElementAtOrDefault(c.Levels - 1 - i) == UNetBlockType.SimpleCrossAttn
                || i == c.Levels - 1;
            if (attn && c.AttentionHeadDim > 0 && c.BlockOutChannels.ElementAtOrDefault(i) % c.AttentionHeadDim != 0)
                Problem("attention_head_dim", $"{c.AttentionHeadDim} does not divide {c.BlockOutChannels[i]} channels at level {i}");
        }
        if (c.AttentionHeadDim <= 0) Problem("attention_head_dim", "must be positive");
        if (c.LayersPerBlock.Any(n => n < 1)) Problem("layers_per_block", "every level needs at least one ResNet");
        if (c.CrossAttentionGroupNorm && c.CrossAttentionDim % 32 != 0)
            Problem("cross_attention_dim", $"{c.CrossAttentionDim} must be a multiple of 32 (norm_cross has 32 groups)");
        if (c.AdditionEmbedHeads > 0 && c.EncoderHidDim % c.AdditionEmbedHeads != 0)
            Problem("addition_embed_type_num_heads", $"{c.AdditionEmbedHeads} does not divide encoder_hid_dim {c.EncoderHidDim}");
        if (c.ConvInKernel % 2 == 0 || c.ConvInKernel < 1) Problem("conv_in_kernel", "must be odd");
        if (c.ConvOutKernel % 2 == 0 || c.ConvOutKernel < 1) Problem("conv_out_kernel", "must be odd");
        if (c.InChannels <= 0 || c.OutChannels <= 0) Problem("in_channels", "in/out channels must be positive");
        if (c.TimeEmbeddingDim <= 0) Problem("time_embedding_dim", "must be positive");
        if (!(c.ResnetOutScaleFactor > 0 && float.IsFinite(c.ResnetOutScaleFactor)))
            Problem("resnet_out_scale_factor", $"must be a positive finite number, got {c.ResnetOutScaleFactor}");
        if (!(c.MidBlockScaleFactor > 0 && float.IsFinite(c.MidBlockScaleFactor)))
            Problem("mid_block_scale_factor", $"must be a positive finite number, got {c.MidBlockScaleFactor}");
        if (!(c.NormEps > 0 && float.IsFinite(c.NormEps))) Problem("norm_eps", $"must be a positive finite number, got {c.NormEps}");
        if (!float.IsFinite(c.FreqShift)) Problem("freq_shift", $"must be finite, got {c.FreqShift}");
    }

    private void Problem(string key, string what) => _problems.Add($"\"{key}\" {what}");

    private void Expect(JsonElement? v, string key, string expected, bool required)
    {
        if (v is { } e)
        {
            if (e.ValueKind != JsonValueKind.String || e.GetString() != expected)
                Problem(key, $"is {e.GetRawText()}; only \"{expected}\" is implemented");
        }
        else if (required) Problem(key, $"is missing; FastIF needs \"{expected}\"");
    }

    /// <summary>The value when it is a JSON string, else null (which no check accepts), so a wrong type is a problem, not a crash.</summary>
    private static string? Str(JsonElement e) => e.ValueKind == JsonValueKind.String ? e.GetString() : null;

    private int Int(JsonElement e, string key)
    {
        if (e.ValueKind == JsonValueKind.Number && e.TryGetInt32(out var i)) return i;
        Problem(key, $"must be an integer, got {e.GetRawText()}");
        return 0;
    }

    private float Float(JsonElement e, string key)
    {
        if (e.ValueKind == JsonValueKind.Number) return (float)e.GetDouble();
        Problem(key, $"must be a number, got {e.GetRawText()}");
        return 0;
    }

    private bool Bool(JsonElement e, string key)
    {
        if (e.ValueKind is JsonValueKind.True or JsonValueKind.False) return e.GetBoolean();
        Problem(key, $"must be true or false, got {e.GetRawText()}");
        return false;
    }

    private int[]? IntList(JsonElement? e, string key)
    {
        if (e is not { } v) return null;
        if (v.ValueKind != JsonValueKind.Array) { Problem(key, $"must be a list of integers, got {v.GetRawText()}"); return []; }
        return v.EnumerateArray().Select(x => Int(x, key)).ToArray();
    }

    private UNetBlockType[] BlockTypes(JsonElement? e, string key, string dir)
    {
        if (e is not { } v || v.ValueKind != JsonValueKind.Array) { Problem(key, "must be a list of block type names"); return []; }
        return v.EnumerateArray().Select(x => Str(x) switch
        {
            var s when s == $"Resnet{dir}sampleBlock2D" => UNetBlockType.Resnet,
            var s when s == $"SimpleCrossAttn{dir}Block2D" => UNetBlockType.SimpleCrossAttn,
            _ => Fail(x),
        }).ToArray();

        UNetBlockType Fail(JsonElement x)
        {
            Problem(key, $"entry {x.GetRawText()} is not implemented (Resnet{dir}sampleBlock2D or SimpleCrossAttn{dir}Block2D)");
            return UNetBlockType.Resnet;
        }
    }
}
