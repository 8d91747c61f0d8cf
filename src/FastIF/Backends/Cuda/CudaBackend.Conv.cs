using FastIF.Native;
using FastIF.Tensors;

namespace FastIF.Backends.Cuda;

// Convolutions through cuDNN's convolution forward on channels-last data, the algorithm measured once per shape
// (cudnnFind), then one epilogue kernel for bias, residual and output scale.
public sealed unsafe partial class CudaBackend
{
    private readonly Dictionary<ConvKey, ConvPlan> _convPlans = [];

    private readonly record struct ConvKey(int N, int Cin, int H, int W, int Cout, int Kh, int Kw, int Pad);

    /// <summary>cuDNN descriptors and the chosen algorithm for one convolution shape.</summary>
    private sealed class ConvPlan
    {
        public nint X, Wt, Conv, Y;
        public int Algo;
        public nuint WorkspaceBytes;
        public string Describe = "";

        public void Destroy()
        {
            if (X != 0) CudnnApi.cudnnDestroyTensorDescriptor(X);
            if (Y != 0) CudnnApi.cudnnDestroyTensorDescriptor(Y);
            if (Wt != 0) CudnnApi.cudnnDestroyFilterDescriptor(Wt);
            if (Conv != 0) CudnnApi.cudnnDestroyConvolutionDescriptor(Conv);
            X = Y = Wt = Conv = 0;
        }
    }

    /// <summary>The convolution algorithms chosen so far, one line per shape (for profiles and reports).</summary>
    public IEnumerable<string> ConvolutionPlans => _convPlans.Select(kv => $"{kv.Key}: {kv.Value.Describe}");

    private int CudnnType => Precision switch
    {
        DType.F32 => CudnnApi.CUDNN_DATA_FLOAT,
        DType.F16 => CudnnApi.CUDNN_DATA_HALF,
        _ => CudnnApi.CUDNN_DATA_BFLOAT16,
    };

    /// <inheritdoc/>
    public Tensor Conv2d(Tensor x, Tensor w, Tensor? bias, int padding, Tensor? residual = null, float outScale = 1f,
        bool upsampledResidual = false)
    {
        var cs = ConvShape.Of(x, w, bias, padding, residual, upsampledResidual);
        var xs = Act(x, "Conv2d input");
        var ws = Act(w, "Conv2d weight");
        ulong b = bias == null ? 0 : Act(bias, "Conv2d bias").Pointer;
        ulong r = residual == null ? 0 : Act(residual, "Conv2d residual").Pointer;
        int n = cs.Batch, cin = cs.InChannels, h = cs.Height, wd = cs.Width, cout = cs.OutChannels, kh = cs.KernelH, kw = cs.KernelW;
        var y = New(cs.Output);
        var plan = ConvPlanFor(new ConvKey(n, cin, h, wd, cout, kh, kw, padding), xs, ws, y);
        float one = 1f, zero = 0f;
        CudnnApi.Check(CudnnApi.cudnnConvolutionForward(_cudnn, &one, plan.X, xs.Pointer, plan.Wt, ws.Pointer, plan.Conv, plan.Algo,
            _workspace.Pointer, plan.WorkspaceBytes, &zero, plan.Y, y.Pointer), $"cudnnConvolutionForward({x.Shape} * {w.Shape})");
        if (b != 0 || r != 0 || outScale != 1f)
            new KernelArgs().Ptr(y.Pointer).Ptr(b).Ptr(r).I64(y.Shape.Elements / cout).I32(cout).F32(outScale)
                .I32(y.Shape[2]).I32(y.Shape[3]).I32(upsampledResidual ? 1 : 0)
                .Launch(Fn("bias_residual"), PixelBlocks(y), ThreadsPerPixel(cout), Stream);
        return y;
    }

