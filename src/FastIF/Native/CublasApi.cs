using System.Runtime.InteropServices;

namespace FastIF.Native;

/// <summary>Classic cuBLAS bindings (libcublas.so.13/12/11), for GEMMs where cuBLASLt's descriptors are not worth it.</summary>
internal static unsafe partial class CublasApi
{
    static CublasApi() => NativeLibraries.EnsureInstalled();

    private const string Lib = NativeLibraries.Cublas;

    /// <summary>cublasGemmAlgo_t CUBLAS_GEMM_DEFAULT = -1 (cublas_api.h).</summary>
    public const int CUBLAS_GEMM_DEFAULT = -1;

    [LibraryImport(Lib)] public static partial int cublasCreate_v2(nint* handle);
    [LibraryImport(Lib)] public static partial int cublasDestroy_v2(nint handle);
    [LibraryImport(Lib)] public static partial int cublasSetStream_v2(nint handle, nint stream);
    [LibraryImport(Lib)]
    public static partial int cublasSgemmEx(nint handle, int transa, int transb, int m, int n, int k, float* alpha,
        ulong a, int aType, int lda, ulong b, int bType, int ldb, float* beta, ulong c, int cType, int ldc);
    [LibraryImport(Lib)] public static partial int cublasSetWorkspace_v2(nint handle, ulong workspace, nuint workspaceBytes);
    [LibraryImport(Lib)]
    public static partial int cublasGemmStridedBatchedEx(nint handle, int transa, int transb, int m, int n, int k, void* alpha,
        ulong a, int aType, int lda, long strideA, ulong b, int bType, int ldb, long strideB, void* beta,
        ulong c, int cType, int ldc, long strideC, int batchCount, int computeType, int algo);
    [LibraryImport(Lib)]
    public static partial int cublasGemmEx(nint handle, int transa, int transb, int m, int n, int k, void* alpha,
        ulong a, int aType, int lda, ulong b, int bType, int ldb, void* beta, ulong c, int cType, int ldc, int computeType, int algo);
}
