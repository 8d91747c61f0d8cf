using System.Diagnostics;

namespace FastIF.Fuzz;

/// <summary>A parser under test: valid seed inputs and the function that parses (and fully reads) one input.</summary>
/// <param name="Name">Short name (<c>safetensors</c>, <c>png</c>...).</param>
/// <param name="Seeds">Valid inputs the mutations start from.</param>
/// <param name="Parse">Parses one input; must end in a <see cref="FastIFException"/> or return.</param>
public sealed record FuzzTarget(string Name, IReadOnlyList<byte[]> Seeds, Action<byte[]> Parse);

/// <summary>What a run found. A failure is an exception other than <see cref="FastIFException"/>, an input slower than the
/// time bound, or one that allocated past the memory bound; each names the file its input was saved to.</summary>
public sealed record FuzzReport(string Target, long Inputs, long Accepted, long Rejected, IReadOnlyList<string> Failures,
    TimeSpan Elapsed, double SlowestMs, long MostAllocatedBytes);

/// <summary>Feeds mutated inputs to a target within bounds of time and memory per input.</summary>
public static class FuzzRunner
{
    /// <summary>Per-input bounds: a parser must finish quickly and never allocate as if a hostile size were real.</summary>
    public static TimeSpan MaxPerInput { get; set; } = TimeSpan.FromSeconds(2);
    /// <summary>See <see cref="MaxPerInput"/>.</summary>
    public static long MaxAllocatedPerInput { get; set; } = 256L << 20;

    /// <summary>Runs until <paramref name="maxInputs"/> inputs or <paramref name="maxTime"/> have passed. Failing inputs are
    /// written to <paramref name="crashDir"/> (created on first failure).</summary>
    public static FuzzReport Run(FuzzTarget target, int seed, long maxInputs, TimeSpan maxTime, string crashDir)
    {
        var r = new Random(seed);
        var failures = new List<string>();
        long inputs = 0, accepted = 0, rejected = 0, mostAlloc = 0;
        double slowest = 0;
        var total = Stopwatch.StartNew();
        // Every seed once unmutated first: the target must accept its own seeds, or the run proves nothing.
        var queue = new Queue<byte[]>(target.Seeds);
        while (inputs < maxInputs && total.Elapsed < maxTime)
        {
            var input = queue.Count > 0 ? queue.Dequeue() : Mutator.Mutate(target.Seeds[r.Next(target.Seeds.Count)], r);
            bool isSeed = inputs < target.Seeds.Count;
            inputs++;
            long alloc0 = GC.GetAllocatedBytesForCurrentThread();
            var sw = Stopwatch.StartNew();
            string? failure = null;
            try
            {
                target.Parse(input);
                accepted++;
            }
            catch (FastIFException) when (!isSeed)
            {
                rejected++;
            }
            catch (Exception e)
            {
                // The innermost frames say where the parser broke.
                var at = string.Join(" <- ", (e.StackTrace ?? "").Split('\n').Take(3).Select(l => l.Trim()));
                failure = (isSeed ? $"seed {inputs - 1} rejected: " : "") + $"{e.GetType().FullName}: {e.Message} {at}";
            }
            sw.Stop();
            long alloc = GC.GetAllocatedBytesForCurrentThread() - alloc0;
            slowest = Math.Max(slowest, sw.Elapsed.TotalMilliseconds);
            mostAlloc = Math.Max(mostAlloc, alloc);
            if (failure == null && sw.Elapsed > MaxPerInput) failure = $"took {sw.Elapsed.TotalMilliseconds:F0} ms (bound {MaxPerInput.TotalMilliseconds:F0} ms)";
            if (failure == null && alloc > MaxAllocatedPerInput) failure = $"allocated {alloc >> 20} MiB (bound {MaxAllocatedPerInput >> 20} MiB)";
            if (failure != null)
            {
                Directory.CreateDirectory(crashDir);
                var file = Path.Combine(crashDir, $"{target.Name}-seed{seed}-input{inputs - 1}.bin");
                File.WriteAllBytes(file, input);
                failures.Add($"{failure} (input saved to {file})");
                if (failures.Count >= 20) break;
            }
        }
        return new FuzzReport(target.Name, inputs, accepted, rejected, failures, total.Elapsed, slowest, mostAlloc);
    }
}
