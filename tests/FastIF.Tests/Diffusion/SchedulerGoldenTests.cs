using System.Text.Json;
using FastIF.Diffusion;
using FastIF.Weights;

namespace FastIF.Tests.Diffusion;

/// <summary>IF's DDPM scheduler against diffusers' recorded tables, timestep lists, steps and forward noising.</summary>
public class SchedulerGoldenTests
{
    // Fixture README: scheduler checks pass at 2e-5 absolute + 1e-5 relative (float32 cumprod vs sequential product).
    private const double Abs = 2e-5, Rel = 1e-5;

    private static SafetensorsFile Traces() => SafetensorsFile.Open(Fixtures.Require("if", "scheduler_traces.safetensors"));

    private static DdpmScheduler Scheduler(string config) =>
        new(SchedulerConfig.Load(Fixtures.Require("if", $"scheduler_{config}", "scheduler_config.json")));

    private static void AssertNear(string what, ReadOnlySpan<float> expected, ReadOnlySpan<float> actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.False(float.IsNaN(actual[i]), $"{what}[{i}] is NaN");
            double tol = Abs + Rel * Math.Abs(expected[i]);
            Assert.True(Math.Abs(actual[i] - expected[i]) <= tol, $"{what}[{i}]: got {actual[i]}, expected {expected[i]} (tolerance {tol:E2})");
        }
    }

    [Theory]
    [InlineData("if1")]
    [InlineData("if2")]
    public void TablesMatch(string config)
    {
        using var f = Traces();
        var s = Scheduler(config);
        AssertNear("betas", f.ReadFloat32("betas"), s.Betas);
        AssertNear("alphas_cumprod", f.ReadFloat32("alphas_cumprod"), s.AlphasCumprod);
    }

    [Fact]
    public void TimestepListsMatch()
    {
        using var f = Traces();
        int checkedLists = 0;
        foreach (var e in f.Entries.Where(e => e.Name.StartsWith("timesteps.")))
        {
            var name = e.Name["timesteps.".Length..];
            var expected = f.ReadInt64(e.Name);
            var ours = name.StartsWith('n') && int.TryParse(name[1..], out var n) ? TimestepLists.Leading(n) : TimestepLists.Named(name);
            Assert.Equal(expected, ours);
            if (f.TryGetEntry("prev_timesteps." + name, out var p)) Assert.Equal(f.ReadInt64(p.Name), TimestepLists.Previous(ours));
            checkedLists++;
        }
        Assert.True(checkedLists > 0, "no timestep lists in the fixture");
    }

    public static TheoryData<string> StepCases()
    {
        var data = new TheoryData<string>();
        var root = Fixtures.Root;
        var path = root == null ? null : Path.Combine(root, "if", "scheduler_traces.safetensors");
        if (path == null || !File.Exists(path))
        {
            if (Fixtures.Explicit) throw new InvalidOperationException($"missing {path}");
            data.Add("");
            return data;
        }
        using var f = SafetensorsFile.Open(path);
        foreach (var c in f.Entries.Where(e => e.Name.StartsWith("step.")).Select(e => string.Join('.', e.Name.Split('.')[..3])).Distinct().Order())
            data.Add(c);
        return data;
    }

    [Theory]
    [MemberData(nameof(StepCases))]
    public void StepMatches(string prefix)
    {
        if (prefix == "") Assert.Skip("golden fixtures not found");
        using var f = Traces();
        using var meta = JsonDocument.Parse(f.Metadata["steps"]);
        var info = meta.RootElement.GetProperty(prefix);
        var s = Scheduler(info.GetProperty("config").GetString()!);
        long t = f.ReadInt64(prefix + ".timestep")[0], prev = f.ReadInt64(prefix + ".prev_timestep")[0];
        var sample = f.ReadFloat32(prefix + ".sample");
        var shape = f.GetEntry(prefix + ".sample").Shape;
        var noise = f.TryGetEntry(prefix + ".variance_noise", out _) ? f.ReadFloat32(prefix + ".variance_noise") : [];
        Assert.Equal(info.GetProperty("noise_drawn").GetBoolean(), noise.Length > 0);
        var x0 = new float[sample.Length];
        var xPrev = new float[sample.Length];
        s.Step(f.ReadFloat32(prefix + ".model_output"), sample, shape[0], shape[1], t, prev, noise, xPrev, x0);
        AssertNear(prefix + " pred_original_sample", f.ReadFloat32(prefix + ".pred_original_sample"), x0);
        AssertNear(prefix + " prev_sample", f.ReadFloat32(prefix + ".prev_sample"), xPrev);
    }

    [Fact]
    public void AddNoiseMatches()
    {
        using var f = Traces();
        var s = new DdpmScheduler(SchedulerConfig.Load(Fixtures.Require("if", "image_noising_scheduler_if2", "scheduler_config.json")));
        var x0 = f.ReadFloat32("add_noise.original");
        var dst = new float[x0.Length];
        s.AddNoise(x0, f.ReadFloat32("add_noise.noise"), f.ReadInt64("add_noise.timesteps"), dst);
        AssertNear("add_noise", f.ReadFloat32("add_noise.noisy"), dst);
    }
}
