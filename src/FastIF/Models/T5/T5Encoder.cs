using FastIF.Backends;
using FastIF.Tensors;
using FastIF.Weights;

namespace FastIF.Models.T5;

/// <summary>How a <see cref="T5Encoder"/> holds its weights.</summary>
/// <param name="Variant">Weights variant (<c>fp16</c> → <c>model.fp16.safetensors</c> or <c>model.safetensors.index.fp16.json</c>).</param>
/// <param name="StreamWeights">Keep the weights memory-mapped in their stored dtype and convert one block at a time for each
/// encode (memory ≈ one block); false converts everything once at load. Null picks streaming when the converted model
/// would exceed <see cref="ResidentLimitBytes"/>.</param>
/// <param name="ResidentLimitBytes">The size above which null <see cref="StreamWeights"/> streams.</param>
public sealed record T5EncoderOptions(string? Variant = null, bool? StreamWeights = null, long ResidentLimitBytes = 4L << 30);

/// <summary>
/// The T5 v1.1 encoder (IF's text encoder), written once against <see cref="IBackend"/>: embedding lookup (no scaling),
/// then per block <c>x += SelfAttn(RMSNorm(x))</c> with unscaled scores plus block 0's bucketed relative position bias
/// (shared by every block) and the key padding mask, and <c>x += wo·(gelu_tanh(wi_0·h) ⊙ wi_1·h)</c> on
/// <c>h = RMSNorm(x)</c>; a final RMS norm. All positions are returned, padding included, as IF uses them.
/// </summary>
public sealed class T5Encoder : IDisposable
{
    private readonly Checkpoint _ckpt;
    private readonly T5Weights _names;
    private readonly IBackend _be;
    private readonly float[] _biasTable;
    private Tensor[][]? _resident;
    private Tensor? _finalNorm;

    private T5Encoder(T5Config config, Checkpoint ckpt, IBackend be, bool stream)
    {
        Config = config;
        _ckpt = ckpt;
        _be = be;
        _names = new T5Weights(config, ckpt);
        _biasTable = ckpt.ReadFloat32(T5Weights.RelativeBias);
        Streaming = stream;
        StoredBytes = _names.StoredBytes(ckpt);
    }

    /// <summary>The model's configuration.</summary>
    public T5Config Config { get; }
    /// <summary>Whether weights are converted per block at each encode (true) or held converted (false).</summary>
    public bool Streaming { get; }
    /// <summary>Bytes of the weights as stored.</summary>
    public long StoredBytes { get; }

    /// <summary>
    /// Opens a <c>text_encoder/</c> folder: <c>config.json</c> and the weights (single file or sharded index, the
    /// variant's when asked). Every tensor is checked against the config before anything is converted.
    /// </summary>
    public static T5Encoder Load(string dir, IBackend backend, T5EncoderOptions? options = null)
    {
        options ??= new T5EncoderOptions();
        var config = T5Config.Load(Path.Combine(dir, "config.json"));
        var ckpt = Checkpoint.OpenDirectory(dir, "model", options.Variant);
        try
        {
            bool stream = options.StreamWeights ?? config.Parameters * 4 > options.ResidentLimitBytes;
            var enc = new T5Encoder(config, ckpt, backend, stream);
            if (!stream) enc.LoadAll();
            return enc;
        }
        catch
        {
            ckpt.Dispose();
            throw;
        }
    }

    private void LoadAll()
    {
        _resident = new Tensor[Config.NumLayers][];
        for (int i = 0; i < Config.NumLayers; i++) _resident[i] = LoadBlock(i);
        _finalNorm = Load(T5Weights.FinalNorm);
        _be.LoadFinished();
    }

    private Tensor Load(string name)
    {
        var e = _ckpt.GetEntry(name);
        return _be.LoadWeight(_ckpt.GetBytes(name), e.DType, e.Shape);
    }

