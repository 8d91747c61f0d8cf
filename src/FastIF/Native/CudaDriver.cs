using System.Runtime.InteropServices;

namespace FastIF.Native;

/// <summary>
/// CUDA driver API bindings (libcuda.so.1). Symbol names are the ones cuda.h maps the public names to
/// (<c>#define cuMemAlloc cuMemAlloc_v2</c> etc.). <c>CUdeviceptr</c> is 64-bit (<c>ulong</c>); every other handle is a pointer.
/// Every call returns a <c>CUresult</c> (0 = CUDA_SUCCESS); pass it to <see cref="Check"/>.
/// </summary>
internal static unsafe partial class CudaDriver
{
    static CudaDriver() => NativeLibraries.EnsureInstalled();

    private const string Lib = NativeLibraries.Cuda;

    // CUresult values used by name in code (cuda.h).
    public const int CUDA_SUCCESS = 0;
    public const int CUDA_ERROR_OUT_OF_MEMORY = 2;
    public const int CUDA_ERROR_NOT_READY = 600;

    // CUdevice_attribute (cuda.h).
    public const int CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT = 16;
    public const int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75;
    public const int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76;

    // CUfunction_attribute (cuda.h): CU_FUNC_ATTRIBUTE_NUM_REGS = 4.
    public const int CU_FUNC_ATTRIBUTE_NUM_REGS = 4;

    // cuStreamCreate flags (cuda.h): CU_STREAM_DEFAULT = 0x0, CU_STREAM_NON_BLOCKING = 0x1.
    public const uint CU_STREAM_NON_BLOCKING = 0x1;

    // cuEventCreate flags (cuda.h): CU_EVENT_DEFAULT = 0x0, CU_EVENT_BLOCKING_SYNC = 0x1, CU_EVENT_DISABLE_TIMING = 0x2.
    public const uint CU_EVENT_DEFAULT = 0x0;
    public const uint CU_EVENT_DISABLE_TIMING = 0x2;

    // cuMemHostAlloc flags (cuda.h): CU_MEMHOSTALLOC_PORTABLE = 0x01, DEVICEMAP = 0x02, WRITECOMBINED = 0x04.
    public const uint CU_MEMHOSTALLOC_PORTABLE = 0x01;

    // CUstreamCaptureMode (cuda.h): GLOBAL = 0, THREAD_LOCAL = 1, RELAXED = 2.
    public const int CU_STREAM_CAPTURE_MODE_GLOBAL = 0;
    public const int CU_STREAM_CAPTURE_MODE_THREAD_LOCAL = 1;
    public const int CU_STREAM_CAPTURE_MODE_RELAXED = 2;

    // CUgraphInstantiate_flags (cuda.h): AUTO_FREE_ON_LAUNCH = 1, UPLOAD = 2, DEVICE_LAUNCH = 4, USE_NODE_PRIORITY = 8.
    public const ulong CUDA_GRAPH_INSTANTIATE_FLAG_AUTO_FREE_ON_LAUNCH = 1;

    /// <summary>CUgraphExecUpdateResultInfo (cuda.h, CUDA 12+): { CUgraphExecUpdateResult result; CUgraphNode errorNode; CUgraphNode errorFromNode; }.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct GraphExecUpdateResultInfo
    {
        public int Result;
        public nint ErrorNode;
        public nint ErrorFromNode;
    }

    [LibraryImport(Lib)] public static partial int cuInit(uint flags);
    [LibraryImport(Lib)] public static partial int cuDriverGetVersion(int* version);
    [LibraryImport(Lib)] public static partial int cuDeviceGet(int* device, int ordinal);
    [LibraryImport(Lib)] public static partial int cuDeviceGetCount(int* count);
    [LibraryImport(Lib)] public static partial int cuDeviceGetName(byte* name, int len, int device);
    [LibraryImport(Lib)] public static partial int cuDeviceGetAttribute(int* value, int attribute, int device);
    [LibraryImport(Lib)] public static partial int cuDeviceTotalMem_v2(nuint* bytes, int device);
    [LibraryImport(Lib)] public static partial int cuDevicePrimaryCtxRetain(nint* context, int device);
    [LibraryImport(Lib)] public static partial int cuDevicePrimaryCtxRelease_v2(int device);
    [LibraryImport(Lib)] public static partial int cuCtxSetCurrent(nint context);
    [LibraryImport(Lib)] public static partial int cuCtxGetCurrent(nint* context);
    [LibraryImport(Lib)] public static partial int cuCtxSynchronize();