    private ConvPlan ConvPlanFor(ConvKey k, CudaTensor x, CudaTensor w, CudaTensor y)
    {
        if (_convPlans.TryGetValue(k, out var plan)) return plan;
        plan = new ConvPlan();
        try
        {
            int dt = CudnnType;
            nint d;
            CudnnApi.Check(CudnnApi.cudnnCreateTensorDescriptor(&d), "cudnnCreateTensorDescriptor");
            plan.X = d;
            CudnnApi.Check(CudnnApi.cudnnSetTensor4dDescriptor(plan.X, CudnnApi.CUDNN_TENSOR_NHWC, dt, k.N, k.Cin, k.H, k.W), "cudnnSetTensor4dDescriptor(x)");
            CudnnApi.Check(CudnnApi.cudnnCreateFilterDescriptor(&d), "cudnnCreateFilterDescriptor");
            plan.Wt = d;
            CudnnApi.Check(CudnnApi.cudnnSetFilter4dDescriptor(plan.Wt, dt, CudnnApi.CUDNN_TENSOR_NHWC, k.Cout, k.Cin, k.Kh, k.Kw), "cudnnSetFilter4dDescriptor");
            CudnnApi.Check(CudnnApi.cudnnCreateConvolutionDescriptor(&d), "cudnnCreateConvolutionDescriptor");
            plan.Conv = d;
            CudnnApi.Check(CudnnApi.cudnnSetConvolution2dDescriptor(plan.Conv, k.Pad, k.Pad, 1, 1, 1, 1, CudnnApi.CUDNN_CROSS_CORRELATION,
                CudnnApi.CUDNN_DATA_FLOAT), "cudnnSetConvolution2dDescriptor");
            // fp32 stays true fp32 (FMA only, no TF32) so the backend can be held to the CPU reference at 1e-5.
            int math = Precision == DType.F32 ? CudnnApi.CUDNN_FMA_MATH : CudnnApi.CUDNN_TENSOR_OP_MATH;
            CudnnApi.Check(CudnnApi.cudnnSetConvolutionMathType(plan.Conv, math), "cudnnSetConvolutionMathType");
            CudnnApi.Check(CudnnApi.cudnnCreateTensorDescriptor(&d), "cudnnCreateTensorDescriptor");
            plan.Y = d;
            int on, oc, ohh, oww;
            CudnnApi.Check(CudnnApi.cudnnGetConvolution2dForwardOutputDim(plan.Conv, plan.X, plan.Wt, &on, &oc, &ohh, &oww), "cudnnGetConvolution2dForwardOutputDim");
            if (on != y.Shape[0] || oc != y.Shape[1] || ohh != y.Shape[2] || oww != y.Shape[3])
                throw new ShapeException($"cuDNN computes output [{on}, {oc}, {ohh}, {oww}] for {k}, expected {y.Shape}");
            CudnnApi.Check(CudnnApi.cudnnSetTensor4dDescriptor(plan.Y, CudnnApi.CUDNN_TENSOR_NHWC, dt, on, oc, ohh, oww), "cudnnSetTensor4dDescriptor(y)");

            const int want = CudnnApi.CUDNN_CONVOLUTION_FWD_ALGO_COUNT;
            var perf = stackalloc CudnnApi.ConvFwdAlgoPerf[want];
            int got;
            CudnnApi.Check(CudnnApi.cudnnFindConvolutionForwardAlgorithmEx(_cudnn, plan.X, x.Pointer, plan.Wt, w.Pointer, plan.Conv, plan.Y,
                y.Pointer, want, &got, perf, _workspace.Pointer, (nuint)_workspace.Bytes), $"cudnnFindConvolutionForwardAlgorithmEx({k})");
            int pick = -1;
            for (int i = 0; i < got && pick < 0; i++)
            {
                var p = perf[i];
                bool tensorOps = p.MathType is CudnnApi.CUDNN_TENSOR_OP_MATH or 2;
                if (p.Status == 0 && p.Memory <= (nuint)_workspace.Bytes && !(Precision == DType.F32 && tensorOps)) pick = i;
            }
            if (pick < 0)
                throw new FastIFException($"cuDNN found no usable forward algorithm for convolution {k} in {Precision} " +
                    $"({got} tried, workspace {_workspace.Bytes >> 20} MiB)");
            plan.Algo = perf[pick].Algo;
            plan.WorkspaceBytes = perf[pick].Memory;
            // fp32 keeps FMA math whatever the result reports: DEFAULT_MATH would let an Ampere+ GPU use TF32.
            int mathType = Precision == DType.F32 ? CudnnApi.CUDNN_FMA_MATH : perf[pick].MathType;
            CudnnApi.Check(CudnnApi.cudnnSetConvolutionMathType(plan.Conv, mathType), "cudnnSetConvolutionMathType");
            plan.Describe = $"algo {plan.Algo}, math {mathType}, {perf[pick].Time:F3} ms, workspace {(long)plan.WorkspaceBytes >> 10} KiB";
        }
        catch
        {
            plan.Destroy();
            throw;
        }
        _convPlans[k] = plan;
        return plan;
    }

    private void DisposePlans()
    {
        foreach (var p in _convPlans.Values) p.Destroy();
        _convPlans.Clear();
        foreach (var p in _gemmPlans.Values) p.Destroy();
        _gemmPlans.Clear();
    }
}
