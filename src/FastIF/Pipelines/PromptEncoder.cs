using System.Security.Cryptography;
using System.Text;
using FastIF.Backends;
using FastIF.Models.T5;
using FastIF.Tensors;
using FastIF.Text;
using FastIF.Weights;

namespace FastIF.Pipelines;

/// <summary>A prompt and its negative as T5 encoded them: <c>[1, L, D]</c> each, with the token masks.</summary>
/// <param name="Prompt">The prompt as given.</param>
/// <param name="Negative">The negative prompt as given (IF's default is "").</param>
/// <param name="PromptEmbeds">T5's last hidden state for the prompt, every position kept.</param>
/// <param name="NegativeEmbeds">The same for the negative prompt.</param>
/// <param name="PromptMask">The prompt's attention mask (1 = token or EOS).</param>
/// <param name="NegativeMask">The negative's attention mask.</param>
/// <param name="Width">d_model (4096 for IF).</param>
/// <param name="DroppedTokens">Tokens the prompt lost to truncation (0 when it fit).</param>
public sealed record EncodedPrompt(string Prompt, string Negative, float[] PromptEmbeds, float[] NegativeEmbeds, int[] PromptMask,
    int[] NegativeMask, int Width, int DroppedTokens)
{
    /// <summary>Tokens per sequence (77 for IF).</summary>
    public int Length => PromptMask.Length;

    /// <summary>The embeddings as the samplers take them, repeated for <paramref name="batch"/> images.</summary>
    public TextConditioning Conditioning(int batch) => new(HostArrays.Repeat(PromptEmbeds, batch), HostArrays.Repeat(NegativeEmbeds, batch));

    /// <summary>
    /// Writes the embedding file every mode reads with <c>--embeds</c>: <c>prompt_embeds</c> and <c>negative_prompt_embeds</c>
    /// <c>[1, L, D]</c> (F32), their masks (I64), and the prompts and encoder in the metadata. Written atomically.
    /// </summary>
    public void Save(string path, IReadOnlyDictionary<string, string>? extraMetadata = null)
    {
        var meta = new Dictionary<string, string>
        {
            ["producer"] = "fastif encode", ["prompt"] = Prompt, ["negative_prompt"] = Negative,
            ["dropped_tokens"] = DroppedTokens.ToString(),
        };
        if (extraMetadata != null) foreach (var kv in extraMetadata) meta[kv.Key] = kv.Value;
        var emb = new Shape(1, Length, Width);
        var mask = new Shape(1, Length);
        using var w = new SafetensorsWriter(path, [("prompt_embeds", DType.F32, emb), ("negative_prompt_embeds", DType.F32, emb),
            ("prompt_attention_mask", DType.I64, mask), ("negative_attention_mask", DType.I64, mask)], meta);
        w.Write("prompt_embeds", PromptEmbeds);
        w.Write("negative_prompt_embeds", NegativeEmbeds);
        w.Write("prompt_attention_mask", PromptMask.Select(v => (long)v).ToArray());
        w.Write("negative_attention_mask", NegativeMask.Select(v => (long)v).ToArray());
        w.Commit();
    }

    /// <summary>Reads a file written by <see cref="Save"/> (null when it is not one).</summary>
    public static EncodedPrompt? TryLoad(string path)
    {
        using var f = SafetensorsFile.Open(path);
        if (!f.TryGetEntry("prompt_embeds", out var pe) || !f.TryGetEntry("prompt_attention_mask", out _) || pe.Shape.Rank != 3) return null;
        f.Metadata.TryGetValue("prompt", out var prompt);
        f.Metadata.TryGetValue("negative_prompt", out var negative);
        int.TryParse(f.Metadata.GetValueOrDefault("dropped_tokens"), out int dropped);
        return new EncodedPrompt(prompt ?? "", negative ?? "", f.ReadFloat32("prompt_embeds"), f.ReadFloat32("negative_prompt_embeds"),
            f.ReadInt64("prompt_attention_mask").Select(v => (int)v).ToArray(), f.ReadInt64("negative_attention_mask").Select(v => (int)v).ToArray(),
            pe.Shape[2], dropped);
    }
}

