namespace FastIF.Native;

/// <summary>A cuBLASLt handle (cublasLtCreate / cublasLtDestroy).</summary>
public sealed unsafe class CublasLtHandle : CudaHandle
{
    private CublasLtHandle(nint h) : base(h, 0) { }

    /// <summary>Creates a handle (needs a current CUDA context).</summary>
    public static CublasLtHandle Create()
    {
        nint h;
        CublasLtApi.Check(CublasLtApi.cublasLtCreate(&h), "cublasLtCreate");
        return new CublasLtHandle(h);
    }

    /// <inheritdoc/>
    protected override int Destroy(nint value) => CublasLtApi.cublasLtDestroy(value);
}

/// <summary>A cublasLtMatmulDesc_t.</summary>
public sealed unsafe class CublasLtMatmulDesc : CudaHandle
{
    private CublasLtMatmulDesc(nint h) : base(h, 0) { }

    /// <summary>Creates a descriptor for a compute type (cublasComputeType_t) and scale type (cudaDataType_t).</summary>
    public static CublasLtMatmulDesc Create(int computeType, int scaleType)
    {
        nint h;
        CublasLtApi.Check(CublasLtApi.cublasLtMatmulDescCreate(&h, computeType, scaleType), "cublasLtMatmulDescCreate");
        return new CublasLtMatmulDesc(h);
    }

    /// <summary>Sets an int32 attribute (transa/transb/epilogue…).</summary>
    public void Set(int attribute, int value) =>
        CublasLtApi.Check(CublasLtApi.cublasLtMatmulDescSetAttribute(Value, attribute, &value, sizeof(int)), $"cublasLtMatmulDescSetAttribute({attribute})");

    /// <summary>Sets a pointer attribute (bias pointer…).</summary>
    public void SetPointer(int attribute, ulong pointer) =>
        CublasLtApi.Check(CublasLtApi.cublasLtMatmulDescSetAttribute(Value, attribute, &pointer, sizeof(ulong)), $"cublasLtMatmulDescSetAttribute({attribute})");

    /// <inheritdoc/>
    protected override int Destroy(nint value) => CublasLtApi.cublasLtMatmulDescDestroy(value);
}

/// <summary>A cublasLtMatrixLayout_t (column-major unless its order attribute is changed).</summary>
public sealed unsafe class CublasLtMatrixLayout : CudaHandle
{
    private CublasLtMatrixLayout(nint h) : base(h, 0) { }

    /// <summary>Creates a layout of <paramref name="rows"/>×<paramref name="cols"/> elements of <paramref name="dataType"/> with leading dimension <paramref name="ld"/>.</summary>
    public static CublasLtMatrixLayout Create(int dataType, long rows, long cols, long ld)
    {
        nint h;
        CublasLtApi.Check(CublasLtApi.cublasLtMatrixLayoutCreate(&h, dataType, (ulong)rows, (ulong)cols, ld), "cublasLtMatrixLayoutCreate");
        return new CublasLtMatrixLayout(h);
    }

    /// <inheritdoc/>
    protected override int Destroy(nint value) => CublasLtApi.cublasLtMatrixLayoutDestroy(value);
}

/// <summary>A cublasLtMatmulPreference_t.</summary>
public sealed unsafe class CublasLtPreference : CudaHandle
{
    private CublasLtPreference(nint h) : base(h, 0) { }

    /// <summary>Creates a preference allowing up to <paramref name="maxWorkspaceBytes"/> of workspace.</summary>
    public static CublasLtPreference Create(ulong maxWorkspaceBytes)
    {
        nint h;
        CublasLtApi.Check(CublasLtApi.cublasLtMatmulPreferenceCreate(&h), "cublasLtMatmulPreferenceCreate");
        var pref = new CublasLtPreference(h);
        CublasLtApi.Check(CublasLtApi.cublasLtMatmulPreferenceSetAttribute(h, CublasLtApi.CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
            &maxWorkspaceBytes, sizeof(ulong)), "cublasLtMatmulPreferenceSetAttribute(MAX_WORKSPACE_BYTES)");
        return pref;
    }

    /// <summary>Sets a minimum-alignment attribute (uint32 bytes): the heuristic then offers only algorithms that work with it.</summary>
    public void SetMinAlignment(int attribute, uint bytes) =>
        CublasLtApi.Check(CublasLtApi.cublasLtMatmulPreferenceSetAttribute(Value, attribute, &bytes, sizeof(uint)),
            $"cublasLtMatmulPreferenceSetAttribute({attribute})");

    /// <inheritdoc/>
    protected override int Destroy(nint value) => CublasLtApi.cublasLtMatmulPreferenceDestroy(value);
}

