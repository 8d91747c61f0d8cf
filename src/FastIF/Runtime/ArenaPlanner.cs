namespace FastIF.Runtime;

/// <summary>One buffer to place in an arena: live from op <see cref="FirstUse"/> to op <see cref="LastUse"/> inclusive.</summary>
/// <param name="Name">For error messages.</param>
/// <param name="Size">Bytes (0 allowed: placed at offset 0, overlaps nothing).</param>
/// <param name="Alignment">Power of two, in bytes.</param>
/// <param name="FirstUse">Index of the first op that touches the buffer.</param>
/// <param name="LastUse">Index of the last op that touches the buffer (≥ FirstUse).</param>
public sealed record ArenaBuffer(string Name, long Size, long Alignment, int FirstUse, int LastUse);

/// <summary>An arena layout: one offset per requested buffer (same order) and the arena's total size.</summary>
/// <param name="Offsets">Byte offset of each buffer.</param>
/// <param name="TotalBytes">Bytes the arena must hold (max of offset + size).</param>
public sealed record ArenaPlan(IReadOnlyList<long> Offsets, long TotalBytes);

/// <summary>A buffer list the planner cannot lay out (bad size, alignment or lifetime).</summary>
public sealed class ArenaPlanException(string message) : FastIFException(message);

/// <summary>
/// Plans offsets in one device allocation so buffers whose lifetimes overlap never share bytes. Greedy by size
/// (largest first), each buffer at the lowest aligned offset that clears every already-placed, lifetime-overlapping
/// buffer. Pure CPU logic, run once per graph and shape.
/// </summary>
public static class ArenaPlanner
{
    /// <summary>Computes the plan; throws <see cref="ArenaPlanException"/> naming the first invalid buffer.</summary>
    public static ArenaPlan Plan(IReadOnlyList<ArenaBuffer> buffers)
    {
        foreach (var b in buffers) Validate(b);
        var order = Enumerable.Range(0, buffers.Count)
            .OrderByDescending(i => buffers[i].Size).ThenBy(i => buffers[i].FirstUse).ThenBy(i => i).ToArray();
        var offsets = new long[buffers.Count];
        var placed = new List<int>(buffers.Count);
        var busy = new List<(long Start, long End)>();
        long total = 0;
        foreach (int i in order)
        {
            var b = buffers[i];
            if (b.Size == 0) continue;
            busy.Clear();
            foreach (int j in placed)
                if (Overlaps(b, buffers[j])) busy.Add((offsets[j], offsets[j] + buffers[j].Size));
            busy.Sort((x, y) => x.Start.CompareTo(y.Start));
            long candidate = 0;
            foreach (var (start, end) in busy)
            {
                if (candidate + b.Size <= start) break;
                candidate = Math.Max(candidate, AlignUp(end, b.Alignment));
            }
            offsets[i] = candidate;
            placed.Add(i);
            total = Math.Max(total, candidate + b.Size);
        }
        return new ArenaPlan(offsets, total);
    }

    /// <summary>True when the two buffers are live at the same op.</summary>
    public static bool Overlaps(ArenaBuffer a, ArenaBuffer b) => a.FirstUse <= b.LastUse && b.FirstUse <= a.LastUse;

    /// <summary>Rounds <paramref name="value"/> up to a multiple of the power of two <paramref name="alignment"/>.</summary>
    public static long AlignUp(long value, long alignment) => (value + alignment - 1) & ~(alignment - 1);

    private static void Validate(ArenaBuffer b)
    {
        if (b.Size < 0) throw new ArenaPlanException($"arena buffer '{b.Name}': size {b.Size} is negative");
        if (b.Alignment <= 0 || (b.Alignment & (b.Alignment - 1)) != 0)
            throw new ArenaPlanException($"arena buffer '{b.Name}': alignment {b.Alignment} is not a positive power of two");
        if (b.FirstUse < 0 || b.LastUse < b.FirstUse)
            throw new ArenaPlanException($"arena buffer '{b.Name}': lifetime [{b.FirstUse}, {b.LastUse}] is empty or negative");
    }
}
