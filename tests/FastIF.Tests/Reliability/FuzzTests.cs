using FastIF.Fuzz;

namespace FastIF.Tests.Reliability;

/// <summary>
/// CI-sized fuzzing of every parser (tools/fuzz runs the same targets for as long as you like): mutated inputs must end
/// in FastIF's exception or a clean parse, quickly and without huge allocations; the seeds themselves must parse.
/// </summary>
public class FuzzTests
{
    public static TheoryData<string> Targets() => [.. FuzzTargets.Names];

    [Theory]
    [MemberData(nameof(Targets))]
    public void MutatedInputsEndInOurExceptionOrParse(string name)
    {
        var scratch = Path.Combine(Path.GetTempPath(), $"fastif-fuzz-{Guid.NewGuid():N}");
        try
        {
            if (name == "spiece") Fixtures.Require("t5", "tiny_unigram.model");
            var target = FuzzTargets.All(scratch, Fixtures.Root, Weights.TorchCheckpointTests.Data("state_dict.bin")).Single(t => t.Name == name);
            const int seed = 20261122;
            var r = FuzzRunner.Run(target, seed, maxInputs: 3000, maxTime: TimeSpan.FromSeconds(4), Path.Combine(scratch, "crashes"));
            TestContext.Current.SendDiagnosticMessage($"fuzz {name}: {r.Inputs} inputs ({r.Accepted} parsed, {r.Rejected} rejected) " +
                $"in {r.Elapsed.TotalSeconds:F1} s, slowest {r.SlowestMs:F1} ms, most allocated {r.MostAllocatedBytes >> 10} KiB");
            Assert.True(r.Failures.Count == 0, $"seed {seed}: " + string.Join("\n", r.Failures));
            Assert.True(r.Rejected > 0 && r.Inputs > 50, $"{name}: only {r.Inputs} inputs, {r.Rejected} rejected: the run proves little");
        }
        finally
        {
            if (Directory.Exists(scratch)) Directory.Delete(scratch, true);
        }
    }
}
