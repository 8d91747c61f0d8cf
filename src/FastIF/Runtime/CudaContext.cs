using System.Runtime.InteropServices;
using FastIF.Native;

namespace FastIF.Runtime;

/// <summary>
/// One device's primary context (the one the CUDA runtime, cuBLAS and cuDNN also use), plus the allocation, copy,
/// stream, event, module and graph entry points. Every entry point makes the context current on the calling thread.
/// </summary>
public sealed unsafe class CudaContext : IDisposable
{
    private static readonly Lazy<int> InitStatus = new(() => CudaDriver.cuInit(0));
    private nint _context;

    private CudaContext(int device, nint context)
    {
        Device = device;
        _context = context;
        var name = stackalloc byte[256];
        CudaDriver.Check(CudaDriver.cuDeviceGetName(name, 256, device), "cuDeviceGetName");
        Name = Marshal.PtrToStringUTF8((nint)name) ?? "?";
        ComputeMajor = Attribute(CudaDriver.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR);
        ComputeMinor = Attribute(CudaDriver.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR);
        MultiprocessorCount = Attribute(CudaDriver.CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT);
        nuint total;
        CudaDriver.Check(CudaDriver.cuDeviceTotalMem_v2(&total, device), "cuDeviceTotalMem_v2");
        TotalMemory = (long)total;
        int version;
        CudaDriver.Check(CudaDriver.cuDriverGetVersion(&version), "cuDriverGetVersion");
        DriverVersion = version;
    }

    /// <summary>Number of CUDA devices (initializes the driver; throws when the driver is missing or fails).</summary>
    public static int DeviceCount()
    {
        CudaDriver.Check(InitStatus.Value, "cuInit");
        int count;
        CudaDriver.Check(CudaDriver.cuDeviceGetCount(&count), "cuDeviceGetCount");
        return count;
    }

    /// <summary>Devices usable here: 0 with <paramref name="reason"/> when the driver is missing or fails, never an exception.</summary>
    public static int DevicesPresent(out string? reason)
    {
        reason = null;
        if (!NativeLibraries.IsAvailable(NativeLibraries.Cuda))
        {
            reason = "no CUDA driver or device";
            return 0;
        }
        try { return DeviceCount(); }
        catch (CudaException e)
        {
            reason = e.Message;
            return 0;
        }
    }

    /// <summary>Retains the primary context of device <paramref name="ordinal"/> and makes it current.</summary>
    public static CudaContext Create(int ordinal = 0)
    {
        CudaDriver.Check(InitStatus.Value, "cuInit");
        int device;
        CudaDriver.Check(CudaDriver.cuDeviceGet(&device, ordinal), $"cuDeviceGet({ordinal})");
        nint ctx;
        CudaDriver.Check(CudaDriver.cuDevicePrimaryCtxRetain(&ctx, device), "cuDevicePrimaryCtxRetain");
        CudaDriver.Check(CudaDriver.cuCtxSetCurrent(ctx), "cuCtxSetCurrent");
        return new CudaContext(device, ctx);
    }

    /// <summary>The CUdevice.</summary>
    public int Device { get; }
    /// <summary>The device's name, e.g. "NVIDIA H100 80GB HBM3".</summary>
    public string Name { get; }
    /// <summary>Compute capability major version.</summary>
    public int ComputeMajor { get; }
    /// <summary>Compute capability minor version.</summary>
    public int ComputeMinor { get; }
    /// <summary>The real architecture name, e.g. "sm_90".</summary>
    public string Arch => $"sm_{ComputeMajor}{ComputeMinor}";
    /// <summary>Streaming multiprocessor count.</summary>
    public int MultiprocessorCount { get; }
    /// <summary>Total device memory in bytes.</summary>
    public long TotalMemory { get; }
    /// <summary>cuDriverGetVersion, e.g. 13000.</summary>
    public int DriverVersion { get; }
    /// <summary>The raw CUcontext.</summary>
    public nint Handle => _context;

    private int Attribute(int attribute)
    {
        int v;
        CudaDriver.Check(CudaDriver.cuDeviceGetAttribute(&v, attribute, Device), $"cuDeviceGetAttribute({attribute})");
        return v;
    }