    // Order: attention norm, q, k, v, o, feed-forward norm, wi_0, wi_1, wo.
    private Tensor[] LoadBlock(int i)
    {
        string[] names =
        [
            T5Weights.Attn(i, "layer_norm.weight"), T5Weights.Attn(i, "SelfAttention.q.weight"), T5Weights.Attn(i, "SelfAttention.k.weight"),
            T5Weights.Attn(i, "SelfAttention.v.weight"), T5Weights.Attn(i, "SelfAttention.o.weight"), T5Weights.Ffn(i, "layer_norm.weight"),
            T5Weights.Ffn(i, "DenseReluDense.wi_0.weight"), T5Weights.Ffn(i, "DenseReluDense.wi_1.weight"), T5Weights.Ffn(i, "DenseReluDense.wo.weight"),
        ];
        var w = new Tensor[names.Length];
        try
        {
            for (int k = 0; k < names.Length; k++) w[k] = Load(names[k]);
        }
        catch
        {
            foreach (var t in w) t?.Dispose();
            throw;
        }
        return w;
    }

    /// <summary>
    /// Encodes <paramref name="batch"/> rows of <paramref name="length"/> token ids (row-major) with their attention
    /// masks; returns <c>last_hidden_state</c> <c>[B, L, d_model]</c>. <paramref name="trace"/> sees <c>embeddings</c>,
    /// <c>block.{i}.after_attention</c> and <c>block.{i}.output</c> as they are computed.
    /// </summary>
    public Tensor Encode(ReadOnlySpan<int> inputIds, ReadOnlySpan<int> attentionMask, int batch, int length,
        Action<string, Tensor>? trace = null, Action<int, int>? onBlock = null, CancellationToken cancel = default)
    {
        var c = Config;
        if (batch < 1 || length < 1) throw new ShapeException($"T5 encode: batch {batch} and length {length} must be positive");
        if (inputIds.Length != batch * length || attentionMask.Length != batch * length)
            throw new ShapeException($"T5 encode: {inputIds.Length} ids and {attentionMask.Length} mask values for {batch} x {length}");
        var x = _be.FromHost(EmbeddingRows(inputIds), new Shape(batch, length, c.DModel));
        try
        {
            trace?.Invoke("embeddings", x);
            using var bias = _be.FromHost(PositionBiasWithMask(attentionMask, batch, length), new Shape(batch * c.NumHeads * length * length));
            for (int i = 0; i < c.NumLayers; i++)
            {
                cancel.ThrowIfCancellationRequested();
                var w = _resident?[i] ?? LoadBlock(i);
                try { x = Block(x, w, bias, i, trace); }
                finally
                {
                    if (_resident == null)
                    {
                        foreach (var t in w) t.Dispose();
                        // A host backend's converted block is ~0.8 GB of managed arrays for XXL: collect it now rather
                        // than letting several freed blocks pile up before the GC gets round to them.
                        if (_be.Name == "cpu") GC.Collect(2, GCCollectionMode.Forced, blocking: true);
                    }
                }
                onBlock?.Invoke(i + 1, c.NumLayers);
            }
            var norm = _finalNorm ?? Load(T5Weights.FinalNorm);
            try { return _be.RmsNorm(x, c.LayerNormEpsilon, norm); }
            finally { if (_finalNorm == null) norm.Dispose(); }
        }
        finally { x.Dispose(); }
    }

    private Tensor Block(Tensor x, Tensor[] w, Tensor bias, int i, Action<string, Tensor>? trace)
    {
        // Each sublayer's output projection adds the residual stream in its GEMM (Linear's residual): no separate add.
        var c = Config;
        Tensor x1;
        using (var h = _be.RmsNorm(x, c.LayerNormEpsilon, w[0]))
        using (var q = _be.Linear(h, w[1], null))
        using (var k = _be.Linear(h, w[2], null))
        using (var v = _be.Linear(h, w[3], null))
        using (var o = _be.Attention(q, k, v, c.NumHeads, 1f, scoreBias: bias))
            x1 = _be.Linear(o, w[4], null, residual: x);
        x.Dispose();
        trace?.Invoke($"block.{i}.after_attention", x1);
        Tensor x2;
        using (var h = _be.RmsNorm(x1, c.LayerNormEpsilon, w[5]))
        using (var gate = _be.Linear(h, w[6], null))
        using (var lin = _be.Linear(h, w[7], null))
        using (var prod = _be.Multiply(gate, lin, Activation.GeluTanh))
            x2 = _be.Linear(prod, w[8], null, residual: x1);
        x1.Dispose();
        trace?.Invoke($"block.{i}.output", x2);
        return x2;
    }

