using FastIF.Imaging;
using FastIF.Tests.Cli;

namespace FastIF.Tests.Reliability;

/// <summary>
/// Bad requests through the CLI: each ends in one <c>error:</c> line naming the problem, exit code 2, and no output file
/// (the sampling modes' own argument checks are in <see cref="ModeCliTests"/>).
/// </summary>
[Collection("console")]
public class BadRequestCliTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"fastif-bad-{Guid.NewGuid():N}");
    private string One => Path.Combine(_dir, "one");
    private string Two => Path.Combine(_dir, "two");
    private string Embeds => Path.Combine(_dir, "e.safetensors");
    private string Image => Path.Combine(_dir, "image.png");

    public BadRequestCliTests()
    {
        Directory.CreateDirectory(_dir);
        Ok(CliRunner.Run("weights", "random", "--preset", "tiny", "--out", One, "--snapshot", "--dtype", "fp32"));
        Ok(CliRunner.Run("weights", "random", "--preset", "tiny-ii", "--out", Two, "--snapshot", "--dtype", "fp32"));
        Ok(CliRunner.Run("embeds", "random", "--out", Embeds, "--tokens", "8"));
        Png.WriteRgb8(Image, 32, 32, new byte[32 * 32 * 3]);
    }

    public void Dispose() => Directory.Delete(_dir, true);

    private static void Ok((int Code, string Out, string Err) r) => Assert.True(r.Code == 0, r.Err);

    private string Refused(string expected, params string[] args)
    {
        var outPng = Path.Combine(_dir, $"out-{Guid.NewGuid():N}.png");
        var (code, _, err) = CliRunner.Run([.. args, "--out", outPng]);
        Assert.True(code == 2, $"exit code {code}, stderr: {err}");
        // The error is one line naming the problem; a few (weight mismatches) list details on the lines after it.
        var last = err.Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.StartsWith("error: ")) ?? "";
        Assert.True(last.Length > 0, $"no error: line in {err}");
        Assert.Contains(expected, last);
        Assert.False(File.Exists(outPng), "a refused request left an output file");
        Assert.Empty(Directory.GetFiles(_dir, ".out-*.tmp-*"));
        return last;
    }

    private string[] Gen(params string[] extra) =>
        ["generate", "--model", One, "--embeds", Embeds, .. extra.Contains("--steps") ? Array.Empty<string>() : ["--steps", "1"], "--size", "16", .. extra];

    [Fact]
    public void MissingSnapshotParts()
    {
        var partial = Path.Combine(_dir, "partial");
        Directory.CreateDirectory(Path.Combine(partial, "unet"));
        Refused("scheduler_config.json", ["generate", "--model", partial, "--embeds", Embeds]);
        Directory.Delete(Path.Combine(Two, "image_noising_scheduler"), true);
        Refused("image_noising_scheduler", ["upscale", "--model", Two, "--embeds", Embeds, "--low-res", Image]);
    }

    [Fact]
    public void WeightsThatDoNotMatchTheConfig()
    {
        // Stage II's config over stage I's weights: every first conv and the class embedding disagree.
        File.Copy(Path.Combine(Two, "unet", "config.json"), Path.Combine(One, "unet", "config.json"), overwrite: true);
        Refused("mis-shaped conv_in.weight: file has [32, 3, 3, 3], model needs [32, 6, 3, 3]", Gen());
    }

    [Fact]
    public void AnImageThatIsNotAPng()
    {
        var fake = Path.Combine(_dir, "fake.png");
        File.WriteAllText(fake, "GIF89a this is not a PNG");
        Refused("not a PNG", Gen("--image", fake, "--strength", "0.5").Select(a => a == "generate" ? "edit" : a).ToArray());
    }

    [Fact]
    public void AMaskOrMapOfTheWrongSize()
    {
        var small = Path.Combine(_dir, "small.png");
        Png.WriteRgb8(small, 16, 16, Enumerable.Repeat((byte)255, 16 * 16 * 3).ToArray());
        string[] Edit(string mode, string opt) =>
            [mode, "--model", One, "--embeds", Embeds, "--steps", "1", "--size", "32", "--image", Image, opt, small];
        Refused("16x16, the image is 32x32; masks and maps must match it", Edit("inpaint", "--mask"));
        Refused("16x16, the image is 32x32; masks and maps must match it", Edit("diffdiff", "--map"));
    }

    [Theory]
    [InlineData("--guidance", "100", "--guidance 100")]
    [InlineData("--guidance", "NaN", "--guidance")]
    [InlineData("--batch", "0", "--batch 0")]
    [InlineData("--steps", "5000", "--steps 5000")]
    [InlineData("--timesteps", "990,abc", "\"abc\"")]
    [InlineData("--precision", "fp8", "precision \"fp8\"")]
    [InlineData("--backend", "tpu", "backend \"tpu\"")]
    [InlineData("--attention", "sdpa", "attention kernel \"sdpa\"")]
    [InlineData("--graph", "maybe", "--graph must be on or off")]
    public void OutOfRangeOrUnknownValues(string option, string value, string expected) => Refused(expected, Gen(option, value));

    [Fact]
    public void AGpuAskedForAndAbsent()
    {
        if (FastIF.Native.NativeLibraries.IsAvailable(FastIF.Native.NativeLibraries.Cuda))
            Assert.Skip("a CUDA driver is present here, so the absent-GPU path cannot be shown");
        Refused("--backend cuda: no CUDA driver", Gen("--backend", "cuda"));
    }

    [Fact]
    public void EmbeddingsOfTheWrongWidth()
    {
        var wide = Path.Combine(_dir, "wide.safetensors");
        Ok(CliRunner.Run("embeds", "random", "--out", wide, "--dim", "300"));
        Refused("the model needs [1, L, 256]", ["generate", "--model", One, "--embeds", wide, "--steps", "1", "--size", "16"]);
    }
}