    /// <summary>Makes this context current on the calling thread.</summary>
    public void MakeCurrent()
    {
        ObjectDisposedException.ThrowIf(_context == 0, this);
        CudaDriver.Check(CudaDriver.cuCtxSetCurrent(_context), "cuCtxSetCurrent");
    }

    /// <summary>Free and total device memory in bytes (cuMemGetInfo_v2).</summary>
    public (long Free, long Total) MemoryInfo()
    {
        MakeCurrent();
        nuint free, total;
        CudaDriver.Check(CudaDriver.cuMemGetInfo_v2(&free, &total), "cuMemGetInfo_v2");
        return ((long)free, (long)total);
    }

    /// <summary>Allocates device memory; out of memory raises <see cref="CudaOutOfMemoryException"/> naming <paramref name="label"/>.</summary>
    public DeviceMemory Allocate(long bytes, string label)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bytes);
        MakeCurrent();
        ulong ptr;
        int rc = CudaDriver.cuMemAlloc_v2(&ptr, (nuint)bytes);
        if (rc == CudaDriver.CUDA_ERROR_OUT_OF_MEMORY) throw OutOfMemory("cuMemAlloc_v2", bytes, label);
        if (rc != 0) throw CudaDriver.Error(rc, $"cuMemAlloc_v2({bytes} bytes for '{label}')");
        return new DeviceMemory(ptr, bytes, _context);
    }

    /// <summary>Builds the out-of-memory error with the device's current free/total memory.</summary>
    public CudaOutOfMemoryException OutOfMemory(string call, long requested, string label)
    {
        nuint free = 0, total = 0;
        bool known = CudaDriver.cuMemGetInfo_v2(&free, &total) == 0;
        return new CudaOutOfMemoryException(call, requested, known ? (long)free : -1, known ? (long)total : -1, label);
    }

    /// <summary>Allocates page-locked host memory for fast, asynchronous copies.</summary>
    public PinnedHostMemory AllocatePinned(long bytes, string label)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bytes);
        MakeCurrent();
        void* p;
        int rc = CudaDriver.cuMemHostAlloc(&p, (nuint)bytes, CudaDriver.CU_MEMHOSTALLOC_PORTABLE);
        if (rc != 0) throw CudaDriver.Error(rc, $"cuMemHostAlloc({bytes} bytes for '{label}')");
        return new PinnedHostMemory((nint)p, bytes, _context);
    }

    /// <summary>Creates a non-blocking stream (no implicit synchronization with the legacy default stream).</summary>
    public CudaStream CreateStream()
    {
        MakeCurrent();
        nint s;
        CudaDriver.Check(CudaDriver.cuStreamCreate(&s, CudaDriver.CU_STREAM_NON_BLOCKING), "cuStreamCreate");
        return new CudaStream(s, _context);
    }

    /// <summary>Creates an event; with <paramref name="timing"/> false it is cheaper but cannot be timed.</summary>
    public CudaEvent CreateEvent(bool timing = true)
    {
        MakeCurrent();
        nint e;
        CudaDriver.Check(CudaDriver.cuEventCreate(&e, timing ? CudaDriver.CU_EVENT_DEFAULT : CudaDriver.CU_EVENT_DISABLE_TIMING), "cuEventCreate");
        return new CudaEvent(e, _context);
    }

    /// <summary>Loads a CUBIN, fatbin or PTX image; a JIT failure's log is part of the error.</summary>
    public CudaModule LoadModule(ReadOnlySpan<byte> image, string what)
    {
        MakeCurrent();
        bool isElf = image.Length >= 4 && image[0] == 0x7F && image[1] == (byte)'E' && image[2] == (byte)'L' && image[3] == (byte)'F';
        bool isFatbin = image.Length >= 4 && BitConverter.ToUInt32(image[..4]) == 0xBA55ED50;
        byte[] data = isElf || isFatbin || (image.Length > 0 && image[^1] == 0) ? image.ToArray() : [.. image, 0];
        const int logSize = 8192;
        var log = stackalloc byte[logSize];
        // CUjit_option (cuda.h): CU_JIT_ERROR_LOG_BUFFER = 5, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES = 6; sizes go by value in the void*.
        var options = stackalloc int[2] { 5, 6 };
        var values = stackalloc void*[2] { log, (void*)logSize };
        nint module;
        int rc;
        fixed (byte* p = data) rc = CudaDriver.cuModuleLoadDataEx(&module, p, 2, options, values);
        if (rc != 0)
        {
            var text = Marshal.PtrToStringUTF8((nint)log) ?? "";
            throw CudaDriver.Error(rc, $"cuModuleLoadDataEx({what}){(text.Length > 0 ? ": " + text : "")}");
        }
        return new CudaModule(module, _context);
    }

    /// <summary>Copies host data to device memory at <paramref name="offsetBytes"/> (synchronous).</summary>
    public void Upload<T>(DeviceMemory dst, ReadOnlySpan<T> src, long offsetBytes = 0) where T : unmanaged
    {
        long bytes = (long)src.Length * sizeof(T);
        CheckRange(dst, offsetBytes, bytes);
        MakeCurrent();
        fixed (T* p = src)
            CudaDriver.Check(CudaDriver.cuMemcpyHtoD_v2(dst.Pointer + (ulong)offsetBytes, p, (nuint)bytes), "cuMemcpyHtoD_v2");
    }

    /// <summary>Copies device memory at <paramref name="offsetBytes"/> to host (synchronous).</summary>
    public void Download<T>(DeviceMemory src, Span<T> dst, long offsetBytes = 0) where T : unmanaged
    {
        long bytes = (long)dst.Length * sizeof(T);
        CheckRange(src, offsetBytes, bytes);
        MakeCurrent();
        fixed (T* p = dst)
            CudaDriver.Check(CudaDriver.cuMemcpyDtoH_v2(p, src.Pointer + (ulong)offsetBytes, (nuint)bytes), "cuMemcpyDtoH_v2");
    }

    private static void CheckRange(DeviceMemory mem, long offset, long bytes)
    {
        if (offset < 0 || bytes < 0 || offset + bytes > mem.Bytes)
            throw new ArgumentOutOfRangeException(nameof(offset), $"copy of {bytes} bytes at offset {offset} exceeds the {mem.Bytes}-byte buffer");
    }

    /// <summary>Blocks until all work in this context has finished.</summary>
    public void Synchronize()
    {
        MakeCurrent();
        CudaDriver.Check(CudaDriver.cuCtxSynchronize(), "cuCtxSynchronize");
    }

    /// <summary>Starts capturing <paramref name="stream"/> into a graph (thread-local mode: other threads' CUDA calls are unaffected).</summary>
    public void BeginCapture(CudaStream stream)
    {
        MakeCurrent();
        CudaDriver.Check(CudaDriver.cuStreamBeginCapture_v2(stream.Value, CudaDriver.CU_STREAM_CAPTURE_MODE_THREAD_LOCAL), "cuStreamBeginCapture_v2");
    }

    /// <summary>Ends the capture begun by <see cref="BeginCapture"/> and returns the captured graph.</summary>
    public CudaGraph EndCapture(CudaStream stream)
    {
        MakeCurrent();
        nint graph;
        CudaDriver.Check(CudaDriver.cuStreamEndCapture(stream.Value, &graph), "cuStreamEndCapture");
        return new CudaGraph(graph, _context);
    }

    /// <summary>Instantiates a graph for launching (cuGraphInstantiateWithFlags, flags 0).</summary>
    public CudaGraphExec Instantiate(CudaGraph graph)
    {
        MakeCurrent();
        nint exec;
        CudaDriver.Check(CudaDriver.cuGraphInstantiateWithFlags(&exec, graph.Value, 0), "cuGraphInstantiateWithFlags");
        return new CudaGraphExec(exec, _context);
    }

    /// <summary>Releases the primary context reference.</summary>
    public void Dispose()
    {
        if (_context == 0) return;
        _context = 0;
        CudaDriver.cuDevicePrimaryCtxRelease_v2(Device);
    }
}
