namespace FastIF.Backends;

/// <summary>Helpers over <see cref="IBackend"/> decorators.</summary>
public static class BackendExtensions
{
    /// <summary>The backend under any counting or profiling decorators (<see cref="FlopCounter"/>, <see cref="Benchmarking.OpProfiler"/>):
    /// what owns the tensors and the device.</summary>
    public static IBackend Innermost(this IBackend backend) => backend switch
    {
        FlopCounter f => f.Inner.Innermost(),
        Benchmarking.OpProfiler p => p.Inner.Innermost(),
        _ => backend,
    };
}
