using System.Text.Json;
using FastIF.Benchmarking;
using FastIF.Tests.Cli;

namespace FastIF.Tests.Benchmarking;

/// <summary><c>fastif bench --json</c>: every preset kind writes the same keys with the right types, and the derived
/// figures agree with the measured ones.</summary>
[Collection("console")]
public class BenchJsonTests
{
    // The keys and JSON kinds issue 8 asks of every bench result (stated here, not read from BenchReport).
    private static readonly (string Key, JsonValueKind[] Kinds)[] Required =
    [
        ("device", [JsonValueKind.String]), ("backend", [JsonValueKind.String]), ("preset", [JsonValueKind.String]),
        ("precision", [JsonValueKind.String]), ("batch", [JsonValueKind.Number]), ("steps", [JsonValueKind.Number]),
        ("ms_per_step", [JsonValueKind.Object]), ("gflop_per_forward", [JsonValueKind.Number]),
        ("achieved_tflops", [JsonValueKind.Number]), ("floor_ms_per_step", [JsonValueKind.Number, JsonValueKind.Null]),
        ("commit", [JsonValueKind.String, JsonValueKind.Null]), ("command", [JsonValueKind.String]), ("machine", [JsonValueKind.Object]),
    ];

    private static JsonElement Bench(params string[] args)
    {
        var path = Path.Combine(Path.GetTempPath(), $"fastif-benchjson-{Guid.NewGuid():N}.json");
        var png = Path.ChangeExtension(path, ".png");
        try
        {
            var (code, output, err) = CliRunner.Run(["bench", "--backend", "cpu", "--json", path, "--png", png, .. args]);
            Assert.True(code == 0, $"exit {code}: {err}\n{output}");
            using var doc = JsonDocument.Parse(File.ReadAllText(path));
            return doc.RootElement.Clone();
        }
        finally
        {
            File.Delete(path);
            File.Delete(png);
        }
    }

    private static void AssertComplete(JsonElement r, string preset, int steps)
    {
        foreach (var (key, kinds) in Required)
        {
            Assert.True(r.TryGetProperty(key, out var v), $"bench JSON lacks \"{key}\"");
            Assert.True(kinds.Contains(v.ValueKind), $"\"{key}\" is {v.ValueKind}, expected {string.Join("/", kinds)}");
        }
        var ms = r.GetProperty("ms_per_step");
        double med = ms.GetProperty("median").GetDouble(), min = ms.GetProperty("min").GetDouble(), max = ms.GetProperty("max").GetDouble();
        Assert.True(0 < min && min <= med && med <= max, $"min {min}, median {med}, max {max}");
        Assert.Equal(steps, r.GetProperty("steps").GetInt32());
        Assert.Equal(steps, ms.GetProperty("all").GetArrayLength());
        Assert.Equal(preset, r.GetProperty("preset").GetString());
        Assert.Equal("cpu", r.GetProperty("backend").GetString());
        Assert.StartsWith("fastif bench", r.GetProperty("command").GetString());
        Assert.True(r.GetProperty("machine").TryGetProperty("os", out _));
        double gflop = r.GetProperty("gflop_per_forward").GetDouble();
        Assert.True(gflop > 0, $"gflop_per_forward {gflop}");
        // Derived figures follow from the measured ones: TFLOP/s = GFLOP / ms, and the floor is the larger roofline term.
        Assert.Equal(gflop / med, r.GetProperty("achieved_tflops").GetDouble(), 9);
        double peak = r.GetProperty("peak_gemm_tflops").GetDouble(), copy = r.GetProperty("peak_copy_gbps").GetDouble();
        long bytes = r.GetProperty("weight_bytes").GetInt64();
        Assert.Equal(Math.Max(gflop / peak, bytes / (copy * 1e6)), r.GetProperty("floor_ms_per_step").GetDouble(), 6);
        Assert.Empty(BenchReport.Problems(r));
    }

    [Fact]
    public void TinyUNetBenchWithViewsWritesEveryKey()
    {
        var r = Bench("--preset", "tiny", "--size", "16", "--steps", "2", "--warmup", "0", "--views", "2");
        AssertComplete(r, "tiny", 2);
        Assert.Equal(2, r.GetProperty("views").GetInt32());
        Assert.Equal(4, r.GetProperty("unet_batch").GetInt32()); // 2 (guidance) x 1 image x 2 views
        Assert.Equal("fp32", r.GetProperty("precision").GetString());
        Assert.True(r.GetProperty("load_ms").GetDouble() > 0);
    }

    [Fact]
    public void T5TinyBenchWritesEveryKey()
    {
        var r = Bench("--preset", "t5-tiny", "--steps", "2", "--warmup", "0");
        AssertComplete(r, "t5-tiny", 2);
        // t5-tiny: 2 blocks of width 256, FF 512, 4 heads of 64; 154 tokens. The block GEMMs alone are 2·tokens·(4·256·256 + 3·256·512) per block.
        double blockGemms = 2.0 * 154 * (4 * 256 * 256 + 3 * 256 * 512) * 2 / 1e9;
        double gflop = r.GetProperty("gflop_per_forward").GetDouble();
        Assert.InRange(gflop, blockGemms, blockGemms * 1.5);
    }

    [Fact]
    public void TinyCascadeBenchWritesEveryKeyAndEachStage()
    {
        var r = Bench("--preset", "cascade", "--steps", "1", "--warmup", "0", "--stage-steps", "1");
        AssertComplete(r, "cascade", 1);
        Assert.Equal("t5-tiny,tiny,tiny-ii", r.GetProperty("cascade_presets").GetString());
        var stages = r.GetProperty("stages_ms");
        foreach (var s in new[] { "text", "stage I", "stage II" })
            Assert.True(stages.GetProperty(s).GetDouble() > 0, $"stage {s} has no time");
        double sum = stages.EnumerateObject().Sum(p => p.Value.GetDouble());
        Assert.True(sum <= r.GetProperty("ms_per_step").GetProperty("median").GetDouble() * 1.001, "the stages take longer than the whole");
    }

    [Fact]
    public void ProblemsNamesMissingKeysAndWrongTypes()
    {
        using var doc = JsonDocument.Parse(("{'device':'x','backend':'cpu','preset':'tiny','precision':'fp32','batch':'1','steps':1," +
            "'ms_per_step':{'median':0,'min':1,'max':1},'gflop_per_forward':1,'achieved_tflops':1,'floor_ms_per_step':null,'command':'c','machine':{}}")
            .Replace('\'', '"'));
        var problems = BenchReport.Problems(doc.RootElement);
        Assert.Contains(problems, p => p.Contains("\"commit\" is missing"));
        Assert.Contains(problems, p => p.Contains("\"batch\" is String"));
        Assert.Contains(problems, p => p.Contains("ms_per_step.median"));
        Assert.Equal(3, problems.Count);
    }

    [Fact]
    public void TimingStatsTakeTheMiddleOrTheMeanOfTheTwoMiddles()
    {
        var odd = TimingStats.Of([5, 1, 3]);
        Assert.Equal((3.0, 1.0, 5.0), (odd.Median, odd.Min, odd.Max));
        Assert.Equal(2.5, TimingStats.Of([4, 1, 2, 3]).Median);
        Assert.Equal(4.0 / 3, odd.Spread, 12);
        Assert.Throws<FastIFException>(() => TimingStats.Of([]));
    }
}
