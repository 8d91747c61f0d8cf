using System.Runtime.InteropServices;

namespace FastIF.Native;

/// <summary>
/// cuDNN legacy convolution API (libcudnn.so.9, or .8 where the signatures are the same). Enum values from cudnn_ops.h /
/// cudnn_cnn.h (cuDNN 9) = cudnn_ops_infer.h / cudnn_cnn_infer.h (cuDNN 8). Whether FastIF convolves through this API,
/// the backend graph API (<see cref="CudnnBackendApi"/>) or its own kernels is deliberately not decided here: that choice
/// is deferred to measurements on a GPU, so both APIs are bound.
/// </summary>
internal static unsafe partial class CudnnApi
{
    static CudnnApi() => NativeLibraries.EnsureInstalled();

    private const string Lib = NativeLibraries.Cudnn;

    // cudnnTensorFormat_t: NCHW = 0, NHWC = 1. cudnnDataType_t: FLOAT = 0, DOUBLE = 1, HALF = 2, BFLOAT16 = 9.
    public const int CUDNN_TENSOR_NCHW = 0, CUDNN_TENSOR_NHWC = 1;
    public const int CUDNN_DATA_FLOAT = 0, CUDNN_DATA_HALF = 2, CUDNN_DATA_BFLOAT16 = 9;
    // cudnnConvolutionMode_t: CONVOLUTION = 0, CROSS_CORRELATION = 1 (PyTorch's Conv2d is cross-correlation).
    public const int CUDNN_CROSS_CORRELATION = 1;
    // cudnnMathType_t: DEFAULT = 0, TENSOR_OP = 1, TENSOR_OP_ALLOW_CONVERSION = 2, FMA = 3 (FMA forbids TF32).
    public const int CUDNN_DEFAULT_MATH = 0, CUDNN_TENSOR_OP_MATH = 1, CUDNN_FMA_MATH = 3;
    // cudnnConvolutionFwdAlgo_t: IMPLICIT_GEMM = 0, IMPLICIT_PRECOMP_GEMM = 1, GEMM = 2, DIRECT = 3, FFT = 4,
    // FFT_TILING = 5, WINOGRAD = 6, WINOGRAD_NONFUSED = 7, COUNT = 8.
    public const int CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM = 1, CUDNN_CONVOLUTION_FWD_ALGO_COUNT = 8;
    // cudnnActivationMode_t: SIGMOID = 0, RELU = 1, TANH = 2, CLIPPED_RELU = 3, ELU = 4, IDENTITY = 5, SWISH = 6.
    public const int CUDNN_ACTIVATION_RELU = 1, CUDNN_ACTIVATION_IDENTITY = 5;
    // cudnnNanPropagation_t: NOT_PROPAGATE_NAN = 0, PROPAGATE_NAN = 1.
    public const int CUDNN_PROPAGATE_NAN = 1;

    /// <summary>cudnnConvolutionFwdAlgoPerf_t: { algo; status; float time; size_t memory; determinism; mathType; int reserved[3]; } (48 bytes).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct ConvFwdAlgoPerf
    {
        public int Algo;
        public int Status;
        public float Time;
        public nuint Memory;
        public int Determinism;
        public int MathType;
        public fixed int Reserved[3];
    }

