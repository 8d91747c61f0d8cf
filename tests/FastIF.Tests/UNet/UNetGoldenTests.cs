using FastIF.Backends.Cpu;
using FastIF.Models.UNet;
using FastIF.Tensors;
using FastIF.Weights;

namespace FastIF.Tests.UNet;

/// <summary>
/// Every UNet case of every <c>if/unet_*_io.safetensors</c> fixture, run on the CPU backend with the fp32 and the
/// fp16 weight files, against diffusers' outputs and recorded activations: in diffusers' order of operations (what the
/// CPU reference runs) and with the rewrites the GPU runs (<see cref="UNetOptions.Fastest"/>: sub-pixel upsampling).
/// </summary>
public class UNetGoldenTests
{
    // Fixture README: fp32 vs fp64 differs by up to ~1e-5 absolute on outputs of magnitude 3-5 and 1 vs 2 threads
    // by ~5e-6; our reduction order differs from PyTorch's by the same kind of amount.
    private const double RelL2 = 1e-5, MaxAbs = 5e-5;

    /// <summary>(io file, case prefix, weight variant) for every case found.</summary>
    public static TheoryData<string, string, string, bool> Cases()
    {
        var data = new TheoryData<string, string, string, bool>();
        var root = Fixtures.Root;
        if (root == null || !Directory.Exists(Path.Combine(root, "if")))
        {
            if (Fixtures.Explicit) throw new InvalidOperationException($"FASTIF_FIXTURES={root} has no if/ folder");
            data.Add("(no fixtures)", "", "", false);
            return data;
        }
        foreach (var io in Directory.GetFiles(Path.Combine(root, "if"), "unet_*_io.safetensors").Order())
        {
            using var f = SafetensorsFile.Open(io);
            var cases = f.Entries.Select(e => e.Name.Split('.')[0]).Where(n => n.StartsWith("case")).Distinct().Order();
            foreach (var c in cases)
            {
                foreach (var fastest in new[] { false, true })
                {
                    data.Add(Path.GetFileName(io), c, "fp32", fastest);
                    data.Add(Path.GetFileName(io), c, "fp16", fastest);
                }
            }
        }
        return data;
    }

    /// <summary>The model folder of <c>unet_&lt;m&gt;_io.safetensors</c>: the one folder <c>&lt;m&gt;_*</c> holding a config.json.</summary>
    internal static string ModelDir(string ifDir, string ioName)
    {
        var m = ioName["unet_".Length..^"_io.safetensors".Length];
        var dirs = Directory.GetDirectories(ifDir, m + "_*").Where(d => File.Exists(Path.Combine(d, "config.json"))).ToList();
        Assert.True(dirs.Count == 1, $"expected one model folder {m}_* with config.json for {ioName}, found {dirs.Count}");
        return dirs[0];
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void UNetMatchesDiffusers(string ioName, string casePrefix, string variant, bool fastest)
    {
        if (casePrefix == "") Assert.Skip("golden fixtures not found: set FASTIF_FIXTURES or place them at ../shared/fixtures");
        var ifDir = Fixtures.Require("if");
        using var io = SafetensorsFile.Open(Path.Combine(ifDir, ioName));
        var be = CpuBackend.Instance;
        using var unet = UNet2DCondition.Load(ModelDir(ifDir, ioName), be, variant == "fp16" ? "fp16" : null,
            fastest ? UNetOptions.Fastest : UNetOptions.AsDiffusers);

        using var sample = Load(io, be, casePrefix + ".sample");
        using var t = Steps(io, be, casePrefix + ".timestep");
        using var ehs = Load(io, be, casePrefix + ".encoder_hidden_states");
        using var cls = io.TryGetEntry(casePrefix + ".class_labels", out _) ? Steps(io, be, casePrefix + ".class_labels") : null;

        var checkedActs = new List<string>();
        void Trace(string name, Tensors.Tensor value)
        {
            // Activations were recorded with the fp32 weights only.
            if (variant != "fp32" || !io.TryGetEntry($"{casePrefix}.act.{name}", out var e)) return;
            Assert.Equal(e.Shape, value.Shape);
            Numerics.AssertClose($"{ioName} {casePrefix} act.{name}", io.ReadFloat32(e.Name), value.ToArray(), RelL2, MaxAbs);
            checkedActs.Add(name);
        }

        using var output = unet.Forward(sample, t, ehs, cls, Trace);
        var expected = io.ReadFloat32($"{casePrefix}.output_{variant}_weights");
        Assert.Equal(io.GetEntry($"{casePrefix}.output_{variant}_weights").Shape, output.Shape);
        Numerics.AssertClose($"{ioName} {casePrefix} output ({variant} weights)", expected, output.ToArray(), RelL2, MaxAbs);

        if (variant == "fp32")
        {
            var recorded = io.Entries.Where(e => e.Name.StartsWith(casePrefix + ".act.")).Select(e => e.Name[(casePrefix.Length + 5)..]);
            Assert.Empty(recorded.Except(checkedActs));
        }
    }

    private static Tensors.Tensor Load(SafetensorsFile f, CpuBackend be, string name)
        => be.FromHost(f.ReadFloat32(name), f.GetEntry(name).Shape);

    private static Tensors.Tensor Steps(SafetensorsFile f, CpuBackend be, string name)
    {
        var v = f.ReadInt64(name);
        return be.FromHost(v.Select(x => (float)x).ToArray(), new Shape(v.Length));
    }
}
