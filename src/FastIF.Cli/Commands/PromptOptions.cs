using System.CommandLine;
using FastIF.Backends;
using FastIF.Models.T5;
using FastIF.Pipelines;

namespace FastIF.Cli.Commands;

/// <summary>
/// The text options every mode shares: <c>--prompt</c> (encoded in-process by the snapshot's T5, cached by a hash of the
/// request) or <c>--embeds FILE</c>, one per prompt a mode needs.
/// </summary>
internal sealed class PromptOptions
{
    public readonly Option<string[]> Prompts = new("--prompt") { Description = "a prompt, encoded by the snapshot's T5 (repeat for modes with several prompts)", AllowMultipleArgumentsPerToken = false };
    public readonly Option<string> Negative = new("--negative-prompt") { Description = "the negative prompt (IF's default: the empty prompt)", DefaultValueFactory = _ => "" };
    public readonly Option<bool> CleanCaption = new("--clean-caption") { Description = "apply IF's caption cleaning to the prompts (default: lower-case and strip, as diffusers' encode_prompt)" };
    public readonly Option<string?> Spiece = new("--spiece") { Description = "the tokenizer model, when not the snapshot's tokenizer/spiece.model" };
    public readonly Option<string?> TextEncoder = new("--text-encoder") { Description = "a T5 text_encoder folder or IF snapshot, when not the --model snapshot's" };
    public readonly Option<string?> TextVariant = new("--text-variant") { Description = "T5 weights variant (e.g. fp16)" };
    public readonly Option<bool> NoCache = new("--no-embed-cache") { Description = "encode prompts even when a cached result exists" };
    public readonly Option<string?> CacheDir = new("--embed-cache") { Description = "folder of cached prompt embeddings (default: $FASTIF_CACHE/embeds or ~/.cache/fastif/embeds)" };

    public IEnumerable<Option> All => [Prompts, Negative, CleanCaption, Spiece, TextEncoder, TextVariant, NoCache, CacheDir];

    /// <summary>Encodes (or reads from the cache) every prompt of a run, once, with the T5 loaded only while encoding.</summary>
    public IReadOnlyList<EncodedPrompt> EncodeAll(ParseResult p, string model, IBackend backend, CancellationToken cancel)
    {
        var prompts = p.GetValue(Prompts) ?? [];
        // T5 v1.1 overflows in fp16: on a GPU whose UNet runs in fp16 the encoder gets a bf16 backend of its own.
        using var t5Backend = backend is Backends.Cuda.CudaBackend { Precision: Tensors.DType.F16 } cuda
            ? new Backends.Cuda.CudaBackend(cuda.Options with { Precision = Tensors.DType.BF16 }) : null;
        using var enc = PromptEncoder.Open(p.GetValue(TextEncoder) ?? model, t5Backend ?? backend, p.GetValue(Spiece), new T5EncoderOptions(p.GetValue(TextVariant)));
        var results = new List<EncodedPrompt>();
        foreach (var prompt in prompts)
        {
            void Block(int done, int total) => Progress.Step($"encoding prompt {results.Count + 1}/{prompts.Length}: T5 block {done}/{total}", done, total);
            var r = p.GetValue(NoCache)
                ? enc.Encode(prompt, p.GetValue(Negative)!, p.GetValue(CleanCaption), Block, cancel)
                : enc.EncodeCached(prompt, p.GetValue(Negative)!, p.GetValue(CleanCaption), p.GetValue(CacheDir) ?? PromptEncoder.DefaultCacheDir(), Block, cancel);
            if (r.DroppedTokens > 0)
                Console.Error.WriteLine($"warning: prompt {results.Count + 1} truncated: {r.DroppedTokens} tokens dropped (IF encodes 76 + EOS)");
            results.Add(r);
        }
        return results;
    }
}
