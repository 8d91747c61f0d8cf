using FastIF.Weights;

namespace FastIF.Tests.Cli;

/// <summary>The <c>fastif</c> commands end to end, in process: outputs, exit codes and one-line errors.</summary>
[Collection("console")]
public class CliTests
{
    private static (int Code, string Out, string Err) Run(params string[] args) => CliRunner.Run(args);

    [Theory]
    [InlineData("1", "")]
    [InlineData("1", "fp16")]
    [InlineData("2", "")]
    [InlineData("2", "fp16")]
    public void UNetCommandReproducesAFixtureCase(string stage, string variant) =>
        UNetCommandMatches(stage, $"output_{(variant == "" ? "fp32" : variant)}_weights", 1e-5, 5e-5,
            ["--backend", "cpu", .. variant == "" ? Array.Empty<string>() : ["--variant", variant]]);

    /// <summary><c>fastif unet --backend cuda --precision P</c>: the same I/O contract on the GPU, held to the GPU UNet tolerances.</summary>
    [Theory]
    [InlineData("1", "fp32")]
    [InlineData("1", "fp16")]
    [InlineData("2", "bf16")]
    public void UNetCommandOnTheGpuReproducesAFixtureCase(string stage, string precision)
    {
        Cuda.Gpu.RequireCudaBackend();
        var (rel, abs) = Cuda.CudaUNetTests.Tolerance(Cuda.CudaBackendParityTests.Parse(precision));
        UNetCommandMatches(stage, "output_fp32_weights", rel, abs, ["--backend", "cuda", "--precision", precision]);
    }

    /// <summary>Runs <c>fastif unet</c> on case0 of the stage's fixture with <paramref name="flags"/> and holds its output to
    /// the fixture's <paramref name="expected"/> entry.</summary>
    private static void UNetCommandMatches(string stage, string expected, double relL2, double maxAbs, string[] flags)
    {
        var ifDir = Fixtures.Require("if");
        var io = Path.Combine(ifDir, $"unet_if{stage}_io.safetensors");
        var model = UNet.UNetGoldenTests.ModelDir(ifDir, Path.GetFileName(io));
        var outFile = Path.Combine(Path.GetTempPath(), $"fastif-cli-{Guid.NewGuid():N}.safetensors");
        try
        {
            var (code, _, err) = Run(["unet", "--model", model, "--inputs", io, "--prefix", "case0.", "--output", outFile, .. flags]);
            Assert.True(code == 0, err);
            using var got = SafetensorsFile.Open(outFile);
            using var want = SafetensorsFile.Open(io);
            Numerics.AssertClose($"fastif unet if{stage} {string.Join(' ', flags)}", want.ReadFloat32("case0." + expected), got.ReadFloat32("output"),
                relL2, maxAbs);
        }
        finally { File.Delete(outFile); }
    }

    [Fact]
    public void MissingModelFolderIsAOneLineErrorWithExitCode2()
    {
        var (code, _, err) = Run("unet", "--model", "/nonexistent/unet", "--inputs", "x.safetensors", "--output", "y.safetensors");
        Assert.Equal(2, code);
        Assert.StartsWith("error: ", err);
        Assert.Contains("/nonexistent/unet", err);
        Assert.Single(err.Trim().Split('\n'));
    }

    [Fact]
    public void UnknownPresetNamesTheKnownOnes()
    {
        var (code, _, err) = Run("weights", "random", "--preset", "if-iii", "--out", Path.GetTempPath());
        Assert.Equal(2, code);
        Assert.Contains("if-iii", err);
        Assert.Contains("if-i-xl", err);
    }

    [Fact]
    public void RandomWeightsLoadAndAreDeterministic()
    {
        var a = Path.Combine(Path.GetTempPath(), $"fastif-w-{Guid.NewGuid():N}");
        var b = a + "-b";
        var c = a + "-c";
        try
        {
            Assert.Equal(0, Run("weights", "random", "--preset", "tiny", "--out", a, "--dtype", "fp32", "--seed", "7").Code);
            Assert.Equal(0, Run("weights", "random", "--preset", "tiny", "--out", b, "--dtype", "fp32", "--seed", "7").Code);
            Assert.Equal(0, Run("weights", "random", "--preset", "tiny", "--out", c, "--dtype", "fp32", "--seed", "8").Code);
            var fa = File.ReadAllBytes(Path.Combine(a, "diffusion_pytorch_model.safetensors"));
            Assert.Equal(fa, File.ReadAllBytes(Path.Combine(b, "diffusion_pytorch_model.safetensors")));
            Assert.NotEqual(fa, File.ReadAllBytes(Path.Combine(c, "diffusion_pytorch_model.safetensors")));
            using var unet = Models.UNet.UNet2DCondition.Load(a, Backends.Cpu.CpuBackend.Instance);
            Assert.Equal(Models.UNet.UNetPresets.Get("tiny").ToJson(), unet.Config.ToJson());
            // Scales follow the documented scheme: weights N(0, 1/fan_in).
            using var ck = Checkpoint.OpenDirectory(a, "diffusion_pytorch_model");
            var w = ck.ReadFloat32("down_blocks.0.resnets.0.conv1.weight");
            double var = w.Select(v => (double)v * v).Average();
            Assert.InRange(var * 32 * 9, 0.9, 1.1);
        }
        finally
        {
            foreach (var d in new[] { a, b, c }) if (Directory.Exists(d)) Directory.Delete(d, true);
        }
    }

