using FastIF.Runtime;
using FsCheck;
using FsCheck.Fluent;

namespace FastIF.Tests.Cuda;

public class ArenaPlannerTests
{
    private static readonly Gen<ArenaBuffer> BufferGen =
        from size in Gen.Choose(0, 5000)
        from alignExp in Gen.Choose(0, 8)
        from first in Gen.Choose(0, 30)
        from length in Gen.Choose(0, 10)
        select new ArenaBuffer($"b{size}", size, 1L << alignExp, first, first + length);

    private static readonly Arbitrary<ArenaBuffer[]> Buffers = Gen.ListOf(BufferGen).Select(l => l.ToArray()).ToArbitrary();

    /// <summary>Checks every invariant; returns a description of the first violation or null.</summary>
    internal static string? Violation(IReadOnlyList<ArenaBuffer> buffers, ArenaPlan plan)
    {
        if (plan.Offsets.Count != buffers.Count) return $"{plan.Offsets.Count} offsets for {buffers.Count} buffers";
        for (int i = 0; i < buffers.Count; i++)
        {
            var (b, o) = (buffers[i], plan.Offsets[i]);
            if (o < 0 || o % b.Alignment != 0) return $"{i}: offset {o} not aligned to {b.Alignment}";
            if (o + b.Size > plan.TotalBytes) return $"{i}: [{o},{o + b.Size}) beyond total {plan.TotalBytes}";
            for (int j = 0; j < i; j++)
            {
                var (c, p) = (buffers[j], plan.Offsets[j]);
                bool timeOverlap = b.FirstUse <= c.LastUse && c.FirstUse <= b.LastUse;
                bool memOverlap = b.Size > 0 && c.Size > 0 && o < p + c.Size && p < o + b.Size;
                if (timeOverlap && memOverlap) return $"{i} [{o},{o + b.Size}) and {j} [{p},{p + c.Size}) are live together and overlap";
            }
        }
        long bound = buffers.Sum(b => b.Size == 0 ? 0 : b.Size + b.Alignment - 1);
        if (plan.TotalBytes > bound) return $"total {plan.TotalBytes} exceeds sum of sizes plus alignment slack {bound}";
        long peak = Enumerable.Range(0, 41).Select(t => buffers.Where(b => b.FirstUse <= t && t <= b.LastUse).Sum(b => b.Size)).DefaultIfEmpty(0).Max();
        if (plan.TotalBytes < peak) return $"total {plan.TotalBytes} is below the peak live bytes {peak}: something must overlap";
        return null;
    }

    [Fact]
    public void PropertyLiveBuffersNeverOverlapAndAllAreAligned() =>
        Prop.ForAll(Buffers, buffers => Violation(buffers, ArenaPlanner.Plan(buffers)) is null).QuickCheckThrowOnFailure();

    [Fact]
    public void PropertyTotalNeverExceedsSumWhenSizesAreAligned()
    {
        var aligned = Gen.ListOf(BufferGen.Select(b => b with { Size = b.Size / 256 * 256, Alignment = 256 }))
            .Select(l => l.ToArray()).ToArbitrary();
        Prop.ForAll(aligned, buffers => ArenaPlanner.Plan(buffers).TotalBytes <= buffers.Sum(b => b.Size)).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void DisjointLifetimesShareMemory()
    {
        ArenaBuffer[] buffers = [new("a", 1000, 256, 0, 1), new("b", 1000, 256, 2, 3), new("c", 1000, 256, 4, 5)];
        var plan = ArenaPlanner.Plan(buffers);
        Assert.Equal([0L, 0L, 0L], plan.Offsets);
        Assert.Equal(1000, plan.TotalBytes);
    }

    [Fact]
    public void OverlappingLifetimesAreStackedWithAlignment()
    {
        ArenaBuffer[] buffers = [new("small", 10, 256, 0, 5), new("big", 1000, 256, 3, 4)];
        var plan = ArenaPlanner.Plan(buffers);
        Assert.Equal(0, plan.Offsets[1]);      // largest placed first
        Assert.Equal(1024, plan.Offsets[0]);   // 1000 aligned up to 256
        Assert.Equal(1034, plan.TotalBytes);
        Assert.Null(Violation(buffers, plan));
    }

    [Fact]
    public void GapBetweenLiveBuffersIsReused()
    {
        // x and z live throughout with a hole between them once y (placed first, largest) is dead.
        ArenaBuffer[] buffers = [new("y", 300, 1, 0, 0), new("x", 100, 1, 1, 2), new("z", 100, 1, 0, 2), new("w", 100, 1, 2, 2)];
        var plan = ArenaPlanner.Plan(buffers);
        Assert.Null(Violation(buffers, plan));
        Assert.Equal(400, plan.TotalBytes);
    }

    [Fact]
    public void EmptyListPlansToZero() => Assert.Equal(0, ArenaPlanner.Plan([]).TotalBytes);

    [Theory]
    [InlineData(-1, 256, 0, 0, "negative")]
    [InlineData(10, 3, 0, 0, "power of two")]
    [InlineData(10, 0, 0, 0, "power of two")]
    [InlineData(10, 256, 5, 4, "lifetime")]
    public void InvalidBuffersAreRejectedByName(long size, long align, int first, int last, string expected)
    {
        var e = Assert.Throws<ArenaPlanException>(() => ArenaPlanner.Plan([new ArenaBuffer("weird", size, align, first, last)]));
        Assert.Contains("weird", e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void ViolationCheckerCatchesABadPlan()
    {
        // The checker itself must be able to fail, or the property tests prove nothing.
        ArenaBuffer[] buffers = [new("a", 100, 1, 0, 1), new("b", 100, 1, 1, 2)];
        Assert.NotNull(Violation(buffers, new ArenaPlan([0, 50], 150)));
        Assert.NotNull(Violation(buffers, new ArenaPlan([0, 100], 150)));
        Assert.Null(Violation(buffers, new ArenaPlan([0, 100], 200)));
    }
}
