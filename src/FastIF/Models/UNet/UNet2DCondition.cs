using FastIF.Backends;
using FastIF.Tensors;
using FastIF.Weights;

namespace FastIF.Models.UNet;

/// <summary>
/// The IF UNet (diffusers <c>UNet2DConditionModel</c> with IF's block types), built once from its config and
/// written once against <see cref="IBackend"/>. Input <c>sample [B, Cin, H, W]</c>, timesteps <c>[B]</c>,
/// raw T5 states <c>[B, L, encoder_hid_dim]</c> and (stage II) noise levels <c>[B]</c>; output <c>[B, 6, H, W]</c>.
/// </summary>
public sealed class UNet2DCondition : IDisposable
{
    private readonly ParamSet _params = new();
    private readonly TimestepMlp _timeMlp;
    private readonly TimestepMlp? _classMlp;
    private readonly TextPooling? _textPool;
    private readonly LinearLayer _encoderProj;
    private readonly ConvLayer _convIn, _convOut;
    private readonly NormLayer _normOut;
    private readonly List<Level> _down = [], _up = [];
    private readonly ResnetBlock _mid0, _mid1;
    private readonly AddedKVAttention _midAttn;

    private sealed record Level(List<ResnetBlock> Resnets, List<AddedKVAttention> Attentions, ResnetBlock? Resampler);

    /// <summary>The configuration the graph was built from.</summary>
    public UNetConfig Config { get; }

    /// <summary>The backend holding the weights.</summary>
    public IBackend? Backend { get; private set; }

    /// <summary>Every parameter the graph declares (names and shapes as in diffusers checkpoints).</summary>
    public IReadOnlyList<ParamSpec> Parameters => _params.Specs;

    /// <summary>Weight elements one forward pass reads, as loaded: more than <see cref="Parameters"/> hold when the sub-pixel
    /// upsampler's phase weights (16 taps per channel pair instead of 9) replace its 3×3 kernels.</summary>
    public long LoadedWeightElements => _params.LoadedElements;

    /// <summary>How the graph computes what the config describes.</summary>
    public UNetOptions Options { get; }

    /// <summary>Builds the graph without weights (to list or count parameters, or to make random weights).</summary>
    public UNet2DCondition(UNetConfig config, UNetOptions? options = null)
    {
        Config = config;
        Options = options ?? UNetOptions.Fastest;
        var c = config;
        var ps = _params;
        int c0 = c.BlockOutChannels[0], t = c.TimeEmbeddingDim;
        _convIn = new ConvLayer(ps, "conv_in", c.InChannels, c0, c.ConvInKernel);
        _timeMlp = new TimestepMlp(ps, "time_embedding", c0, t);
        if (c.ClassEmbedTimestep) _classMlp = new TimestepMlp(ps, "class_embedding", c0, t);
        _encoderProj = new LinearLayer(ps, "encoder_hid_proj", c.EncoderHidDim, c.CrossAttentionDim);
        if (c.AdditionEmbedHeads > 0) _textPool = new TextPooling(ps, "add_embedding", c.EncoderHidDim, t, c.AdditionEmbedHeads);

        int ch = c0;
        for (int i = 0; i < c.Levels; i++)
        {
            int cout = c.BlockOutChannels[i];
            var lv = new Level([], [], null);
            for (int j = 0; j < c.LayersPerBlock[i]; j++)
            {
                lv.Resnets.Add(new ResnetBlock(ps, $"down_blocks.{i}.resnets.{j}", c, j == 0 ? ch : cout, cout, c.ResnetOutScaleFactor));
                if (c.DownBlockTypes[i] == UNetBlockType.SimpleCrossAttn)
                    lv.Attentions.Add(new AddedKVAttention(ps, $"down_blocks.{i}.attentions.{j}", c, cout, c.OnlyCrossAttention));
            }
            if (i < c.Levels - 1)
                lv = lv with { Resampler = new ResnetBlock(ps, $"down_blocks.{i}.downsamplers.0", c, cout, cout, c.ResnetOutScaleFactor, Resample.Down) };
            _down.Add(lv);
            ch = cout;
        }

        int top = c.BlockOutChannels[^1];
        _mid0 = new ResnetBlock(ps, "mid_block.resnets.0", c, top, top, c.MidBlockScaleFactor);
        _midAttn = new AddedKVAttention(ps, "mid_block.attentions.0", c, top, c.MidBlockOnlyCrossAttention);
        _mid1 = new ResnetBlock(ps, "mid_block.resnets.1", c, top, top, c.MidBlockScaleFactor);

        // Skip channels in push order: conv_in, then each down ResNet(+attn), then each downsampler.
        var skips = new Stack<int>();
        skips.Push(c0);
        for (int i = 0; i < c.Levels; i++)
        {
            for (int j = 0; j < c.LayersPerBlock[i]; j++) skips.Push(c.BlockOutChannels[i]);
            if (i < c.Levels - 1) skips.Push(c.BlockOutChannels[i]);
        }
        ch = top;
        for (int k = 0; k < c.Levels; k++)
        {
            int cout = c.BlockOutChannels[c.Levels - 1 - k];
            var lv = new Level([], [], null);
            int count = c.LayersPerBlock[c.Levels - 1 - k] + 1;
            for (int j = 0; j < count; j++)
            {
                lv.Resnets.Add(new ResnetBlock(ps, $"up_blocks.{k}.resnets.{j}", c, ch + skips.Pop(), cout, c.ResnetOutScaleFactor));
                if (c.UpBlockTypes[k] == UNetBlockType.SimpleCrossAttn)
                    lv.Attentions.Add(new AddedKVAttention(ps, $"up_blocks.{k}.attentions.{j}", c, cout, c.OnlyCrossAttention));
                ch = cout;
            }
            if (k < c.Levels - 1)
                lv = lv with
                {
                    Resampler = new ResnetBlock(ps, $"up_blocks.{k}.upsamplers.0", c, cout, cout, c.ResnetOutScaleFactor, Resample.Up,
                        Options.SubpixelUpsample),
                };
            _up.Add(lv);
        }
        _normOut = new NormLayer(ps, "conv_norm_out", c0);
        _convOut = new ConvLayer(ps, "conv_out", c0, c.OutChannels, c.ConvOutKernel);
    }

