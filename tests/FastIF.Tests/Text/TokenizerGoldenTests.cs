using System.Text.Json;
using FastIF.Text;

namespace FastIF.Tests.Text;

/// <summary>
/// Every case of ../shared/fixtures/t5/tokenizer_cases.jsonl (encoded by the real sentencepiece library and HF's
/// T5Tokenizer) for the real T5 spiece.model and the tiny unigram model, and every HF reference case.
/// </summary>
public class TokenizerGoldenTests
{
    private static readonly Dictionary<string, T5Tokenizer> Loaded = [];

    internal static T5Tokenizer Tokenizer(string model)
    {
        lock (Loaded)
        {
            if (!Loaded.TryGetValue(model, out var t)) Loaded[model] = t = T5Tokenizer.Load(Fixtures.Require("t5", model));
            return t;
        }
    }

    private static IEnumerable<JsonElement> Lines(string file)
    {
        var root = Fixtures.Root;
        var path = root == null ? null : Path.Combine(root, "t5", file);
        if (path == null || !File.Exists(path))
        {
            if (Fixtures.Explicit) throw new InvalidOperationException($"fixture missing: {path}");
            yield break;
        }
        foreach (var line in File.ReadLines(path))
            if (line.Trim().Length > 0) yield return JsonDocument.Parse(line).RootElement.Clone();
    }

    public static TheoryData<string> Cases()
    {
        var d = new TheoryData<string>();
        foreach (var e in Lines("tokenizer_cases.jsonl")) d.Add(e.GetProperty("id").GetString()!);
        if (d.Count == 0) d.Add("(no fixtures)");
        return d;
    }

    public static TheoryData<string> HfCases()
    {
        var d = new TheoryData<string>();
        foreach (var e in Lines("tokenizer_hf_reference_cases.jsonl")) d.Add(e.GetProperty("id").GetString()!);
        if (d.Count == 0) d.Add("(no fixtures)");
        return d;
    }

    private static JsonElement Case(string file, string id)
    {
        if (id == "(no fixtures)") Assert.Skip("golden fixtures not found: set FASTIF_FIXTURES or place them at ../shared/fixtures");
        return Lines(file).Single(e => e.GetProperty("id").GetString() == id);
    }

    private static int[] Ints(JsonElement e, string name) => e.GetProperty(name).EnumerateArray().Select(x => x.GetInt32()).ToArray();
    private static string[] Strings(JsonElement e, string name) => e.GetProperty(name).EnumerateArray().Select(x => x.GetString()!).ToArray();

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesSentencePieceAndHuggingFace(string id)
    {
        var c = Case("tokenizer_cases.jsonl", id);
        var tok = Tokenizer(c.GetProperty("model").GetString()!);
        string text = c.GetProperty("text").GetString()!;
        var (ids, pieces) = tok.EncodePieces(text);
        Assert.Equal(Strings(c, "pieces"), pieces);
        Assert.Equal(Ints(c, "ids"), ids);
        Assert.Equal(c.GetProperty("decoded").GetString(), tok.Decode(ids));

        var t = tok.Encode(text);
        Assert.Equal(Ints(c, "input_ids"), t.InputIds);
        Assert.Equal(Ints(c, "attention_mask"), t.AttentionMask);
        Assert.Equal(c.GetProperty("truncated").GetBoolean(), t.DroppedTokens > 0);
        Assert.Equal(Math.Max(0, c.GetProperty("num_pieces").GetInt32() - 76), t.DroppedTokens);

        if (c.TryGetProperty("if_text", out var ifText))
        {
            var pre = PromptText.IFPreprocess(text);
            Assert.Equal(ifText.GetString(), pre);
            Assert.Equal(Ints(c, "if_ids"), tok.EncodePieces(pre).Ids);
            var ti = tok.Encode(pre);
            Assert.Equal(Ints(c, "if_input_ids"), ti.InputIds);
            Assert.Equal(Ints(c, "if_attention_mask"), ti.AttentionMask);
        }
    }

    [Theory]
    [MemberData(nameof(HfCases))]
    public void MatchesHuggingFaceSpecialTokenHandling(string id)
    {
        var c = Case("tokenizer_hf_reference_cases.jsonl", id);
        var tok = Tokenizer("spiece.model");
        string text = c.GetProperty("text").GetString()!;
        var (spIds, spPieces) = tok.EncodePieces(text);
        Assert.Equal(Ints(c, "sentencepiece_ids"), spIds);
        Assert.Equal(Strings(c, "sentencepiece_pieces"), spPieces);
        var t = tok.Encode(text);
        var hf = Ints(c, "hf_ids");
        // hf_ids is HF's untruncated encoding; the 77-token form (when given) is what IF feeds T5.
        var full = c.GetProperty("add_special_tokens").GetBoolean() && (t.Ids.Length == 0 || t.Ids[^1] != 1) ? [.. t.Ids, 1] : t.Ids;
        Assert.Equal(hf, full);
        if (c.TryGetProperty("input_ids_max77", out _))
        {
            Assert.Equal(Ints(c, "input_ids_max77"), t.InputIds);
            Assert.Equal(Ints(c, "attention_mask_max77"), t.AttentionMask);
        }
    }
}
