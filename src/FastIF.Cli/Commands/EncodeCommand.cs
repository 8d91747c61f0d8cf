using System.CommandLine;
using System.Diagnostics;
using FastIF.Models.T5;
using FastIF.Pipelines;
using FastIF.Runtime;

namespace FastIF.Cli.Commands;

/// <summary>
/// <c>fastif encode --model DIR "prompt" --out FILE</c>: a prompt (and its negative) through IF's T5 into the embedding
/// file every mode reads with <c>--embeds</c>; reports the time and the process's peak memory.
/// </summary>
internal static class EncodeCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "an IF snapshot (text_encoder/, tokenizer/) or a T5 text_encoder folder", Required = true };
        var prompt = new Argument<string>("prompt") { Description = "the prompt" };
        var outFile = new Option<string>("--out") { Description = "safetensors file to write (prompt_embeds, negative_prompt_embeds, masks, prompts in metadata)", Required = true };
        var text = new PromptOptions();
        var stream = new Option<string>("--weights") { Description = "stream (convert one T5 block at a time; memory ~ one block), resident, or auto", DefaultValueFactory = _ => "auto" };
        var backend = BackendOption.Create();
        var precision = new Option<string>("--precision")
        {
            Description = "storage type on the cuda backend: bf16 (default: T5 v1.1 overflows in fp16), fp32 or fp16",
            DefaultValueFactory = _ => "bf16",
        };
        var cmd = new Command("encode", "Encode a prompt with IF's T5 encoder into an embedding file.")
            { model, prompt, outFile, text.Negative, text.CleanCaption, text.Spiece, text.TextVariant, stream, backend, precision };
        cmd.SetAction((pr, ct) => Task.FromResult(CliErrors.Run(() =>
        {
            bool? streaming = pr.GetValue(stream) switch
            {
                "stream" => true,
                "resident" => false,
                "auto" => null,
                var s => throw new FastIFException($"--weights \"{s}\": use stream, resident or auto"),
            };
            using var be = BackendOption.Resolve(pr.GetValue(backend)!, pr.GetValue(precision)!);
            var load = Stopwatch.StartNew();
            using var enc = PromptEncoder.Open(pr.GetValue(model)!, be, pr.GetValue(text.Spiece), new T5EncoderOptions(pr.GetValue(text.TextVariant), streaming));
            double loadMs = load.Elapsed.TotalMilliseconds;
            var sw = Stopwatch.StartNew();
            long peakAnon = ProcessMemory.AnonymousBytes();
            var r = enc.Encode(pr.GetValue(prompt)!, pr.GetValue(text.Negative)!, pr.GetValue(text.CleanCaption), (done, total) =>
            {
                peakAnon = Math.Max(peakAnon, ProcessMemory.AnonymousBytes());
                Progress.Step($"T5 block {done}/{total} ({sw.Elapsed.TotalSeconds:F1} s)", done, total);
            }, ct);
            double encodeMs = sw.Elapsed.TotalMilliseconds;
            if (r.DroppedTokens > 0) Console.Error.WriteLine($"warning: prompt truncated: {r.DroppedTokens} tokens dropped (IF encodes 76 + EOS)");
            string outPath = pr.GetValue(outFile)!;
            r.Save(outPath, new Dictionary<string, string> { ["text_encoder"] = Path.GetFullPath(pr.GetValue(model)!), ["backend"] = be.Name });
            var c = enc.Encoder.Config;
            Console.WriteLine($"encode: wrote {outPath} ([1, {r.Length}, {r.Width}] x 2: prompt and negative; {r.PromptMask.Sum()} prompt tokens) — " +
                $"T5 {c.NumLayers} blocks, {c.Parameters / 1e9:F2} B parameters, {enc.Encoder.StoredBytes / 1e9:F2} GB stored, " +
                $"{(enc.Encoder.Streaming ? "streamed" : "resident")} on {be.Name}: open {loadMs:F0} ms, encode {encodeMs:F0} ms; " +
                $"peak memory {ProcessMemory.Gib(ProcessMemory.PeakResidentBytes())} resident (VmHWM: includes mapped weight pages the OS can drop), " +
                $"{ProcessMemory.Gib(peakAnon)} anonymous (largest RssAnon seen after each block)");
            return 0;
        })));
        return cmd;
    }
}
