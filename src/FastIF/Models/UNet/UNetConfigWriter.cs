using System.Text;
using System.Text.Json;

namespace FastIF.Models.UNet;

/// <summary>Writes a <see cref="UNetConfig"/> as a diffusers <c>config.json</c> that diffusers itself can load.</summary>
internal static class UNetConfigWriter
{
    public static string Write(UNetConfig c)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("_class_name", "UNet2DConditionModel");
            w.WriteString("_diffusers_version", "0.27.2");
            w.WriteString("act_fn", "gelu");
            if (c.AdditionEmbedHeads > 0) { w.WriteString("addition_embed_type", "text"); w.WriteNumber("addition_embed_type_num_heads", c.AdditionEmbedHeads); }
            else { w.WriteNull("addition_embed_type"); w.WriteNumber("addition_embed_type_num_heads", 64); }
            w.WriteNumber("attention_head_dim", c.AttentionHeadDim);
            Ints(w, "block_out_channels", c.BlockOutChannels);
            if (c.ClassEmbedTimestep) w.WriteString("class_embed_type", "timestep"); else w.WriteNull("class_embed_type");
            w.WriteNumber("conv_in_kernel", c.ConvInKernel);
            w.WriteNumber("conv_out_kernel", c.ConvOutKernel);
            w.WriteNumber("cross_attention_dim", c.CrossAttentionDim);
            if (c.CrossAttentionGroupNorm) w.WriteString("cross_attention_norm", "group_norm"); else w.WriteNull("cross_attention_norm");
            Types(w, "down_block_types", c.DownBlockTypes, "Down");
            w.WriteNumber("encoder_hid_dim", c.EncoderHidDim);
            w.WriteString("encoder_hid_dim_type", "text_proj");
            w.WriteBoolean("flip_sin_to_cos", c.FlipSinToCos);
            w.WriteNumber("freq_shift", c.FreqShift);
            w.WriteNumber("in_channels", c.InChannels);
            if (c.LayersPerBlock.Distinct().Count() == 1) w.WriteNumber("layers_per_block", c.LayersPerBlock[0]);
            else Ints(w, "layers_per_block", c.LayersPerBlock);
            w.WriteBoolean("mid_block_only_cross_attention", c.MidBlockOnlyCrossAttention);
            w.WriteNumber("mid_block_scale_factor", (double)(decimal)c.MidBlockScaleFactor);
            w.WriteString("mid_block_type", "UNetMidBlock2DSimpleCrossAttn");
            w.WriteNumber("norm_eps", (double)(decimal)c.NormEps);
            w.WriteNumber("norm_num_groups", c.NormNumGroups);
            w.WriteBoolean("only_cross_attention", c.OnlyCrossAttention);
            w.WriteNumber("out_channels", c.OutChannels);
            w.WriteNumber("resnet_out_scale_factor", (double)(decimal)c.ResnetOutScaleFactor);
            w.WriteBoolean("resnet_skip_time_act", c.ResnetSkipTimeAct);
            w.WriteString("resnet_time_scale_shift", "scale_shift");
            w.WriteNumber("sample_size", c.SampleSize);
            if (c.TimeEmbeddingGelu) w.WriteString("time_embedding_act_fn", "gelu"); else w.WriteNull("time_embedding_act_fn");
            w.WriteNumber("time_embedding_dim", c.TimeEmbeddingDim);
            w.WriteString("time_embedding_type", "positional");
            Types(w, "up_block_types", c.UpBlockTypes, "Up");
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(ms.ToArray()) + "\n";
    }

    private static void Ints(Utf8JsonWriter w, string key, int[] values)
    {
        w.WriteStartArray(key);
        foreach (var v in values) w.WriteNumberValue(v);
        w.WriteEndArray();
    }

    private static void Types(Utf8JsonWriter w, string key, UNetBlockType[] types, string dir)
    {
        w.WriteStartArray(key);
        foreach (var t in types)
            w.WriteStringValue(t == UNetBlockType.Resnet ? $"Resnet{dir}sampleBlock2D" : $"SimpleCrossAttn{dir}Block2D");
        w.WriteEndArray();
    }
}