    [LibraryImport(Lib)] public static partial int cuMemAlloc_v2(ulong* dptr, nuint bytes);
    [LibraryImport(Lib)] public static partial int cuMemFree_v2(ulong dptr);
    [LibraryImport(Lib)] public static partial int cuMemAllocAsync(ulong* dptr, nuint bytes, nint stream);
    [LibraryImport(Lib)] public static partial int cuMemFreeAsync(ulong dptr, nint stream);
    [LibraryImport(Lib)] public static partial int cuMemHostAlloc(void** pp, nuint bytes, uint flags);
    [LibraryImport(Lib)] public static partial int cuMemFreeHost(void* p);
    [LibraryImport(Lib)] public static partial int cuMemGetInfo_v2(nuint* free, nuint* total);
    [LibraryImport(Lib)] public static partial int cuMemcpyHtoD_v2(ulong dst, void* src, nuint bytes);
    [LibraryImport(Lib)] public static partial int cuMemcpyDtoH_v2(void* dst, ulong src, nuint bytes);
    [LibraryImport(Lib)] public static partial int cuMemcpyDtoD_v2(ulong dst, ulong src, nuint bytes);
    [LibraryImport(Lib)] public static partial int cuMemcpyHtoDAsync_v2(ulong dst, void* src, nuint bytes, nint stream);
    [LibraryImport(Lib)] public static partial int cuMemcpyDtoHAsync_v2(void* dst, ulong src, nuint bytes, nint stream);
    [LibraryImport(Lib)] public static partial int cuMemcpyDtoDAsync_v2(ulong dst, ulong src, nuint bytes, nint stream);
    [LibraryImport(Lib)] public static partial int cuMemsetD8_v2(ulong dst, byte value, nuint count);
    [LibraryImport(Lib)] public static partial int cuMemsetD32_v2(ulong dst, uint value, nuint count);
    [LibraryImport(Lib)] public static partial int cuMemsetD8Async(ulong dst, byte value, nuint count, nint stream);
    [LibraryImport(Lib)] public static partial int cuMemsetD32Async(ulong dst, uint value, nuint count, nint stream);

    [LibraryImport(Lib)] public static partial int cuStreamCreate(nint* stream, uint flags);
    [LibraryImport(Lib)] public static partial int cuStreamDestroy_v2(nint stream);
    [LibraryImport(Lib)] public static partial int cuStreamSynchronize(nint stream);
    [LibraryImport(Lib)] public static partial int cuEventCreate(nint* evt, uint flags);
    [LibraryImport(Lib)] public static partial int cuEventDestroy_v2(nint evt);
    [LibraryImport(Lib)] public static partial int cuEventRecord(nint evt, nint stream);
    [LibraryImport(Lib)] public static partial int cuEventSynchronize(nint evt);
    [LibraryImport(Lib)] public static partial int cuEventElapsedTime(float* milliseconds, nint start, nint end);

    [LibraryImport(Lib)] public static partial int cuModuleLoadData(nint* module, void* image);
    [LibraryImport(Lib)] public static partial int cuModuleLoadDataEx(nint* module, void* image, uint numOptions, int* options, void** optionValues);
    [LibraryImport(Lib)] public static partial int cuModuleUnload(nint module);
    [LibraryImport(Lib)] public static partial int cuModuleGetFunction(nint* function, nint module, byte* name);
    [LibraryImport(Lib)] public static partial int cuFuncGetAttribute(int* value, int attribute, nint function);
    [LibraryImport(Lib)]
    public static partial int cuLaunchKernel(nint function, uint gridX, uint gridY, uint gridZ, uint blockX, uint blockY, uint blockZ,
        uint sharedMemBytes, nint stream, void** kernelParams, void** extra);

    [LibraryImport(Lib)] public static partial int cuStreamBeginCapture_v2(nint stream, int mode);
    [LibraryImport(Lib)] public static partial int cuStreamEndCapture(nint stream, nint* graph);
    [LibraryImport(Lib)] public static partial int cuGraphInstantiateWithFlags(nint* graphExec, nint graph, ulong flags);
    [LibraryImport(Lib)] public static partial int cuGraphLaunch(nint graphExec, nint stream);
    [LibraryImport(Lib)] public static partial int cuGraphExecUpdate_v2(nint graphExec, nint graph, GraphExecUpdateResultInfo* resultInfo);
    [LibraryImport(Lib)] public static partial int cuGraphDestroy(nint graph);
    [LibraryImport(Lib)] public static partial int cuGraphExecDestroy(nint graphExec);

    [LibraryImport(Lib)] public static partial int cuGetErrorName(int error, byte** name);
    [LibraryImport(Lib)] public static partial int cuGetErrorString(int error, byte** text);

    /// <summary>Throws <see cref="CudaException"/> naming the call and the driver's name and text for the status.</summary>
    public static void Check(int status, string call)
    {
        if (status != CUDA_SUCCESS) throw Error(status, call);
    }

    /// <summary>The exception for a failed driver call.</summary>
    public static CudaException Error(int status, string call)
    {
        byte* name = null, text = null;
        string n = cuGetErrorName(status, &name) == 0 && name != null ? Marshal.PtrToStringUTF8((nint)name)! : "CUDA_ERROR_?";
        string t = cuGetErrorString(status, &text) == 0 && text != null ? Marshal.PtrToStringUTF8((nint)text)! : "unknown CUresult";
        return new CudaException(call, status, n, t);
    }
}
