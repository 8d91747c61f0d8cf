using FastIF.Backends;

namespace FastIF.Models.UNet;

/// <summary>nn.Linear: weight [out, in] and bias [out].</summary>
internal sealed class LinearLayer(ParamSet ps, string prefix, int inF, int outF)
{
    private readonly ParamSet.Param _w = ps.Add(prefix + ".weight", ParamKind.Weight, outF, inF);
    private readonly ParamSet.Param _b = ps.Add(prefix + ".bias", ParamKind.Bias, outF);

    public Tensor Forward(IBackend be, Tensor x, Activation act = Activation.None, Tensor? residual = null)
        => be.Linear(x, _w.Value, _b.Value, act, residual);
}

/// <summary>nn.Conv2d with "same" zero padding for odd kernels.</summary>
internal sealed class ConvLayer(ParamSet ps, string prefix, int cin, int cout, int k)
{
    private readonly ParamSet.Param _w = ps.Add(prefix + ".weight", ParamKind.Weight, cout, cin, k, k);
    private readonly ParamSet.Param _b = ps.Add(prefix + ".bias", ParamKind.Bias, cout);

    public Tensor Forward(IBackend be, Tensor x, Tensor? residual = null, float outScale = 1f, bool upsampledResidual = false)
        => be.Conv2d(x, _w.Value, _b.Value, k / 2, residual, outScale, upsampledResidual);

    /// <summary>The convolution without its bias, for a consumer that adds <see cref="Bias"/> as it reads.</summary>
    public Tensor ForwardWithoutBias(IBackend be, Tensor x) => be.Conv2d(x, _w.Value, null, k / 2);

    /// <summary>The bias <see cref="ForwardWithoutBias"/> leaves out.</summary>
    public Tensor Bias => _b.Value;

    /// <summary>This (1×1) convolution of the channel concatenation [a, b], read in place.</summary>
    public Tensor ForwardConcat(IBackend be, Tensor a, Tensor b) => be.Conv1x1Concat(a, b, _w.Value, _b.Value);
}

/// <summary>Affine parameters of a GroupNorm or LayerNorm.</summary>
internal sealed class NormLayer(ParamSet ps, string prefix, int channels)
{
    public ParamSet.Param Weight { get; } = ps.Add(prefix + ".weight", ParamKind.NormWeight, channels);
    public ParamSet.Param Bias { get; } = ps.Add(prefix + ".bias", ParamKind.NormBias, channels);
}

/// <summary>diffusers TimestepEmbedding: Linear → GELU → Linear.</summary>
internal sealed class TimestepMlp(ParamSet ps, string prefix, int inF, int outF)
{
    private readonly LinearLayer _l1 = new(ps, prefix + ".linear_1", inF, outF);
    private readonly LinearLayer _l2 = new(ps, prefix + ".linear_2", outF, outF);

    public Tensor Forward(IBackend be, Tensor x)
    {
        using var h = _l1.Forward(be, x, Activation.Gelu);
        return _l2.Forward(be, h);
    }
}

/// <summary>Resampling done inside a ResNet block (IF has no separate resampling layers).</summary>
internal enum Resample { None, Down, Up }

/// <summary>
/// ResnetBlock2D with scale-shift FiLM: GN→GELU→(resample)→conv1→GN·(1+scale)+shift→GELU→conv2, plus the
/// (resampled, maybe 1×1-projected) input, all divided by the output scale factor.
/// </summary>
internal sealed class ResnetBlock
{
    private readonly NormLayer _norm1, _norm2;
    private readonly ConvLayer? _conv1;
    private readonly UpsampleConvLayer? _upConv1;
    private readonly ConvLayer _conv2;
    private readonly LinearLayer _timeProj;
    private readonly ConvLayer? _shortcut;
    private readonly Resample _resample;
    private readonly int _groups;
    private readonly float _eps, _outScale;