    /// <summary>Builds the graph and loads its weights from a checkpoint into <paramref name="backend"/>.</summary>
    public UNet2DCondition(UNetConfig config, Checkpoint checkpoint, IBackend backend, UNetOptions? options = null)
        : this(config, options ?? UNetOptions.For(backend))
    {
        _params.Load(checkpoint, backend);
        Backend = backend;
    }

    /// <summary>
    /// Loads a diffusers UNet folder (<c>config.json</c> + <c>diffusion_pytorch_model[.variant].safetensors</c>, or its sharded index).
    /// </summary>
    public static UNet2DCondition Load(string directory, IBackend backend, string? variant = null, UNetOptions? options = null)
    {
        var cfgPath = Path.Combine(directory, "config.json");
        if (!File.Exists(cfgPath)) throw new ConfigException($"{directory}: no config.json (expected a diffusers unet folder)");
        var cfg = UNetConfig.Load(cfgPath);
        using var ck = Checkpoint.OpenDirectory(directory, "diffusion_pytorch_model", variant);
        return new UNet2DCondition(cfg, ck, backend, options);
    }

    /// <summary>
    /// One UNet call. <paramref name="trace"/>, when given, sees intermediate activations under diffusers' module
    /// names (time_proj, emb, conv_in, down_blocks.i.resJ, mid_block, up_blocks.i, conv_norm_out, ...); it must copy
    /// what it keeps, the tensors are released afterwards.
    /// </summary>
    public Tensor Forward(Tensor sample, Tensor timesteps, Tensor encoderHiddenStates, Tensor? classLabels = null,
        Action<string, Tensor>? trace = null)
    {
        var be = Backend ?? throw new InvalidOperationException("UNet has no weights loaded");
        CheckInputs(sample, timesteps, encoderHiddenStates, classLabels);
        var c = Config;

        Tensor emb = Embedding(be, timesteps, encoderHiddenStates, classLabels, trace);
        using var context = _encoderProj.Forward(be, encoderHiddenStates);
        trace?.Invoke("encoder_hid_proj", context);
        // Stage I ResNets see GELU(emb); stage II (skip_time_act) the embedding itself. Computed once, not per block.
        using var temb = c.ResnetSkipTimeAct ? null : be.Activate(emb, Activation.Gelu);
        var resnetEmb = temb ?? emb;

        var skips = new Stack<Tensor>();
        var x = _convIn.Forward(be, sample);
        trace?.Invoke("conv_in", x);
        skips.Push(x);
        for (int i = 0; i < _down.Count; i++)
        {
            var lv = _down[i];
            int emitted = 0;
            for (int j = 0; j < lv.Resnets.Count; j++)
            {
                x = lv.Resnets[j].Forward(be, x, resnetEmb);
                if (lv.Attentions.Count > 0) x = ResnetBlock.Replace(x, lv.Attentions[j].Forward(be, x, context));
                skips.Push(x);
                trace?.Invoke($"down_blocks.{i}.res{emitted++}", x);
            }
            if (lv.Resampler != null)
            {
                x = lv.Resampler.Forward(be, x, resnetEmb);
                skips.Push(x);
                trace?.Invoke($"down_blocks.{i}.res{emitted++}", x);
            }
            trace?.Invoke($"down_blocks.{i}.hidden", x);
        }

        // x is the top of the skip stack, which the up path still needs: the mid block reads it without owning it.
        var h = _mid0.Forward(be, x, resnetEmb);
        h = ResnetBlock.Replace(h, _midAttn.Forward(be, h, context));
        h = ResnetBlock.Replace(h, _mid1.Forward(be, h, resnetEmb));
        trace?.Invoke("mid_block", h);

        for (int k = 0; k < _up.Count; k++)
        {
            var lv = _up[k];
            for (int j = 0; j < lv.Resnets.Count; j++)
            {
                // [h, skip] is read in place by the ResNet (norm1 and its 1×1 shortcut), never concatenated.
                using var skip = skips.Pop();
                h = ResnetBlock.Replace(h, lv.Resnets[j].Forward(be, h, resnetEmb, concat: skip));
                if (lv.Attentions.Count > 0) h = ResnetBlock.Replace(h, lv.Attentions[j].Forward(be, h, context));
            }
            if (lv.Resampler != null) h = ResnetBlock.Replace(h, lv.Resampler.Forward(be, h, resnetEmb));
            trace?.Invoke($"up_blocks.{k}", h);
        }
        emb.Dispose();

        // diffusers records conv_norm_out before its activation; the trace pays for a second norm only when asked.
        if (trace != null)
        {
            using var pre = be.GroupNorm(h, c.NormNumGroups, c.NormEps, _normOut.Weight.Value, _normOut.Bias.Value);
            trace("conv_norm_out", pre);
        }
        using var normed = be.GroupNorm(h, c.NormNumGroups, c.NormEps, _normOut.Weight.Value, _normOut.Bias.Value, act: Activation.Gelu);
        h.Dispose();
        return _convOut.Forward(be, normed);
    }

