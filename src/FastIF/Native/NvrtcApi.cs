using System.Runtime.InteropServices;

namespace FastIF.Native;

/// <summary>NVRTC bindings (libnvrtc.so.13/12/11.2). Every call returns an <c>nvrtcResult</c> (0 = NVRTC_SUCCESS).</summary>
internal static unsafe partial class NvrtcApi
{
    static NvrtcApi() => NativeLibraries.EnsureInstalled();

    private const string Lib = NativeLibraries.Nvrtc;

    /// <summary>nvrtcResult NVRTC_ERROR_COMPILATION (nvrtc.h).</summary>
    public const int NVRTC_ERROR_COMPILATION = 6;

    [LibraryImport(Lib)] public static partial byte* nvrtcGetErrorString(int result);
    [LibraryImport(Lib)] public static partial int nvrtcVersion(int* major, int* minor);
    [LibraryImport(Lib)] public static partial int nvrtcGetNumSupportedArchs(int* count);
    [LibraryImport(Lib)] public static partial int nvrtcGetSupportedArchs(int* archs);
    [LibraryImport(Lib)]
    public static partial int nvrtcCreateProgram(nint* program, byte* source, byte* name, int numHeaders, byte** headers, byte** includeNames);
    [LibraryImport(Lib)] public static partial int nvrtcDestroyProgram(nint* program);
    [LibraryImport(Lib)] public static partial int nvrtcCompileProgram(nint program, int numOptions, byte** options);
    [LibraryImport(Lib)] public static partial int nvrtcGetPTXSize(nint program, nuint* size);
    [LibraryImport(Lib)] public static partial int nvrtcGetPTX(nint program, byte* ptx);
    [LibraryImport(Lib)] public static partial int nvrtcGetCUBINSize(nint program, nuint* size);
    [LibraryImport(Lib)] public static partial int nvrtcGetCUBIN(nint program, byte* cubin);
    [LibraryImport(Lib)] public static partial int nvrtcGetProgramLogSize(nint program, nuint* size);
    [LibraryImport(Lib)] public static partial int nvrtcGetProgramLog(nint program, byte* log);

    /// <summary>NVRTC's own name for a status (e.g. NVRTC_ERROR_COMPILATION).</summary>
    public static string ErrorName(int status)
    {
        var p = nvrtcGetErrorString(status);
        return p == null ? $"NVRTC_ERROR_{status}" : Marshal.PtrToStringUTF8((nint)p)!;
    }

    /// <summary>Throws <see cref="NvrtcException"/> for a failed call.</summary>
    public static void Check(int status, string call, string context, string? log = null)
    {
        if (status != 0) throw new NvrtcException(call, status, ErrorName(status), context, log);
    }
}