    public ResnetBlock(ParamSet ps, string prefix, UNetConfig cfg, int cin, int cout, float outScaleFactor,
        Resample resample = Resample.None, bool subpixelUpsample = true)
    {
        _groups = cfg.NormNumGroups;
        _eps = cfg.NormEps;
        _outScale = 1f / outScaleFactor;
        _resample = resample;
        _norm1 = new NormLayer(ps, prefix + ".norm1", cin);
        if (resample == Resample.Up && subpixelUpsample) _upConv1 = new UpsampleConvLayer(ps, prefix + ".conv1", cin, cout);
        else _conv1 = new ConvLayer(ps, prefix + ".conv1", cin, cout, 3);
        _timeProj = new LinearLayer(ps, prefix + ".time_emb_proj", cfg.TimeEmbeddingDim, 2 * cout);
        _norm2 = new NormLayer(ps, prefix + ".norm2", cout);
        _conv2 = new ConvLayer(ps, prefix + ".conv2", cout, cout, 3);
        if (cin != cout) _shortcut = new ConvLayer(ps, prefix + ".conv_shortcut", cin, cout, 1);
    }

    /// <param name="be">Backend.</param>
    /// <param name="x">Input image.</param>
    /// <param name="temb">The embedding each ResNet projects (already GELU-ed when the config says so).</param>
    /// <param name="concat">When given, the input is the channel concatenation [x, concat] (the up path's skip), read in
    /// place by its only two consumers, norm1 and the 1×1 shortcut, instead of being built.</param>
    public Tensor Forward(IBackend be, Tensor x, Tensor temb, Tensor? concat = null)
    {
        if (concat != null && (_shortcut == null || _resample != Resample.None))
            throw new InvalidOperationException("ResnetBlock: a concatenated input needs a 1x1 shortcut and no resampling");
        // Resampling is fused into its neighbours: a downsampler's norm1 writes the pooled image, an upsampler's conv1 upsamples
        // inside the convolution (sub-pixel) and its conv2 reads the skip through nearest x2; only the pooled skip is an op.
        var (g, b) = (_norm1.Weight.Value, _norm1.Bias.Value);
        var h = concat != null ? be.GroupNormConcat(x, concat, _groups, _eps, g, b, Activation.Gelu)
            : _resample == Resample.Down ? be.GroupNormPool2x(x, _groups, _eps, g, b, Activation.Gelu)
            : be.GroupNorm(x, _groups, _eps, g, b, act: Activation.Gelu);
        if (_resample == Resample.Up && _upConv1 == null) h = Replace(h, be.UpsampleNearest2x(h));
        Tensor skip = _resample == Resample.Down ? be.AvgPool2x2(x) : x;
        // conv1's bias is added by norm2 as it reads conv1's output (no epilogue pass over it).
        h = Replace(h, _upConv1 != null ? _upConv1.ForwardWithoutBias(be, h) : _conv1!.ForwardWithoutBias(be, h));
        var bias1 = _upConv1 != null ? _upConv1.Bias : _conv1!.Bias;
        using (var ss = _timeProj.Forward(be, temb))
            h = Replace(h, be.GroupNorm(h, _groups, _eps, _norm2.Weight.Value, _norm2.Bias.Value, ss, Activation.Gelu, bias1));
        Tensor? projected = concat == null ? _shortcut?.Forward(be, skip) : _shortcut!.ForwardConcat(be, x, concat);
        var y = _conv2.Forward(be, h, projected ?? skip, _outScale, upsampledResidual: _resample == Resample.Up);
        h.Dispose();
        projected?.Dispose();
        if (!ReferenceEquals(skip, x)) skip.Dispose();
        return y;
    }

    internal static Tensor Replace(Tensor old, Tensor next)
    {
        old.Dispose();
        return next;
    }
}

/// <summary>
/// diffusers Attention with AttnAddedKVProcessor: GroupNorm on the image, norm_cross on the text, text keys/values
/// first then image keys/values (unless only-cross), output projection plus the un-normalised input.
/// </summary>
internal sealed class AddedKVAttention
{
    private readonly NormLayer _groupNorm;
    private readonly NormLayer? _normCross;
    private readonly LinearLayer _q, _addK, _addV, _out;
    private readonly LinearLayer? _k, _v;
    private readonly int _heads, _groups;
    private readonly float _scale;

