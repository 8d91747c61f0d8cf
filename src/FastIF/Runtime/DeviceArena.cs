using FastIF.Native;

namespace FastIF.Runtime;

/// <summary>One device allocation holding every buffer of a planned graph at its planned offset.</summary>
public sealed class DeviceArena : IDisposable
{
    private readonly DeviceMemory _memory;

    private DeviceArena(DeviceMemory memory, ArenaPlan plan, string label)
    {
        _memory = memory;
        Plan = plan;
        Label = label;
    }

    /// <summary>Allocates an arena for <paramref name="plan"/>; out of memory names <paramref name="label"/> (model/shape).</summary>
    public static DeviceArena Create(CudaContext context, ArenaPlan plan, string label)
    {
        // 256 bytes keeps every planned offset at least as aligned as cuMemAlloc's own base alignment.
        long bytes = Math.Max(256, ArenaPlanner.AlignUp(plan.TotalBytes, 256));
        return new DeviceArena(context.Allocate(bytes, label), plan, label);
    }

    /// <summary>The layout this arena was allocated for.</summary>
    public ArenaPlan Plan { get; }

    /// <summary>The caller's label (model/shape).</summary>
    public string Label { get; }

    /// <summary>The underlying allocation.</summary>
    public DeviceMemory Memory => _memory;

    /// <summary>Device address of buffer <paramref name="index"/> (in the order given to the planner).</summary>
    public ulong Pointer(int index) => _memory.Pointer + (ulong)Plan.Offsets[index];

    /// <inheritdoc/>
    public void Dispose() => _memory.Dispose();
}
