using FastIF.Backends.Cpu;
using FastIF.Pipelines;

namespace FastIF.Tests.Text;

/// <summary>The prompt-embedding cache keys the backend and storage type the embedding was computed with.</summary>
public class PromptCacheKeyTests
{
    [Fact]
    public void TheCpuBackendIsNamedWithItsFp32Storage() => Assert.Equal("cpu/F32", PromptEncoder.BackendIdentity(CpuBackend.Instance));

    [Fact]
    public void ABackendThatCountsFlopsKeysAsTheBackendItWraps() =>
        Assert.Equal(PromptEncoder.BackendIdentity(CpuBackend.Instance), PromptEncoder.BackendIdentity(new Backends.FlopCounter(CpuBackend.Instance)));
}
