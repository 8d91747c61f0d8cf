using System.Runtime.InteropServices;

namespace FastIF.Native;

/// <summary>
/// cuBLASLt bindings (libcublasLt.so.13/12/11). Enum values are from cublasLt.h / cublas_api.h / library_types.h
/// (checked against the CUDA 12 headers and the cuBLAS documentation, docs.nvidia.com/cuda/cublas, section cuBLASLt
/// datatypes reference). Note: CUBLASLT_EPILOGUE_GELU* use cuBLASLt's tanh-approximated GELU, not exact erf GELU.
/// </summary>
internal static unsafe partial class CublasLtApi
{
    static CublasLtApi() => NativeLibraries.EnsureInstalled();

    private const string Lib = NativeLibraries.CublasLt;

    // cudaDataType_t (library_types.h).
    public const int CUDA_R_32F = 0, CUDA_R_16F = 2, CUDA_R_16BF = 14;
    // cublasComputeType_t (cublas_api.h).
    public const int CUBLAS_COMPUTE_16F = 64, CUBLAS_COMPUTE_32F = 68, CUBLAS_COMPUTE_32F_FAST_TF32 = 77;
    // cublasOperation_t (cublas_api.h).
    public const int CUBLAS_OP_N = 0, CUBLAS_OP_T = 1;
    // cublasLtMatmulDescAttributes_t (cublasLt.h).
    public const int CUBLASLT_MATMUL_DESC_COMPUTE_TYPE = 0, CUBLASLT_MATMUL_DESC_SCALE_TYPE = 1,
        CUBLASLT_MATMUL_DESC_TRANSA = 3, CUBLASLT_MATMUL_DESC_TRANSB = 4, CUBLASLT_MATMUL_DESC_EPILOGUE = 7,
        CUBLASLT_MATMUL_DESC_BIAS_POINTER = 8;
    // cublasLtEpilogue_t (cublasLt.h): DEFAULT = 1, RELU = 2, BIAS = 4, RELU_BIAS = 6, GELU = 32, GELU_BIAS = 36.
    public const int CUBLASLT_EPILOGUE_DEFAULT = 1, CUBLASLT_EPILOGUE_BIAS = 4, CUBLASLT_EPILOGUE_GELU = 32, CUBLASLT_EPILOGUE_GELU_BIAS = 36;
    // cublasLtMatrixLayoutAttribute_t (cublasLt.h) and cublasLtOrder_t (COL = 0, ROW = 1).
    public const int CUBLASLT_MATRIX_LAYOUT_ORDER = 1, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT = 5,
        CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET = 6, CUBLASLT_ORDER_ROW = 1;
    // cublasLtMatmulPreferenceAttributes_t (cublasLt.h): SEARCH_MODE = 0, MAX_WORKSPACE_BYTES = 1 (uint64_t).
    public const int CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES = 1;
    // MIN_ALIGNMENT_{A,B,C,D}_BYTES = 5..8 (uint32_t, default 256): algorithms needing more alignment than a matrix has
    // are excluded.
    public const int CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES = 5, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES = 6,
        CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES = 7, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES = 8;

    /// <summary>cublasLtMatmulAlgo_t: <c>uint64_t data[8]</c> (64 bytes).</summary>
    [StructLayout(LayoutKind.Sequential, Size = 64)]
    public struct MatmulAlgo { public fixed ulong Data[8]; }

    /// <summary>cublasLtMatmulHeuristicResult_t: { algo; size_t workspaceSize; cublasStatus_t state; float wavesCount; int reserved[4]; } (96 bytes).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct HeuristicResult
    {
        public MatmulAlgo Algo;
        public nuint WorkspaceSize;
        public int State;
        public float WavesCount;
        public fixed int Reserved[4];
    }

    [LibraryImport(Lib)] public static partial int cublasLtCreate(nint* handle);
    [LibraryImport(Lib)] public static partial int cublasLtDestroy(nint handle);
    [LibraryImport(Lib)] public static partial nuint cublasLtGetVersion();
    [LibraryImport(Lib)] public static partial int cublasLtMatmulDescCreate(nint* desc, int computeType, int scaleType);
    [LibraryImport(Lib)] public static partial int cublasLtMatmulDescDestroy(nint desc);
    [LibraryImport(Lib)] public static partial int cublasLtMatmulDescSetAttribute(nint desc, int attribute, void* buffer, nuint size);
    [LibraryImport(Lib)] public static partial int cublasLtMatrixLayoutCreate(nint* layout, int type, ulong rows, ulong cols, long ld);
    [LibraryImport(Lib)] public static partial int cublasLtMatrixLayoutDestroy(nint layout);
    [LibraryImport(Lib)] public static partial int cublasLtMatrixLayoutSetAttribute(nint layout, int attribute, void* buffer, nuint size);
    [LibraryImport(Lib)] public static partial int cublasLtMatmulPreferenceCreate(nint* preference);
    [LibraryImport(Lib)] public static partial int cublasLtMatmulPreferenceDestroy(nint preference);
    [LibraryImport(Lib)] public static partial int cublasLtMatmulPreferenceSetAttribute(nint preference, int attribute, void* buffer, nuint size);
    [LibraryImport(Lib)]
    public static partial int cublasLtMatmulAlgoGetHeuristic(nint handle, nint operationDesc, nint aDesc, nint bDesc, nint cDesc, nint dDesc,
        nint preference, int requestedAlgoCount, HeuristicResult* results, int* returnedAlgoCount);
    [LibraryImport(Lib)]
    public static partial int cublasLtMatmul(nint handle, nint computeDesc, void* alpha, ulong a, nint aDesc, ulong b, nint bDesc,
        void* beta, ulong c, nint cDesc, ulong d, nint dDesc, MatmulAlgo* algo, ulong workspace, nuint workspaceBytes, nint stream);

    /// <summary>Throws <see cref="CublasException"/> for a failed cuBLAS/cuBLASLt call.</summary>
    public static void Check(int status, string call)
    {
        if (status != 0) throw new CublasException(call, status, CublasStatus.Name(status), CublasStatus.Text(status));
    }
}

/// <summary>cublasStatus_t names (cublas_api.h); kept here so errors read well even where cublasGetStatusName is absent.</summary>
internal static class CublasStatus
{
    public static string Name(int s) => s switch
    {
        0 => "CUBLAS_STATUS_SUCCESS",
        1 => "CUBLAS_STATUS_NOT_INITIALIZED",
        3 => "CUBLAS_STATUS_ALLOC_FAILED",
        7 => "CUBLAS_STATUS_INVALID_VALUE",
        8 => "CUBLAS_STATUS_ARCH_MISMATCH",
        11 => "CUBLAS_STATUS_MAPPING_ERROR",
        13 => "CUBLAS_STATUS_EXECUTION_FAILED",
        14 => "CUBLAS_STATUS_INTERNAL_ERROR",
        15 => "CUBLAS_STATUS_NOT_SUPPORTED",
        16 => "CUBLAS_STATUS_LICENSE_ERROR",
        _ => $"CUBLAS_STATUS_{s}",
    };

    public static string Text(int s) => s switch
    {
        1 => "the library was not initialized (no CUDA context?)",
        3 => "resource allocation failed inside cuBLAS",
        7 => "an unsupported value or parameter combination was passed",
        8 => "the operation needs a feature the device lacks",
        13 => "the GPU program failed to execute",
        15 => "the requested configuration is not supported",
        _ => "see the cuBLAS documentation for this status",
    };
}
