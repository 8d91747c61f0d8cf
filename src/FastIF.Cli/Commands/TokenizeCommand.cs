using System.CommandLine;
using System.Text.Encodings.Web;
using System.Text.Json;
using FastIF.Text;

namespace FastIF.Cli.Commands;

/// <summary><c>fastif tokenize --spiece FILE "text"</c>: one JSON object with the SentencePiece ids and pieces and the
/// 77-token input_ids / attention_mask T5 is fed.</summary>
internal static class TokenizeCommand
{
    public static Command Create()
    {
        var spiece = new Option<string>("--spiece") { Description = "the SentencePiece model (tokenizer/spiece.model of an IF snapshot)", Required = true };
        var text = new Argument<string>("text") { Description = "the prompt" };
        var preprocess = new Option<bool>("--if-preprocess") { Description = "apply IF's default preprocessing first (Python lower().strip())" };
        var clean = new Option<bool>("--clean-caption") { Description = "apply IF's caption cleaning (twice) first" };
        var maxLength = new Option<int>("--max-length") { Description = "input_ids length (IF: 77)", DefaultValueFactory = _ => 77 };
        var cmd = new Command("tokenize", "Tokenize a prompt as IF feeds T5 and print it as JSON.") { spiece, text, preprocess, clean, maxLength };
        cmd.SetAction(pr => CliErrors.Run(() =>
        {
            int max = pr.GetValue(maxLength);
            if (max < 2) throw new FastIFException($"--max-length {max} must be at least 2");
            var tok = T5Tokenizer.Load(pr.GetValue(spiece)!);
            string prompt = pr.GetValue(text)!;
            if (pr.GetValue(clean)) prompt = PromptText.IFPreprocess(prompt, cleanCaption: true);
            else if (pr.GetValue(preprocess)) prompt = PromptText.IFPreprocess(prompt);
            var t = tok.Encode(prompt, max);
            if (t.DroppedTokens > 0)
                Console.Error.WriteLine($"warning: prompt truncated: {t.DroppedTokens} of {t.Ids.Length} tokens dropped (T5 sees {max - 1} + EOS)");
            var doc = new Dictionary<string, object>
            {
                ["text"] = prompt, ["ids"] = t.Ids, ["pieces"] = t.Pieces, ["input_ids"] = t.InputIds, ["attention_mask"] = t.AttentionMask,
            };
            Console.WriteLine(JsonSerializer.Serialize(doc, new JsonSerializerOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }));
            return 0;
        }));
        return cmd;
    }
}
