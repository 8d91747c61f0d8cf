namespace FastIF.Tests.Cuda;

/// <summary>
/// Every test class that drives the GPU shares one CUDA context and one backend per storage type
/// (<see cref="CudaBackendParityTests.Backend"/>), and a backend is not thread-safe (its pool, plans, stream): the
/// classes of this collection run one after another, never beside each other.
/// </summary>
[CollectionDefinition("gpu")]
public sealed class GpuCollection;
