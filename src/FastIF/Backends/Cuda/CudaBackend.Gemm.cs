using FastIF.Native;
using FastIF.Tensors;
using static FastIF.Native.CublasLtApi;

namespace FastIF.Backends.Cuda;

// Linear layers through cuBLASLt with the bias fused in its epilogue. cuBLASLt's own GELU epilogue is a tanh
// approximation whose exact form is not documented, and IF's UNet uses the exact erf GELU, so both GELUs run as one
// separate in-place kernel held to the CPU reference.
public sealed unsafe partial class CudaBackend
{
    private readonly Dictionary<GemmKey, GemmPlan> _gemmPlans = [];

    /// <summary>One linear GEMM shape: the weight's row stride (<see cref="GemmPlans.Linear(long, int, int, int)"/>) and the
    /// alignment of each matrix's first element included (cuBLASLt assumes 256 bytes unless told, and a column block of a
    /// weight, or any view at an offset, may start anywhere).</summary>
    private readonly record struct GemmKey(long Rows, int In, int Out, bool Bias, int WeightLd, GemmAlignment Align);

    /// <summary>The byte alignment (a power of two, at most 256) of the first element of A (weight), B (input), C and D (output).</summary>
    private readonly record struct GemmAlignment(int A, int B, int C, int D)
    {
        public static GemmAlignment Of(ulong a, ulong b, ulong c, ulong d) => new(Bytes(a), Bytes(b), Bytes(c), Bytes(d));

        /// <summary>The largest power of two up to 256 dividing <paramref name="p"/>.</summary>
        public static int Bytes(ulong p) => p == 0 ? 256 : (int)Math.Min(256UL, p & (~p + 1));

        public void ApplyTo(CublasLtPreference pref)
        {
            // Only what falls below the default is stated, so the common all-256 case keeps the library's defaults.
            if (A < 256) pref.SetMinAlignment(CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, (uint)A);
            if (B < 256) pref.SetMinAlignment(CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, (uint)B);
            if (C < 256) pref.SetMinAlignment(CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, (uint)C);
            if (D < 256) pref.SetMinAlignment(CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, (uint)D);
        }
    }

    /// <summary>The cuBLASLt descriptors and the heuristic's algorithm for one linear-layer shape.</summary>
    private sealed class GemmPlan
    {
        public CublasLtMatmulDesc? Desc;
        public CublasLtMatrixLayout? A, B, C;
        public MatmulAlgo Algo;
        public nuint WorkspaceBytes;

        public void Destroy()
        {
            Desc?.Dispose();
            A?.Dispose();
            B?.Dispose();
            C?.Dispose();
            Desc = null;
            A = B = C = null;
        }
    }

    private int CudaType => Precision switch { DType.F32 => CUDA_R_32F, DType.F16 => CUDA_R_16F, _ => CUDA_R_16BF };

    /// <inheritdoc/>
    public Tensor Linear(Tensor x, Tensor w, Tensor? bias, Activation act = Activation.None, Tensor? residual = null)
    {
        var xs = Act(x, "Linear input");
        var ws = Act(w, "Linear weight");
        RequireRank(w, 2, "Linear weight");
        if (x.Shape.Rank == 4) throw new ShapeException("Linear: images are not supported (tokens or vectors only)");
        int inF = w.Shape[1], outF = w.Shape[0];
        if (x.Shape[-1] != inF) throw new ShapeException($"Linear: input {x.Shape} has width {x.Shape[-1]}, weight {w.Shape} expects {inF}");
        ulong b = 0;
        if (bias != null)
        {
            if (bias.Shape.Elements != outF) throw new ShapeException($"Linear: bias {bias.Shape} for {outF} outputs");
            b = Act(bias, "Linear bias").Pointer;
        }
        var dims = x.Shape.ToArray();
        dims[^1] = outF;
        var y = New(new Shape(dims));
        LinearShape.CheckResidual(residual, y.Shape, act);
        ulong r = residual == null ? 0 : Act(residual, "Linear residual").Pointer;
        long rows = x.Shape.Elements / inF;
        if (rows == 0) return y;
        // A residual is cuBLASLt's C (β = 1) beside the output D: the GEMM reads it once as it writes y.
        LinearGemm(rows, inF, outF, ws.Pointer, inF, xs.Pointer, b, y.Pointer, r == 0 ? 0f : 1f, $"{x.Shape} x {w.Shape}ᵀ", r);
        if (act != Activation.None) Gelu(y.Pointer, y.Pointer, y.Shape.Elements, act);
        return y;
    }

