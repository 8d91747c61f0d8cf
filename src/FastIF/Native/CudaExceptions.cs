namespace FastIF.Native;

/// <summary>A CUDA-stack call (driver, NVRTC, cuBLAS, cuDNN) returned an error status.</summary>
public class CudaException : FastIFException
{
    /// <summary>Creates the exception for a failed call.</summary>
    /// <param name="call">The native function that failed, e.g. <c>cuMemAlloc_v2</c>.</param>
    /// <param name="status">The raw status code it returned.</param>
    /// <param name="statusName">The library's name for the status (e.g. <c>CUDA_ERROR_INVALID_VALUE</c>).</param>
    /// <param name="detail">The library's description of the status, plus any context.</param>
    public CudaException(string call, int status, string statusName, string detail)
        : base($"{call} failed: {statusName} ({status}): {detail}")
    {
        Call = call;
        Status = status;
        StatusName = statusName;
    }

    /// <summary>Creates the exception with a fully formed message.</summary>
    protected CudaException(string call, int status, string statusName, string message, bool _)
        : base(message)
    {
        Call = call;
        Status = status;
        StatusName = statusName;
    }

    /// <summary>The native function that failed.</summary>
    public string Call { get; }

    /// <summary>The raw status code.</summary>
    public int Status { get; }

    /// <summary>The library's name for the status code.</summary>
    public string StatusName { get; }
}

/// <summary>An NVRTC call failed; for compilation failures <see cref="Log"/> holds the compiler log.</summary>
public sealed class NvrtcException(string call, int status, string statusName, string detail, string? log = null)
    : CudaException(call, status, statusName, log is null ? detail : $"{detail}\n--- NVRTC log ---\n{log}")
{
    /// <summary>The compile log, when the failure was a compilation.</summary>
    public string? Log { get; } = log;
}

/// <summary>A cuBLAS or cuBLASLt call failed.</summary>
public sealed class CublasException(string call, int status, string statusName, string detail)
    : CudaException(call, status, statusName, detail);

/// <summary>A cuDNN call failed.</summary>
public sealed class CudnnException(string call, int status, string statusName, string detail)
    : CudaException(call, status, statusName, detail);

/// <summary>A device allocation failed for lack of memory.</summary>
public sealed class CudaOutOfMemoryException : CudaException
{
    /// <summary>Creates the exception from the request and the device's state at failure time.</summary>
    public CudaOutOfMemoryException(string call, long requestedBytes, long freeBytes, long totalBytes, string label)
        : base(call, 2, "CUDA_ERROR_OUT_OF_MEMORY",
            $"{call} failed: out of device memory allocating {Mib(requestedBytes)} for '{label}': " +
            $"{Mib(freeBytes)} free of {Mib(totalBytes)} total. Try a smaller --batch or --size, --precision fp16/bf16 " +
            "instead of fp32, or free the GPU from other processes", true)
    {
        RequestedBytes = requestedBytes;
        FreeBytes = freeBytes;
        TotalBytes = totalBytes;
        Label = label;
    }

    /// <summary>Bytes the failed allocation asked for.</summary>
    public long RequestedBytes { get; }

    /// <summary>Free device bytes reported by cuMemGetInfo when the allocation failed (-1 when unknown).</summary>
    public long FreeBytes { get; }

    /// <summary>Total device bytes reported by cuMemGetInfo (-1 when unknown).</summary>
    public long TotalBytes { get; }

    /// <summary>The caller's label for what was being allocated (model, shape).</summary>
    public string Label { get; }

    private static string Mib(long bytes) =>
        bytes < 0 ? "unknown" : $"{bytes} bytes ({bytes / (1024.0 * 1024.0):F1} MiB)";
}

/// <summary>A native library (CUDA driver, NVRTC, cuBLAS, cuDNN) could not be found or loaded.</summary>
public sealed class CudaLibraryNotFoundException(LibraryProbe probe)
    : FastIFException(probe.Describe())
{
    /// <summary>What the search tried and why each place failed.</summary>
    public LibraryProbe Probe { get; } = probe;
}