/// <summary>A classic cuBLAS handle (cublasCreate_v2 / cublasDestroy_v2).</summary>
public sealed unsafe class CublasHandle : CudaHandle
{
    private CublasHandle(nint h) : base(h, 0) { }

    /// <summary>Creates a handle (needs a current CUDA context).</summary>
    public static CublasHandle Create()
    {
        nint h;
        CublasLtApi.Check(CublasApi.cublasCreate_v2(&h), "cublasCreate_v2");
        return new CublasHandle(h);
    }

    /// <inheritdoc/>
    protected override int Destroy(nint value) => CublasApi.cublasDestroy_v2(value);
}

/// <summary>Which cuDNN descriptor a <see cref="CudnnDescriptor"/> owns.</summary>
public enum CudnnDescriptorKind
{
    /// <summary>cudnnTensorDescriptor_t.</summary>
    Tensor,
    /// <summary>cudnnFilterDescriptor_t.</summary>
    Filter,
    /// <summary>cudnnConvolutionDescriptor_t.</summary>
    Convolution,
    /// <summary>cudnnActivationDescriptor_t.</summary>
    Activation,
}

/// <summary>A cuDNN handle (cudnnCreate / cudnnDestroy).</summary>
public sealed unsafe class CudnnHandle : CudaHandle
{
    private CudnnHandle(nint h) : base(h, 0) { }

    /// <summary>Creates a handle (needs a current CUDA context).</summary>
    public static CudnnHandle Create()
    {
        nint h;
        CudnnApi.Check(CudnnApi.cudnnCreate(&h), "cudnnCreate");
        return new CudnnHandle(h);
    }

    /// <inheritdoc/>
    protected override int Destroy(nint value) => CudnnApi.cudnnDestroy(value);
}

/// <summary>A legacy-API cuDNN descriptor of one <see cref="CudnnDescriptorKind"/>.</summary>
public sealed unsafe class CudnnDescriptor : CudaHandle
{
    private CudnnDescriptor(nint h, CudnnDescriptorKind kind) : base(h, 0) => Kind = kind;

    /// <summary>What kind of descriptor this is.</summary>
    public CudnnDescriptorKind Kind { get; }

    /// <summary>Creates an empty descriptor of <paramref name="kind"/>.</summary>
    public static CudnnDescriptor Create(CudnnDescriptorKind kind)
    {
        nint h;
        var (rc, call) = kind switch
        {
            CudnnDescriptorKind.Tensor => (CudnnApi.cudnnCreateTensorDescriptor(&h), "cudnnCreateTensorDescriptor"),
            CudnnDescriptorKind.Filter => (CudnnApi.cudnnCreateFilterDescriptor(&h), "cudnnCreateFilterDescriptor"),
            CudnnDescriptorKind.Convolution => (CudnnApi.cudnnCreateConvolutionDescriptor(&h), "cudnnCreateConvolutionDescriptor"),
            _ => (CudnnApi.cudnnCreateActivationDescriptor(&h), "cudnnCreateActivationDescriptor"),
        };
        CudnnApi.Check(rc, call);
        return new CudnnDescriptor(h, kind);
    }

    /// <inheritdoc/>
    protected override int Destroy(nint value) => Kind switch
    {
        CudnnDescriptorKind.Tensor => CudnnApi.cudnnDestroyTensorDescriptor(value),
        CudnnDescriptorKind.Filter => CudnnApi.cudnnDestroyFilterDescriptor(value),
        CudnnDescriptorKind.Convolution => CudnnApi.cudnnDestroyConvolutionDescriptor(value),
        _ => CudnnApi.cudnnDestroyActivationDescriptor(value),
    };
}

/// <summary>A cuDNN backend (graph API) descriptor (cudnnBackendCreateDescriptor / cudnnBackendDestroyDescriptor).</summary>
public sealed unsafe class CudnnBackendDescriptor : CudaHandle
{
    private CudnnBackendDescriptor(nint h) : base(h, 0) { }

    /// <summary>Creates a backend descriptor of the given cudnnBackendDescriptorType_t value.</summary>
    public static CudnnBackendDescriptor Create(int descriptorType)
    {
        nint h;
        CudnnApi.Check(CudnnBackendApi.cudnnBackendCreateDescriptor(descriptorType, &h), $"cudnnBackendCreateDescriptor({descriptorType})");
        return new CudnnBackendDescriptor(h);
    }

    /// <inheritdoc/>
    protected override int Destroy(nint value) => CudnnBackendApi.cudnnBackendDestroyDescriptor(value);
}