    /// <summary>
    /// <c>y[rows, out] = x[rows, in]·Wᵀ (+ bias) + β·c</c> for row-major device matrices, W's rows <paramref name="weightLd"/>
    /// elements apart (a column block of a wider weight, used in place), c = <paramref name="c"/> (laid out like y) or y
    /// itself when 0. Queues one cublasLtMatmul; allocates nothing.
    /// </summary>
    internal void LinearGemm(long rows, int inF, int outF, ulong w, int weightLd, ulong x, ulong bias, ulong y, float beta, string what,
        ulong c = 0)
    {
        var plan = GemmPlanFor(new GemmKey(rows, inF, outF, bias != 0, weightLd, GemmAlignment.Of(w, x, c == 0 ? y : c, y)));
        if (bias != 0) plan.Desc!.SetPointer(CUBLASLT_MATMUL_DESC_BIAS_POINTER, bias);
        float alpha = 1f;
        var algo = plan.Algo;
        Check(cublasLtMatmul(_cublasLt, plan.Desc!.Value, &alpha, w, plan.A!.Value, x, plan.B!.Value, &beta,
            c == 0 ? y : c, plan.C!.Value, y, plan.C.Value, &algo, _workspace.Pointer, plan.WorkspaceBytes, Stream.Value),
            $"cublasLtMatmul({what})");
    }

    private GemmPlan GemmPlanFor(GemmKey k)
    {
        if (_gemmPlans.TryGetValue(k, out var plan)) return plan;
        plan = new GemmPlan();
        try
        {
            // GemmPlans.Linear: column-major yᵀ = op(W)·xᵀ, op(W) = T. cuBLASLt layouts describe the stored matrices.
            var g = GemmPlans.Linear(k.Rows, k.In, k.Out, k.WeightLd);
            plan.Desc = CublasLtMatmulDesc.Create(CUBLAS_COMPUTE_32F, CUDA_R_32F);
            plan.Desc.Set(CUBLASLT_MATMUL_DESC_TRANSA, g.TransA ? CUBLAS_OP_T : CUBLAS_OP_N);
            plan.Desc.Set(CUBLASLT_MATMUL_DESC_TRANSB, g.TransB ? CUBLAS_OP_T : CUBLAS_OP_N);
            plan.Desc.Set(CUBLASLT_MATMUL_DESC_EPILOGUE, k.Bias ? CUBLASLT_EPILOGUE_BIAS : CUBLASLT_EPILOGUE_DEFAULT);
            int t = CudaType;
            plan.A = CublasLtMatrixLayout.Create(t, g.TransA ? g.K : g.M, g.TransA ? g.M : g.K, g.Lda);
            plan.B = CublasLtMatrixLayout.Create(t, g.TransB ? g.N : g.K, g.TransB ? g.K : g.N, g.Ldb);
            plan.C = CublasLtMatrixLayout.Create(t, g.M, g.N, g.Ldc);
            using var pref = CublasLtPreference.Create((ulong)_workspace.Bytes);
            k.Align.ApplyTo(pref);
            // The heuristic needs a valid bias pointer when the epilogue reads one; the workspace serves as a stand-in.
            if (k.Bias) plan.Desc.SetPointer(CUBLASLT_MATMUL_DESC_BIAS_POINTER, _workspace.Pointer);
            HeuristicResult r;
            int found;
            Check(cublasLtMatmulAlgoGetHeuristic(_cublasLt, plan.Desc.Value, plan.A.Value, plan.B.Value, plan.C.Value, plan.C.Value,
                pref.Value, 1, &r, &found), $"cublasLtMatmulAlgoGetHeuristic({k})");
            if (found == 0) throw new FastIFException($"cuBLASLt offers no algorithm for linear {k} in {Precision}");
            plan.Algo = r.Algo;
            plan.WorkspaceBytes = r.WorkspaceSize;
        }
        catch
        {
            plan.Destroy();
            throw;
        }
        _gemmPlans[k] = plan;
        return plan;
    }
}