/// <summary>
/// Prompts to IF's conditioning, in-engine: IF's preprocessing, the T5 tokenizer (77 tokens), and the T5 encoder on a
/// backend, the prompt and its negative in one batch. Finds <c>tokenizer/spiece.model</c> and <c>text_encoder/</c> in an IF
/// snapshot (or takes them separately). Results can be cached by a key over the encoder's identity and the text.
/// </summary>
public sealed class PromptEncoder : IDisposable
{
    private readonly T5Tokenizer _tokenizer;
    private readonly T5Encoder _encoder;

    private PromptEncoder(T5Tokenizer tokenizer, T5Encoder encoder, string identity)
    {
        _tokenizer = tokenizer;
        _encoder = encoder;
        Identity = identity;
    }

    /// <summary>What the cache key covers of the model: folders, config and weight files' sizes and times, and the backend
    /// and precision it runs on.</summary>
    public string Identity { get; }

    /// <summary>The encoder.</summary>
    public T5Encoder Encoder => _encoder;

    /// <summary>
    /// Opens the text side of <paramref name="model"/>: an IF snapshot (<c>text_encoder/</c>, <c>tokenizer/spiece.model</c>) or a
    /// <c>text_encoder</c> folder itself (then <paramref name="spiece"/> is required). Errors say what is missing.
    /// </summary>
    public static PromptEncoder Open(string model, IBackend backend, string? spiece = null, T5EncoderOptions? options = null)
    {
        var (encoderDir, spiecePath) = Locate(model, spiece);
        var tokenizer = T5Tokenizer.Load(spiecePath);
        var encoder = T5Encoder.Load(encoderDir, backend, options);
        if (tokenizer.VocabularySize > encoder.Config.VocabSize)
        {
            encoder.Dispose();
            throw new FastIFException($"{spiecePath}: the tokenizer produces ids up to {tokenizer.VocabularySize - 1}, the encoder in {encoderDir} embeds {encoder.Config.VocabSize}");
        }
        var id = new StringBuilder();
        id.Append(Path.GetFullPath(encoderDir)).Append('|').Append(options?.Variant).Append('|').Append(BackendIdentity(backend)).Append('|');
        foreach (var f in Directory.GetFiles(encoderDir).Append(spiecePath).Order(StringComparer.Ordinal))
        {
            var info = new FileInfo(f);
            id.Append(info.Name).Append(':').Append(info.Length).Append(':').Append(info.LastWriteTimeUtc.Ticks).Append('|');
        }
        return new PromptEncoder(tokenizer, encoder, id.ToString());
    }

    /// <summary>
    /// The backend and storage type embeddings were computed with (part of the cache key: a bf16 GPU encoding is not the
    /// CPU's fp32 one, and a run that asks for one must not be handed the other).
    /// </summary>
    public static string BackendIdentity(IBackend backend) => backend.Innermost() switch
    {
        Backends.Cuda.CudaBackend cuda => $"cuda/{cuda.Precision}",
        Backends.Cpu.CpuBackend => "cpu/F32",
        _ => throw new FastIFException($"backend {backend.Name} has no embedding-cache identity"),
    };

    /// <summary>Where the encoder and tokenizer of <paramref name="model"/> are.</summary>
    public static (string EncoderDir, string Spiece) Locate(string model, string? spiece)
    {
        if (!Directory.Exists(model)) throw new FastIFException($"{model}: model folder not found");
        string encoderDir = Directory.Exists(Path.Combine(model, "text_encoder")) ? Path.Combine(model, "text_encoder") : model;
        if (!File.Exists(Path.Combine(encoderDir, "config.json")))
            throw new FastIFException($"{model}: no text_encoder/ folder (an IF snapshot's T5) and no config.json of one here; " +
                "give an IF snapshot or a text_encoder folder, or use --embeds FILE");
        spiece ??= Path.Combine(model, "tokenizer", "spiece.model");
        if (!File.Exists(spiece))
            throw new FastIFException($"{spiece}: tokenizer not found (an IF snapshot keeps it in tokenizer/spiece.model; --spiece FILE names another)");
        return (encoderDir, spiece);
    }