    [Fact]
    public void BenchWritesTableJsonAndPng()
    {
        var dir = Path.Combine(Path.GetTempPath(), $"fastif-bench-{Guid.NewGuid():N}");
        try
        {
            Assert.Equal(0, Run("weights", "random", "--preset", "tiny", "--out", dir, "--dtype", "fp32").Code);
            var json = Path.Combine(dir, "r.json");
            var png = Path.Combine(dir, "r.png");
            var (code, output, err) = Run("bench", "--weights", dir, "--size", "32", "--steps", "2", "--warmup", "0", "--json", json, "--png", png, "--backend", "cpu");
            Assert.True(code == 0, err);
            Assert.Contains("median", output);
            using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(json));
            var r = doc.RootElement;
            foreach (var key in new[] { "device", "backend", "preset", "precision", "batch", "steps", "ms_per_step", "gflop_per_forward", "achieved_tflops", "floor_ms_per_step", "commit", "command" })
                Assert.True(r.TryGetProperty(key, out _), $"bench JSON lacks {key}");
            Assert.Equal(2, r.GetProperty("steps").GetInt32());
            Assert.True(r.GetProperty("ms_per_step").GetProperty("median").GetDouble() > 0);
            // FLOPs come from the executed graph: at least the convolutions of the tiny config at 32x32, batch 2.
            Assert.True(r.GetProperty("gflop_per_forward").GetDouble() > 1.0);
            var img = FastIF.Imaging.Png.Read(png);
            Assert.Equal((32, 32), (img.Width, img.Height));
        }
        finally { if (Directory.Exists(dir)) Directory.Delete(dir, true); }
    }

    [Fact]
    public void BenchCountsTheWorkTheSubpixelUpsamplerSaves()
    {
        var dir = Path.Combine(Path.GetTempPath(), $"fastif-bench-{Guid.NewGuid():N}");
        try
        {
            Assert.Equal(0, Run("weights", "random", "--preset", "tiny", "--out", dir, "--dtype", "fp32").Code);
            double Conv(string upsample)
            {
                var json = Path.Combine(dir, upsample + ".json");
                var (code, _, err) = Run("bench", "--weights", dir, "--size", "32", "--steps", "1", "--warmup", "0", "--json", json,
                    "--png", Path.Combine(dir, "r.png"), "--backend", "cpu", "--upsample", upsample);
                Assert.True(code == 0, err);
                using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(json));
                Assert.Equal(upsample, doc.RootElement.GetProperty("upsample").GetString());
                return doc.RootElement.GetProperty("gflop_by_op").GetProperty("conv2d").GetDouble() * 1e9;
            }
            // Each upsampler's conv1 (every up level but the last, at twice its input's side h): 9 taps on (2h)² outputs
            // become 4 taps on 4 phase planes of (h+1)², for a UNet batch of 2 (guidance).
            var c = Models.UNet.UNetPresets.Get("tiny");
            double saved = 0;
            for (int k = 0; k < c.Levels - 1; k++)
            {
                long ch = c.BlockOutChannels[c.Levels - 1 - k], h = 32 >> (c.Levels - 1 - k);
                saved += 2.0 * 2 * ch * ch * (9 * 4 * h * h - 16 * (h + 1) * (h + 1));
            }
            Assert.True(saved > 0);
            Assert.Equal(saved, Conv("nearest") - Conv("subpixel"), 1e-6 * saved);
            var (bad, _, badErr) = Run("bench", "--weights", dir, "--steps", "1", "--backend", "cpu", "--upsample", "bilinear");
            Assert.Equal(2, bad);
            Assert.Contains("--upsample", badErr);
        }
        finally { if (Directory.Exists(dir)) Directory.Delete(dir, true); }
    }

    [Fact]
    public void InfoListsTheCpuBackend()
    {
        var (code, output, _) = Run("info");
        Assert.Equal(0, code);
        Assert.Contains("backend cpu: available", output);
    }
}