    /// <summary>Rows of the embedding for the ids, converted from the stored dtype on the host (only the rows used).</summary>
    private float[] EmbeddingRows(ReadOnlySpan<int> ids)
    {
        int d = Config.DModel;
        var e = _ckpt.GetEntry(_names.Embedding);
        var raw = _ckpt.GetBytes(_names.Embedding);
        int rowBytes = d * e.DType.Size();
        var rows = new float[ids.Length * d];
        for (int t = 0; t < ids.Length; t++)
        {
            int id = ids[t];
            if ((uint)id >= (uint)Config.VocabSize) throw new ShapeException($"T5 encode: token id {id} is outside the embedding of {Config.VocabSize} rows");
            DTypeConvert.ToFloat32(raw.Slice(id * rowBytes, rowBytes), e.DType, rows.AsSpan(t * d, d));
        }
        return rows;
    }

    /// <summary>
    /// The score bias every block adds, flat <c>[B, heads, L, L]</c>: block 0's table at each (query, key) bucket, plus
    /// float.MinValue on masked keys (HF adds <c>finfo(float32).min</c>: padded keys are masked, padded queries are not).
    /// </summary>
    private float[] PositionBiasWithMask(ReadOnlySpan<int> mask, int batch, int length)
    {
        var c = Config;
        var buckets = RelativePositionBuckets(length, c.RelativeBuckets, c.RelativeMaxDistance);
        int h = c.NumHeads;
        var bias = new float[batch * h * length * length];
        for (int b = 0; b < batch; b++)
            for (int head = 0; head < h; head++)
                for (int i = 0; i < length; i++)
                {
                    int row = ((b * h + head) * length + i) * length;
                    for (int j = 0; j < length; j++)
                    {
                        float v = _biasTable[buckets[i * length + j] * h + head];
                        bias[row + j] = mask[b * length + j] != 0 ? v : v + float.MinValue;
                    }
                }
        return bias;
    }

    /// <summary>
    /// T5's bidirectional bucket of every (query i, key j) pair, row-major <c>[L, L]</c>: distance <c>n = j − i</c>; keys
    /// after the query use the upper half; |n| below half/2 is its own bucket, larger ones share logarithmic buckets up
    /// to max distance (evaluated in float32 with truncation, as HF does).
    /// </summary>
    public static int[] RelativePositionBuckets(int length, int numBuckets, int maxDistance)
    {
        int half = numBuckets / 2, exact = half / 2;
        var r = new int[length * length];
        float logRange = (float)Math.Log(maxDistance / (double)exact);
        for (int i = 0; i < length; i++)
            for (int j = 0; j < length; j++)
            {
                int n = j - i, a = Math.Abs(n);
                int bucket = n > 0 ? half : 0;
                if (a < exact) bucket += a;
                else
                {
                    float large = MathF.Log(a / (float)exact) / logRange * (half - exact);
                    bucket += Math.Min(exact + (int)large, half - 1);
                }
                r[i * length + j] = bucket;
            }
        return r;
    }

    /// <summary>Releases resident weights and the mapped checkpoint.</summary>
    public void Dispose()
    {
        if (_resident != null) foreach (var blk in _resident) foreach (var t in blk) t.Dispose();
        _resident = null;
        _finalNorm?.Dispose();
        _finalNorm = null;
        _ckpt.Dispose();
    }
}