    public AddedKVAttention(ParamSet ps, string prefix, UNetConfig cfg, int channels, bool onlyCross)
    {
        _heads = channels / cfg.AttentionHeadDim;
        _scale = 1f / MathF.Sqrt(cfg.AttentionHeadDim);
        _groups = cfg.NormNumGroups;
        int d = cfg.CrossAttentionDim;
        _groupNorm = new NormLayer(ps, prefix + ".group_norm", channels);
        if (cfg.CrossAttentionGroupNorm) _normCross = new NormLayer(ps, prefix + ".norm_cross", d);
        _q = new LinearLayer(ps, prefix + ".to_q", channels, channels);
        if (!onlyCross)
        {
            _k = new LinearLayer(ps, prefix + ".to_k", channels, channels);
            _v = new LinearLayer(ps, prefix + ".to_v", channels, channels);
        }
        _addK = new LinearLayer(ps, prefix + ".add_k_proj", d, channels);
        _addV = new LinearLayer(ps, prefix + ".add_v_proj", d, channels);
        _out = new LinearLayer(ps, prefix + ".to_out.0", channels, channels);
    }

    public Tensor Forward(IBackend be, Tensor x, Tensor context)
    {
        int height = x.Shape[2], width = x.Shape[3];
        using var text = _normCross == null ? null
            : be.GroupNormTokens(context, 32, 1e-5f, _normCross.Weight.Value, _normCross.Bias.Value);
        var ctx = text ?? context;
        Tensor hs;
        using (var normed = be.GroupNorm(x, _groups, 1e-5f, _groupNorm.Weight.Value, _groupNorm.Bias.Value))
            hs = be.ToTokens(normed);
        using var q = _q.Forward(be, hs);
        using var ek = _addK.Forward(be, ctx);
        using var ev = _addV.Forward(be, ctx);
        using var sk = _k?.Forward(be, hs);
        using var sv = _v?.Forward(be, hs);
        hs.Dispose();
        using var o = be.Attention(q, ek, ev, _heads, _scale, sk, sv);
        // The layer's input is added by the output projection's GEMM (a view of x as tokens where the layout allows).
        using var input = be.ToTokens(x);
        using var proj = _out.Forward(be, o, residual: input);
        return be.FromTokens(proj, height, width);
    }
}

/// <summary>diffusers TextTimeEmbedding: LayerNorm → attention pooling (mean token + positional embedding as the query) → Linear → LayerNorm.</summary>
internal sealed class TextPooling
{
    private readonly NormLayer _norm1, _norm2;
    private readonly ParamSet.Param _pos;
    private readonly LinearLayer _q, _k, _v, _proj;
    private readonly int _heads;
    private readonly float _scale;

    public TextPooling(ParamSet ps, string prefix, int encoderDim, int timeDim, int heads)
    {
        _heads = heads;
        _scale = 1f / MathF.Sqrt(encoderDim / heads);
        _norm1 = new NormLayer(ps, prefix + ".norm1", encoderDim);
        _pos = ps.Add(prefix + ".pool.positional_embedding", ParamKind.Embedding, 1, encoderDim);
        _k = new LinearLayer(ps, prefix + ".pool.k_proj", encoderDim, encoderDim);
        _q = new LinearLayer(ps, prefix + ".pool.q_proj", encoderDim, encoderDim);
        _v = new LinearLayer(ps, prefix + ".pool.v_proj", encoderDim, encoderDim);
        _proj = new LinearLayer(ps, prefix + ".proj", encoderDim, timeDim);
        _norm2 = new NormLayer(ps, prefix + ".norm2", timeDim);
    }

    /// <summary>Returns the pooled embedding [B, T].</summary>
    public Tensor Forward(IBackend be, Tensor encoderHiddenStates)
    {
        using var x = be.LayerNorm(encoderHiddenStates, 1e-5f, _norm1.Weight.Value, _norm1.Bias.Value);
        using var mean = be.MeanTokens(x);
        using var cls = be.Add(mean, _pos.Value);
        using var seq = be.ConcatTokens(cls, x);
        using var q = _q.Forward(be, cls);
        using var k = _k.Forward(be, seq);
        using var v = _v.Forward(be, seq);
        using var pooled = be.Attention(q, k, v, _heads, _scale);
        using var p = _proj.Forward(be, pooled);
        using var normed = be.LayerNorm(p, 1e-5f, _norm2.Weight.Value, _norm2.Bias.Value);
        return be.Reshape(normed, new Tensors.Shape(normed.Shape[0], normed.Shape[2]));
    }
}
