using FastIF.Native;
using FastIF.Runtime;
using static FastIF.Native.CublasLtApi;
using static FastIF.Native.CudnnApi;

namespace FastIF.Tests.Cuda;

/// <summary>cuBLASLt GEMM and cuDNN convolution against naive CPU references (GPU only).</summary>
[Collection("gpu")]
public unsafe class GpuLibraryTests
{
    // ---- cuBLASLt: y[M,N] = x[M,K] · w[N,K]ᵀ + bias[N] (row-major, PyTorch Linear) ----

    private static float[] LinearReference(float[] x, float[] w, float[] bias, int m, int n, int k, bool gelu)
    {
        var y = new float[m * n];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double s = bias[j];
                for (int t = 0; t < k; t++) s += (double)x[i * k + t] * w[j * k + t];
                // cuBLASLt's GELU epilogue is the tanh approximation.
                if (gelu) s = 0.5 * s * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (s + 0.044715 * s * s * s)));
                y[i * n + j] = (float)s;
            }
        return y;
    }

    private static float[] LtLinear(CudaContext ctx, float[] x, float[] w, float[] bias, int m, int n, int k, bool half, int epilogue)
    {
        int type = half ? CUDA_R_16F : CUDA_R_32F;
        DeviceMemory Up(float[] a, string label) => half ? Gpu.Upload(ctx, Gpu.ToHalfBits(a), label) : Gpu.Upload(ctx, a, label);
        using var dx = Up(x, "gemm x");
        using var dw = Up(w, "gemm w");
        using var db = Up(bias, "gemm bias");
        using var dy = ctx.Allocate((long)m * n * (half ? 2 : 4), "gemm y");
        const long workspaceBytes = 32L << 20;
        using var workspace = ctx.Allocate(workspaceBytes, "cublasLt workspace");
        using var stream = ctx.CreateStream();
        using var handle = CublasLtHandle.Create();
        using var desc = CublasLtMatmulDesc.Create(CUBLAS_COMPUTE_32F, CUDA_R_32F);
        // Row-major y = x·wᵀ is column-major yᵀ(N×M) = op(A)·op(B) with A = w viewed as K×N (transposed) and B = x viewed as K×M.
        desc.Set(CUBLASLT_MATMUL_DESC_TRANSA, CUBLAS_OP_T);
        desc.Set(CUBLASLT_MATMUL_DESC_TRANSB, CUBLAS_OP_N);
        desc.Set(CUBLASLT_MATMUL_DESC_EPILOGUE, epilogue);
        desc.SetPointer(CUBLASLT_MATMUL_DESC_BIAS_POINTER, db.Pointer);
        using var aLayout = CublasLtMatrixLayout.Create(type, k, n, k);
        using var bLayout = CublasLtMatrixLayout.Create(type, k, m, k);
        using var cLayout = CublasLtMatrixLayout.Create(type, n, m, n);
        using var pref = CublasLtPreference.Create(workspaceBytes);
        HeuristicResult result;
        int found;
        CublasLtApi.Check(cublasLtMatmulAlgoGetHeuristic(handle.Value, desc.Value, aLayout.Value, bLayout.Value, cLayout.Value, cLayout.Value,
            pref.Value, 1, &result, &found), "cublasLtMatmulAlgoGetHeuristic");
        Assert.True(found > 0, "cuBLASLt offered no algorithm");
        float alpha = 1f, beta = 0f;
        CublasLtApi.Check(cublasLtMatmul(handle.Value, desc.Value, &alpha, dw.Pointer, aLayout.Value, dx.Pointer, bLayout.Value, &beta,
            dy.Pointer, cLayout.Value, dy.Pointer, cLayout.Value, &result.Algo, workspace.Pointer, (nuint)workspaceBytes, stream.Value), "cublasLtMatmul");
        stream.Synchronize();
        return half ? Gpu.FromHalfBits(Gpu.Download<ushort>(ctx, dy, m * n)) : Gpu.Download<float>(ctx, dy, m * n);
    }

    [Theory]
    [InlineData(false, false, 1e-5)]
    [InlineData(true, false, 1e-3)]
    [InlineData(false, true, 1e-4)]
    public void CublasLtLinearMatchesCpu(bool half, bool gelu, double tolerance)
    {
        var ctx = Gpu.Context;
        Gpu.Require(NativeLibraries.CublasLt);
        const int m = 64, n = 96, k = 80;
        var x = Gpu.Random(m * k, out int seed);
        var w = Gpu.Random(n * k, out _);
        var bias = Gpu.Random(n, out _);
        if (half) (x, w, bias) = (Gpu.RoundHalf(x), Gpu.RoundHalf(w), Gpu.RoundHalf(bias));
        var got = LtLinear(ctx, x, w, bias, m, n, k, half, gelu ? CUBLASLT_EPILOGUE_GELU_BIAS : CUBLASLT_EPILOGUE_BIAS);
        Gpu.AssertClose(got, LinearReference(x, w, bias, m, n, k, gelu), tolerance, $"cuBLASLt {(half ? "fp16" : "fp32")}{(gelu ? "+GELU" : "")} (seed {seed})");
    }

    // ---- cuDNN: 3×3 stride-1 pad-1 cross-correlation, NCHW ----

    private static float[] ConvReference(float[] x, float[] w, float[]? bias, int b, int c, int h, int wd, int k)
    {
        var y = new float[b * k * h * wd];
        for (int bi = 0; bi < b; bi++)
            for (int o = 0; o < k; o++)
                for (int i = 0; i < h; i++)
                    for (int j = 0; j < wd; j++)
                    {
                        double s = bias?[o] ?? 0;
                        for (int ci = 0; ci < c; ci++)
                            for (int r = 0; r < 3; r++)
                                for (int q = 0; q < 3; q++)
                                {
                                    int ii = i + r - 1, jj = j + q - 1;
                                    if (ii < 0 || jj < 0 || ii >= h || jj >= wd) continue;
                                    s += (double)x[((bi * c + ci) * h + ii) * wd + jj] * w[((o * c + ci) * 3 + r) * 3 + q];
                                }
                        y[((bi * k + o) * h + i) * wd + j] = (float)s;
                    }
        return y;
    }

    [Theory]
    [InlineData(false, false, 1e-5)]
    [InlineData(true, false, 1e-3)]
    [InlineData(false, true, 1e-5)]
    public void CudnnConv3x3MatchesCpu(bool half, bool fusedBias, double tolerance)
    {
        var ctx = Gpu.Context;
        Gpu.Require(NativeLibraries.Cudnn);
        const int b = 2, c = 8, h = 12, wd = 12, k = 16;
        var x = Gpu.Random(b * c * h * wd, out int seed);
        var w = Gpu.Random(k * c * 9, out _);
        var bias = Gpu.Random(k, out _);
        if (half) (x, w) = (Gpu.RoundHalf(x), Gpu.RoundHalf(w));
        int dataType = half ? CUDNN_DATA_HALF : CUDNN_DATA_FLOAT;
        int math = half ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH; // FMA keeps fp32 free of TF32 rounding

        using var handle = CudnnHandle.Create();
        using var stream = ctx.CreateStream();
        CudnnApi.Check(cudnnSetStream(handle.Value, stream.Value), "cudnnSetStream");
        using var xDesc = CudnnDescriptor.Create(CudnnDescriptorKind.Tensor);
        using var yDesc = CudnnDescriptor.Create(CudnnDescriptorKind.Tensor);
        using var wDesc = CudnnDescriptor.Create(CudnnDescriptorKind.Filter);
        using var conv = CudnnDescriptor.Create(CudnnDescriptorKind.Convolution);
        CudnnApi.Check(cudnnSetTensor4dDescriptor(xDesc.Value, CUDNN_TENSOR_NCHW, dataType, b, c, h, wd), "cudnnSetTensor4dDescriptor(x)");
        CudnnApi.Check(cudnnSetFilter4dDescriptor(wDesc.Value, dataType, CUDNN_TENSOR_NCHW, k, c, 3, 3), "cudnnSetFilter4dDescriptor");
        CudnnApi.Check(cudnnSetConvolution2dDescriptor(conv.Value, 1, 1, 1, 1, 1, 1, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT), "cudnnSetConvolution2dDescriptor");
        CudnnApi.Check(cudnnSetConvolutionMathType(conv.Value, math), "cudnnSetConvolutionMathType");
        int on, oc, oh, ow;
        CudnnApi.Check(cudnnGetConvolution2dForwardOutputDim(conv.Value, xDesc.Value, wDesc.Value, &on, &oc, &oh, &ow), "cudnnGetConvolution2dForwardOutputDim");
        Assert.Equal((b, k, h, wd), (on, oc, oh, ow));
        CudnnApi.Check(cudnnSetTensor4dDescriptor(yDesc.Value, CUDNN_TENSOR_NCHW, dataType, b, k, h, wd), "cudnnSetTensor4dDescriptor(y)");

        int algo;
        if (fusedBias)
            algo = CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM; // the only algorithm allowed with IDENTITY activation
        else
        {
            var perf = stackalloc ConvFwdAlgoPerf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
            int returned;
            CudnnApi.Check(cudnnGetConvolutionForwardAlgorithm_v7(handle.Value, xDesc.Value, wDesc.Value, conv.Value, yDesc.Value,
                CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &returned, perf), "cudnnGetConvolutionForwardAlgorithm_v7");
            int pick = -1;
            for (int i = 0; i < returned && pick < 0; i++) if (perf[i].Status == 0 && perf[i].MathType == math) pick = i;
            for (int i = 0; i < returned && pick < 0; i++) if (perf[i].Status == 0) pick = i;
            Assert.True(pick >= 0, $"cuDNN returned {returned} algorithms, none usable");
            algo = perf[pick].Algo;
            CudnnApi.Check(cudnnSetConvolutionMathType(conv.Value, perf[pick].MathType), "cudnnSetConvolutionMathType");
        }
        nuint wsBytes;
        CudnnApi.Check(cudnnGetConvolutionForwardWorkspaceSize(handle.Value, xDesc.Value, wDesc.Value, conv.Value, yDesc.Value, algo, &wsBytes),
            "cudnnGetConvolutionForwardWorkspaceSize");
        using var ws = ctx.Allocate(Math.Max(256, (long)wsBytes), "cudnn workspace");
        using var dx = half ? Gpu.Upload(ctx, Gpu.ToHalfBits(x), "conv x") : Gpu.Upload(ctx, x, "conv x");
        using var dw = half ? Gpu.Upload(ctx, Gpu.ToHalfBits(w), "conv w") : Gpu.Upload(ctx, w, "conv w");
        int outCount = b * k * h * wd;
        using var dy = ctx.Allocate((long)outCount * (half ? 2 : 4), "conv y");
        float alpha = 1f, beta = 0f;
        if (fusedBias)
        {
            using var biasDesc = CudnnDescriptor.Create(CudnnDescriptorKind.Tensor);
            using var act = CudnnDescriptor.Create(CudnnDescriptorKind.Activation);
            using var db = Gpu.Upload(ctx, bias, "conv bias");
            CudnnApi.Check(cudnnSetTensor4dDescriptor(biasDesc.Value, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 1, k, 1, 1), "cudnnSetTensor4dDescriptor(bias)");
            CudnnApi.Check(cudnnSetActivationDescriptor(act.Value, CUDNN_ACTIVATION_IDENTITY, CUDNN_PROPAGATE_NAN, 0.0), "cudnnSetActivationDescriptor");
            CudnnApi.Check(cudnnConvolutionBiasActivationForward(handle.Value, &alpha, xDesc.Value, dx.Pointer, wDesc.Value, dw.Pointer, conv.Value, algo,
                ws.Pointer, (nuint)ws.Bytes, &beta, yDesc.Value, dy.Pointer, biasDesc.Value, db.Pointer, act.Value, yDesc.Value, dy.Pointer),
                "cudnnConvolutionBiasActivationForward");
        }
        else
        {
            CudnnApi.Check(cudnnConvolutionForward(handle.Value, &alpha, xDesc.Value, dx.Pointer, wDesc.Value, dw.Pointer, conv.Value, algo,
                ws.Pointer, (nuint)ws.Bytes, &beta, yDesc.Value, dy.Pointer), "cudnnConvolutionForward");
        }
        stream.Synchronize();
        var got = half ? Gpu.FromHalfBits(Gpu.Download<ushort>(ctx, dy, outCount)) : Gpu.Download<float>(ctx, dy, outCount);
        Gpu.AssertClose(got, ConvReference(x, w, fusedBias ? bias : null, b, c, h, wd, k), tolerance,
            $"cuDNN conv {(half ? "fp16" : "fp32")}{(fusedBias ? "+bias" : "")} algo {algo} (seed {seed})");
    }

    [Fact]
    public void CudnnBackendDescriptorCanBeCreated()
    {
        _ = Gpu.Context;
        Gpu.Require(NativeLibraries.Cudnn);
        Gpu.SkipOnEmulator("the emulator refuses cuDNN's graph API, which FastIF's ops do not use");
        // cudnnBackendDescriptorType_t CUDNN_BACKEND_POINTWISE_DESCRIPTOR = 11 (cudnn_backend.h v8 / cudnn_graph.h v9).
        using var d = CudnnBackendDescriptor.Create(11);
        Assert.False(d.IsInvalid);
    }
}