    /// <summary>The cache key of a request: SHA-256 over the model identity, both texts and the preprocessing.</summary>
    public string CacheKey(string prompt, string negative, bool cleanCaption) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"{Identity}\n{cleanCaption}\n{prompt}\n\u0000{negative}")));

    /// <summary>
    /// Encodes <paramref name="prompt"/> and <paramref name="negative"/> (IF's preprocessing, 77 tokens, EOS, padding) in
    /// one batch and returns every position's hidden state, padding included, as IF feeds the UNet.
    /// </summary>
    public EncodedPrompt Encode(string prompt, string negative = "", bool cleanCaption = false, Action<int, int>? onBlock = null,
        CancellationToken cancel = default)
    {
        var pos = _tokenizer.Encode(PromptText.IFPreprocess(prompt, cleanCaption));
        var neg = _tokenizer.Encode(PromptText.IFPreprocess(negative, cleanCaption));
        int l = pos.InputIds.Length, d = _encoder.Config.DModel;
        var ids = neg.InputIds.Concat(pos.InputIds).ToArray();
        var mask = neg.AttentionMask.Concat(pos.AttentionMask).ToArray();
        using var y = _encoder.Encode(ids, mask, 2, l, onBlock: onBlock, cancel: cancel);
        var all = y.ToArray();
        int bad = all.Count(v => !float.IsFinite(v));
        // T5 v1.1 is known to overflow in fp16: say so rather than hand NaNs to the UNet.
        if (bad > 0)
            throw new Sampling.NonFiniteException($"the T5 encoder produced {bad} NaN/Inf values for \"{prompt}\" " +
                $"on {y.Backend.Name} ({y.Storage}): T5 v1.1 overflows in fp16; use --precision bf16 or fp32");
        return new EncodedPrompt(prompt, negative, all[(l * d)..], all[..(l * d)], pos.AttentionMask, neg.AttentionMask, d, pos.DroppedTokens);
    }

    /// <summary>Encodes, or reads the result from <paramref name="cacheDir"/> when this exact request was encoded before.</summary>
    public EncodedPrompt EncodeCached(string prompt, string negative, bool cleanCaption, string cacheDir, Action<int, int>? onBlock = null,
        CancellationToken cancel = default)
    {
        var path = Path.Combine(cacheDir, CacheKey(prompt, negative, cleanCaption) + ".safetensors");
        if (File.Exists(path))
        {
            try
            {
                if (EncodedPrompt.TryLoad(path) is { } hit && hit.Width == _encoder.Config.DModel) return hit;
            }
            catch (SafetensorsException) { /* a damaged cache entry is re-encoded and replaced */ }
        }
        var r = Encode(prompt, negative, cleanCaption, onBlock, cancel);
        Directory.CreateDirectory(cacheDir);
        r.Save(path, new Dictionary<string, string> { ["cache_key"] = Path.GetFileNameWithoutExtension(path) });
        return r;
    }

    /// <summary>The default cache folder: <c>$FASTIF_CACHE/embeds</c> or <c>~/.cache/fastif/embeds</c>.</summary>
    public static string DefaultCacheDir()
    {
        var root = Environment.GetEnvironmentVariable("FASTIF_CACHE");
        if (string.IsNullOrEmpty(root)) root = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "fastif");
        return Path.Combine(root, "embeds");
    }

    /// <summary>Releases the encoder (and its mapped weights).</summary>
    public void Dispose() => _encoder.Dispose();
}
