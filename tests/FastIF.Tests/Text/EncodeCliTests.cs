using FastIF.Imaging;
using FastIF.Pipelines;
using FastIF.Tests.Cli;
using FastIF.Weights;

namespace FastIF.Tests.Text;

/// <summary>
/// Prompt to image on the tiny presets through the CLI: <c>fastif encode</c> then <c>generate --embeds</c>, the same
/// through <c>--prompt</c> (encoded in-process, then served from the cache), and the text options' errors.
/// </summary>
[Collection("console")]
public class EncodeCliTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"fastif-encode-{Guid.NewGuid():N}");
    private string Snap => Path.Combine(_dir, "if1");

    public EncodeCliTests()
    {
        var spiece = Fixtures.Require("t5", "spiece.model");
        Ok(CliRunner.Run("weights", "random", "--preset", "tiny", "--snapshot", "--dtype", "fp32", "--out", Snap));
        Ok(CliRunner.Run("weights", "random", "--preset", "t5-tiny", "--dtype", "bf16", "--out", Path.Combine(Snap, "text_encoder")));
        Directory.CreateDirectory(Path.Combine(Snap, "tokenizer"));
        File.Copy(spiece, Path.Combine(Snap, "tokenizer", "spiece.model"));
    }

    public void Dispose() => Directory.Delete(_dir, true);

    private static void Ok((int Code, string Out, string Err) r) => Assert.True(r.Code == 0, r.Err);

    [Fact]
    public void EncodeThenGenerateEqualsGenerateFromThePrompt()
    {
        var emb = Path.Combine(_dir, "a.safetensors");
        var (code, output, err) = CliRunner.Run("encode", "--model", Snap, "A Red Panda, oil painting", "--out", emb, "--backend", "cpu");
        Assert.True(code == 0, err);
        Assert.Contains("peak memory", output);
        var e = EncodedPrompt.TryLoad(emb)!;
        Assert.Equal("A Red Panda, oil painting", e.Prompt);
        Assert.Equal("", e.Negative);
        Assert.Equal(77, e.Length);
        Assert.Equal(256, e.Width);
        Assert.Equal(1, e.NegativeMask.Sum()); // "" is EOS alone
        Assert.True(e.PromptMask.Sum() > 5);
        Assert.NotEqual(e.PromptEmbeds, e.NegativeEmbeds);

        var a = Path.Combine(_dir, "a.png");
        var b = Path.Combine(_dir, "b.png");
        var c = Path.Combine(_dir, "c.png");
        string[] common = ["--model", Snap, "--steps", "2", "--size", "16", "--seed", "3", "--backend", "cpu", "--embed-cache", Path.Combine(_dir, "cache", "embeds")];
        Ok(CliRunner.Run(["generate", .. common, "--embeds", emb, "--out", a]));
        (code, _, err) = CliRunner.Run(["generate", .. common, "--prompt", "A Red Panda, oil painting", "--out", b]);
        Assert.True(code == 0, err);
        Assert.Contains("T5 block 2/2", err);
        Assert.Equal(Png.Read(a).ToRgba8(), Png.Read(b).ToRgba8());
        // Served from the cache the second time: no T5 progress, the same picture.
        (code, _, err) = CliRunner.Run(["generate", .. common, "--prompt", "A Red Panda, oil painting", "--out", c]);
        Assert.True(code == 0, err);
        Assert.DoesNotContain("T5 block", err);
        Assert.Single(Directory.GetFiles(Path.Combine(_dir, "cache", "embeds")));
        Assert.Equal(Png.Read(a).ToRgba8(), Png.Read(c).ToRgba8());
    }

    [Fact]
    public void CascadeRunsBothStagesAndItsStageOneIsGenerate()
    {
        var two = CascadeStageOneIsGenerate("cpu");
        var (code, _, err) = CliRunner.Run("cascade", "--stage1", two, "--stage2", Snap, "--prompt", "x", "--out", Path.Combine(_dir, "high.png"),
            "--backend", "cpu", "--embed-cache", Path.Combine(_dir, "cache", "embeds"));
        Assert.Equal(2, code);
        Assert.Contains("error: ", err);
    }

    /// <summary>The cascade on <c>--backend cuda</c>, T5 included (bf16 on the device). Skips without a GPU.</summary>
    [Fact]
    public void CascadeOnTheGpuRunsBothStagesAndItsStageOneIsGenerateOnTheGpu()
    {
        Cuda.Gpu.RequireCudaBackend();
        CascadeStageOneIsGenerate("cuda");
    }

    /// <summary>
    /// The cascade on <paramref name="backend"/>: both stages run and the JSON reports them, and its stage I is the generate
    /// mode with the same prompt, seed and timesteps, bit for bit (the same kernels on the same data). Returns the stage-II
    /// snapshot.
    /// </summary>
    private string CascadeStageOneIsGenerate(string backend)
    {
        var two = Path.Combine(_dir, "if2");
        Ok(CliRunner.Run("weights", "random", "--preset", "tiny-ii", "--snapshot", "--dtype", "fp32", "--out", two));
        string low = Path.Combine(_dir, "low.png"), high = Path.Combine(_dir, "high.png"), gen = Path.Combine(_dir, "gen.png"), json = Path.Combine(_dir, "c.json");
        string cache = Path.Combine(_dir, "cache", "embeds");
        var (code, output, err) = CliRunner.Run("cascade", "--stage1", Snap, "--stage2", two, "--prompt", "a red panda", "--timesteps1", "999,500,0",
            "--timesteps2", "999,0", "--size1", "16", "--size2", "32", "--seed", "4", "--out", high, "--out-stage1", low, "--json", json,
            "--backend", backend, "--embed-cache", cache);
        Assert.True(code == 0, err);
        Assert.Contains("stage I:", output);
        Assert.Contains("stage II:", output);
        Assert.Equal((32, 32), (Png.Read(high).Width, Png.Read(high).Height));
        using (var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(json)))
            Assert.Equal(2, doc.RootElement.GetProperty("stages").GetArrayLength());
        Ok(CliRunner.Run("generate", "--model", Snap, "--prompt", "a red panda", "--timesteps", "999,500,0", "--size", "16", "--seed", "4",
            "--out", gen, "--backend", backend, "--embed-cache", cache));
        Assert.Equal(Png.Read(gen).ToRgba8(), Png.Read(low).ToRgba8());
        return two;
    }

    [Fact]
    public void TextOptionErrors()
    {
        var outPng = Path.Combine(_dir, "x.png");
        var emb = Path.Combine(_dir, "r.safetensors");
        Ok(CliRunner.Run("embeds", "random", "--out", emb));
        var (code, _, err) = CliRunner.Run("generate", "--model", Snap, "--prompt", "x", "--embeds", emb, "--out", outPng);
        Assert.Equal(2, code);
        Assert.Contains("not both", err);
        (code, _, err) = CliRunner.Run("hybrid", "--model", Snap, "--prompt", "x", "--steps", "1", "--size", "16", "--out", outPng);
        Assert.Equal(2, code);
        Assert.Contains("needs 2 --prompt", err);
        var bare = Path.Combine(_dir, "bare");
        Ok(CliRunner.Run("weights", "random", "--preset", "tiny", "--snapshot", "--dtype", "fp32", "--out", bare));
        (code, _, err) = CliRunner.Run("generate", "--model", bare, "--prompt", "x", "--out", outPng);
        Assert.Equal(2, code);
        Assert.Contains("no text_encoder/", err);
        Assert.False(File.Exists(outPng));
    }

    [Fact]
    public void ALongPromptWarnsAndStillEncodes()
    {
        var words = string.Join(" ", Enumerable.Repeat("a photo of a kangaroo wearing an orange hoodie", 12));
        var (code, _, err) = CliRunner.Run("encode", "--model", Snap, words, "--out", Path.Combine(_dir, "long.safetensors"), "--backend", "cpu");
        Assert.Equal(0, code);
        Assert.Contains("warning: prompt truncated:", err);
        var e = EncodedPrompt.TryLoad(Path.Combine(_dir, "long.safetensors"))!;
        Assert.Equal(77, e.PromptMask.Sum());
        Assert.True(e.DroppedTokens > 0);
    }
}