    private Tensor Embedding(IBackend be, Tensor timesteps, Tensor ehs, Tensor? classLabels, Action<string, Tensor>? trace)
    {
        var c = Config;
        int c0 = c.BlockOutChannels[0];
        Tensor emb;
        using (var tproj = be.Sinusoid(timesteps, c0, c.FlipSinToCos, c.FreqShift))
        {
            trace?.Invoke("time_proj", tproj);
            emb = _timeMlp.Forward(be, tproj);
        }
        trace?.Invoke("time_embedding", emb);
        if (_classMlp != null)
        {
            using var cproj = be.Sinusoid(classLabels!, c0, c.FlipSinToCos, c.FreqShift);
            trace?.Invoke("class_labels_proj", cproj);
            using var cemb = _classMlp.Forward(be, cproj);
            trace?.Invoke("class_embedding", cemb);
            emb = ResnetBlock.Replace(emb, be.Add(emb, cemb));
        }
        if (_textPool != null)
        {
            using var aug = _textPool.Forward(be, ehs);
            trace?.Invoke("add_embedding", aug);
            emb = ResnetBlock.Replace(emb, be.Add(emb, aug));
        }
        if (c.TimeEmbeddingGelu) emb = ResnetBlock.Replace(emb, be.Activate(emb, Activation.Gelu));
        trace?.Invoke("emb", emb);
        return emb;
    }

    private void CheckInputs(Tensor sample, Tensor timesteps, Tensor ehs, Tensor? classLabels)
    {
        var c = Config;
        var s = sample.Shape;
        if (s.Rank != 4 || s[1] != c.InChannels)
            throw new ShapeException($"UNet sample must be [B, {c.InChannels}, H, W], got {s}");
        int m = c.SpatialMultiple;
        if (s[2] % m != 0 || s[3] % m != 0 || s[2] == 0 || s[3] == 0)
            throw new ShapeException($"UNet sample {s}: height and width must be positive multiples of {m} ({c.Levels} levels)");
        if (timesteps.Shape != new Shape(s[0]))
            throw new ShapeException($"UNet timesteps must be [{s[0]}] (one per batch item), got {timesteps.Shape}");
        if (ehs.Shape.Rank != 3 || ehs.Shape[0] != s[0] || ehs.Shape[2] != c.EncoderHidDim)
            throw new ShapeException($"UNet encoder_hidden_states must be [{s[0]}, L, {c.EncoderHidDim}], got {ehs.Shape}");
        if (c.ClassEmbedTimestep && classLabels == null)
            throw new ShapeException("this UNet (class_embed_type \"timestep\", stage II) needs class_labels (the noise level)");
        if (!c.ClassEmbedTimestep && classLabels != null)
            throw new ShapeException("class_labels given, but this UNet has no class embedding (stage I)");
        if (classLabels != null && classLabels.Shape != new Shape(s[0]))
            throw new ShapeException($"UNet class_labels must be [{s[0]}], got {classLabels.Shape}");
    }

    /// <summary>Releases the weights.</summary>
    public void Dispose()
    {
        _params.Dispose();
        Backend = null;
    }
}
