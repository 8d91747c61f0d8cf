using System.Text.Json;
using FastIF.Tests.Cli;
using FastIF.Text;

namespace FastIF.Tests.Text;

/// <summary><c>fastif tokenize</c>: one JSON object matching the fixture, a truncation warning, clear errors.</summary>
[Collection("console")]
public class TokenizeCliTests
{
    private static JsonElement Fixture(Func<JsonElement, bool> pick)
    {
        var path = Fixtures.Require("t5", "tokenizer_cases.jsonl");
        return File.ReadLines(path).Select(l => JsonDocument.Parse(l).RootElement.Clone()).First(pick);
    }

    [Fact]
    public void PrintsTheFixturesIdsAndInputIds()
    {
        var c = Fixture(e => e.GetProperty("model").GetString() == "spiece.model" && e.GetProperty("category").GetString() == "plain");
        var (code, output, err) = CliRunner.Run("tokenize", "--spiece", Fixtures.Require("t5", "spiece.model"), c.GetProperty("text").GetString()!);
        Assert.True(code == 0, err);
        using var doc = JsonDocument.Parse(output);
        foreach (var key in new[] { "ids", "pieces", "input_ids", "attention_mask" })
            Assert.Equal(c.GetProperty(key).EnumerateArray().Select(x => x.ToString()), doc.RootElement.GetProperty(key).EnumerateArray().Select(x => x.ToString()));
        Assert.Equal("", err);
    }

    [Fact]
    public void ALongPromptWarnsHowManyTokensWereDropped()
    {
        var c = Fixture(e => e.GetProperty("model").GetString() == "spiece.model" && e.GetProperty("truncated").GetBoolean());
        var (code, _, err) = CliRunner.Run("tokenize", "--spiece", Fixtures.Require("t5", "spiece.model"), c.GetProperty("text").GetString()!);
        Assert.Equal(0, code);
        Assert.Contains($"prompt truncated: {c.GetProperty("num_pieces").GetInt32() - 76} of {c.GetProperty("num_pieces").GetInt32()} tokens dropped", err);
    }

    [Fact]
    public void NotAUnigramModelOrNotAModelAreOneLineErrors()
    {
        var notModel = Path.GetTempFileName();
        try
        {
            File.WriteAllText(notModel, "this is not a protobuf");
            var (code, _, err) = CliRunner.Run("tokenize", "--spiece", notModel, "hi");
            Assert.Equal(2, code);
            Assert.StartsWith("error: ", err);
            Assert.Contains("not a valid SentencePiece model", err);
            // A BPE model: the real file with trainer_spec.model_type rewritten to 2.
            var bytes = File.ReadAllBytes(Fixtures.Require("t5", "tiny_unigram.model"));
            Assert.Contains("BPE", Assert.Throws<TokenizerException>(() => SentencePieceModel.Parse(WithModelType(bytes, 2), "bpe.model")).Message);
        }
        finally { File.Delete(notModel); }
    }

    /// <summary>Rewrites trainer_spec.model_type (field 3 of field 2) in a serialized ModelProto; the varint keeps its length.</summary>
    private static byte[] WithModelType(byte[] model, byte type)
    {
        var m = (byte[])model.Clone();
        int i = 0;
        while (i < m.Length)
        {
            int key = m[i++];
            int len = 0, shift = 0;
            while (true) { byte b = m[i++]; len |= (b & 0x7F) << shift; shift += 7; if (b < 0x80) break; }
            if (key == (2 << 3 | 2))
            {
                for (int j = i; j < i + len - 1; j++)
                    if (m[j] == (3 << 3) && m[j + 1] == 1) { m[j + 1] = type; return m; }
                throw new InvalidOperationException("model_type not found in trainer_spec");
            }
            i += len;
        }
        throw new InvalidOperationException("no trainer_spec");
    }
}