    [LibraryImport(Lib)] public static partial nuint cudnnGetVersion();
    [LibraryImport(Lib)] public static partial byte* cudnnGetErrorString(int status);
    [LibraryImport(Lib)] public static partial int cudnnCreate(nint* handle);
    [LibraryImport(Lib)] public static partial int cudnnDestroy(nint handle);
    [LibraryImport(Lib)] public static partial int cudnnSetStream(nint handle, nint stream);
    [LibraryImport(Lib)] public static partial int cudnnCreateTensorDescriptor(nint* desc);
    [LibraryImport(Lib)] public static partial int cudnnDestroyTensorDescriptor(nint desc);
    [LibraryImport(Lib)] public static partial int cudnnSetTensor4dDescriptor(nint desc, int format, int dataType, int n, int c, int h, int w);
    [LibraryImport(Lib)] public static partial int cudnnCreateFilterDescriptor(nint* desc);
    [LibraryImport(Lib)] public static partial int cudnnDestroyFilterDescriptor(nint desc);
    [LibraryImport(Lib)] public static partial int cudnnSetFilter4dDescriptor(nint desc, int dataType, int format, int k, int c, int h, int w);
    [LibraryImport(Lib)] public static partial int cudnnCreateConvolutionDescriptor(nint* desc);
    [LibraryImport(Lib)] public static partial int cudnnDestroyConvolutionDescriptor(nint desc);
    [LibraryImport(Lib)]
    public static partial int cudnnSetConvolution2dDescriptor(nint desc, int padH, int padW, int strideH, int strideW,
        int dilationH, int dilationW, int mode, int computeType);
    [LibraryImport(Lib)] public static partial int cudnnSetConvolutionMathType(nint desc, int mathType);
    [LibraryImport(Lib)] public static partial int cudnnGetConvolution2dForwardOutputDim(nint conv, nint x, nint w, int* n, int* c, int* h, int* wOut);
    [LibraryImport(Lib)] public static partial int cudnnCreateActivationDescriptor(nint* desc);
    [LibraryImport(Lib)] public static partial int cudnnDestroyActivationDescriptor(nint desc);
    [LibraryImport(Lib)] public static partial int cudnnSetActivationDescriptor(nint desc, int mode, int nanPropagation, double coef);
    [LibraryImport(Lib)]
    public static partial int cudnnGetConvolutionForwardAlgorithm_v7(nint handle, nint x, nint w, nint conv, nint y,
        int requested, int* returned, ConvFwdAlgoPerf* results);
    [LibraryImport(Lib)]
    public static partial int cudnnFindConvolutionForwardAlgorithmEx(nint handle, nint xDesc, ulong x, nint wDesc, ulong w, nint conv,
        nint yDesc, ulong y, int requested, int* returned, ConvFwdAlgoPerf* results, ulong workspace, nuint workspaceBytes);
    [LibraryImport(Lib)]
    public static partial int cudnnGetConvolutionForwardWorkspaceSize(nint handle, nint x, nint w, nint conv, nint y, int algo, nuint* bytes);
    [LibraryImport(Lib)]
    public static partial int cudnnConvolutionForward(nint handle, void* alpha, nint xDesc, ulong x, nint wDesc, ulong w, nint conv,
        int algo, ulong workspace, nuint workspaceBytes, void* beta, nint yDesc, ulong y);
    [LibraryImport(Lib)]
    public static partial int cudnnConvolutionBiasActivationForward(nint handle, void* alpha1, nint xDesc, ulong x, nint wDesc, ulong w,
        nint conv, int algo, ulong workspace, nuint workspaceBytes, void* alpha2, nint zDesc, ulong z, nint biasDesc, ulong bias,
        nint activationDesc, nint yDesc, ulong y);

    /// <summary>Throws <see cref="CudnnException"/> with cudnnGetErrorString's name for the status.</summary>
    public static void Check(int status, string call)
    {
        if (status == 0) return;
        var p = cudnnGetErrorString(status);
        var name = p == null ? $"CUDNN_STATUS_{status}" : Marshal.PtrToStringUTF8((nint)p)!;
        throw new CudnnException(call, status, name, "see the cuDNN API reference for this status");
    }
}

/// <summary>
/// cuDNN backend (graph) API entry points, bound so the graph path can be measured against the legacy API on a GPU
/// (the choice is deferred to that measurement). Descriptor types, attribute names and types are plain ints here; the
/// caller takes them from cudnn_backend.h / cudnn_graph.h when it builds a graph.
/// </summary>
internal static unsafe partial class CudnnBackendApi
{
    static CudnnBackendApi() => NativeLibraries.EnsureInstalled();

    private const string Lib = NativeLibraries.Cudnn;

    [LibraryImport(Lib)] public static partial int cudnnBackendCreateDescriptor(int descriptorType, nint* descriptor);
    [LibraryImport(Lib)] public static partial int cudnnBackendDestroyDescriptor(nint descriptor);
    [LibraryImport(Lib)] public static partial int cudnnBackendFinalize(nint descriptor);
    [LibraryImport(Lib)]
    public static partial int cudnnBackendSetAttribute(nint descriptor, int attributeName, int attributeType, long elementCount, void* elements);
    [LibraryImport(Lib)]
    public static partial int cudnnBackendGetAttribute(nint descriptor, int attributeName, int attributeType, long requestedCount,
        long* elementCount, void* elements);
    [LibraryImport(Lib)] public static partial int cudnnBackendExecute(nint handle, nint executionPlan, nint variantPack);
}
