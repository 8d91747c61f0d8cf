using System.Runtime.InteropServices;

namespace FastIF.Native;

/// <summary>Asks a freshly loaded library for its version through its own export (not through the bindings).</summary>
internal static unsafe class LibraryVersions
{
    public static string? Query(string name, nint handle)
    {
        try
        {
            switch (name)
            {
                case NativeLibraries.Cuda when NativeLibrary.TryGetExport(handle, "cuDriverGetVersion", out var f):
                {
                    int v = 0;
                    int rc = ((delegate* unmanaged<int*, int>)f)(&v);
                    return rc == 0 ? $"driver API {v / 1000}.{v % 1000 / 10} ({v})" : $"cuDriverGetVersion returned {rc}";
                }
                case NativeLibraries.Nvrtc when NativeLibrary.TryGetExport(handle, "nvrtcVersion", out var f):
                {
                    int major = 0, minor = 0;
                    int rc = ((delegate* unmanaged<int*, int*, int>)f)(&major, &minor);
                    return rc == 0 ? $"{major}.{minor}" : $"nvrtcVersion returned {rc}";
                }
                case NativeLibraries.CublasLt when NativeLibrary.TryGetExport(handle, "cublasLtGetVersion", out var f):
                {
                    ulong v = ((delegate* unmanaged<nuint>)f)();
                    return $"{v / 10000}.{v % 10000 / 100}.{v % 100} ({v})";
                }
                case NativeLibraries.Cublas when NativeLibrary.TryGetExport(handle, "cublasGetProperty", out var f):
                {
                    // libraryPropertyType: MAJOR_VERSION = 0, MINOR_VERSION = 1, PATCH_LEVEL = 2 (library_types.h).
                    int major = 0, minor = 0, patch = 0;
                    var get = (delegate* unmanaged<int, int*, int>)f;
                    return get(0, &major) == 0 && get(1, &minor) == 0 && get(2, &patch) == 0 ? $"{major}.{minor}.{patch}" : null;
                }
                case NativeLibraries.Cudnn when NativeLibrary.TryGetExport(handle, "cudnnGetVersion", out var f):
                {
                    // cuDNN 9: major*10000 + minor*100 + patch; cuDNN 8: major*1000 + minor*100 + patch.
                    ulong v = ((delegate* unmanaged<nuint>)f)();
                    return v >= 90000 ? $"{v / 10000}.{v % 10000 / 100}.{v % 100} ({v})" : $"{v / 1000}.{v % 1000 / 100}.{v % 100} ({v})";
                }
                default:
                    return null;
            }
        }
        catch (Exception e)
        {
            return $"version query failed: {e.Message}";
        }
    }
}
