using FastIF.Native;
using FastIF.Runtime;
using FastIF.Tensors;

namespace FastIF.Backends.Cuda;

/// <summary>Settings of a <see cref="CudaBackend"/>.</summary>
/// <param name="Precision">Storage type of weights and activations: F16 (default), BF16 or F32. Math is fp32 throughout.</param>
/// <param name="Device">CUDA device ordinal.</param>
/// <param name="WorkspaceBytes">Scratch memory shared by cuDNN and cuBLAS(Lt).</param>
/// <param name="AttentionKernel">How attention is computed: cuBLAS GEMMs around a softmax (default until the fused kernel is measured on a GPU) or the fused flash kernel.</param>
public sealed record CudaBackendOptions(DType Precision = DType.F16, int Device = 0, long WorkspaceBytes = 256L << 20,
    AttentionKernel AttentionKernel = AttentionKernel.Gemm);

/// <summary>
/// The GPU backend: the same op contract as <see cref="Cpu.CpuBackend"/>, on one CUDA stream. Convolutions go through
/// cuDNN (algorithm found once per shape), linear layers through cuBLASLt with the bias fused, attention through batched
/// cuBLAS GEMMs around a softmax kernel, everything else through FastIF's own NVRTC kernels (kernels/unet.cu, groupnorm.cu). Activations
/// are channels-last; weights are converted to the storage type and layout once, at load. Nothing here synchronizes
/// with the host except <see cref="ToHost"/> and <see cref="Synchronize"/>, so a forward pass can be captured as a graph.
/// </summary>
public sealed unsafe partial class CudaBackend : IBackend
{
    private const string Kernels = "unet.cu";
    private readonly KernelCache _kernels;
    private readonly DevicePool _defaultPool;
    private DevicePool _pool;
    private readonly DeviceMemory _workspace;
    private nint _cudnn, _cublas, _cublasLt;
    private PinnedUploader? _uploader;
    private bool _disposed;

    /// <summary>Opens device <see cref="CudaBackendOptions.Device"/>; throws <see cref="FastIFException"/> when there is none.</summary>
    public CudaBackend(CudaBackendOptions? options = null)
    {
        Options = options ?? new CudaBackendOptions();
        if (Options.Precision is not (DType.F16 or DType.BF16 or DType.F32))
            throw new FastIFException($"cuda precision must be fp16, bf16 or fp32, not {Options.Precision}");
        if (!NativeLibraries.IsAvailable(NativeLibraries.Cuda))
            throw new FastIFException("--backend cuda: no CUDA driver (libcuda.so.1) on this machine; use --backend cpu");
        if (CudaContext.DeviceCount() <= Options.Device)
            throw new FastIFException($"--backend cuda: no CUDA device {Options.Device} (found {CudaContext.DeviceCount()})");
        Context = CudaContext.Create(Options.Device);
        Stream = Context.CreateStream();
        _kernels = new KernelCache(Context);
        _defaultPool = _pool = new DevicePool(Context, "activations");
        _workspace = Context.Allocate(Options.WorkspaceBytes, "cuDNN/cuBLAS workspace");
        nint h;
        CudnnApi.Check(CudnnApi.cudnnCreate(&h), "cudnnCreate");
        _cudnn = h;
        CudnnApi.Check(CudnnApi.cudnnSetStream(_cudnn, Stream.Value), "cudnnSetStream");
        CublasLtApi.Check(CublasApi.cublasCreate_v2(&h), "cublasCreate_v2");
        _cublas = h;
        CublasLtApi.Check(CublasApi.cublasSetStream_v2(_cublas, Stream.Value), "cublasSetStream_v2");
        // A workspace of our own keeps cuBLAS from allocating while a graph is being captured.
        CublasLtApi.Check(CublasApi.cublasSetWorkspace_v2(_cublas, _workspace.Pointer, (nuint)_workspace.Bytes), "cublasSetWorkspace_v2");
        CublasLtApi.Check(CublasLtApi.cublasLtCreate(&h), "cublasLtCreate");
        _cublasLt = h;
    }

    /// <summary>The settings this backend was opened with.</summary>
    public CudaBackendOptions Options { get; }

    /// <summary>The device context.</summary>
    public CudaContext Context { get; }

    /// <summary>The one stream every op is queued on.</summary>
    public CudaStream Stream { get; }

    /// <summary>The storage type of activations and weights.</summary>
    public DType Precision => Options.Precision;

    /// <summary>The activation pool of eager (un-graphed) work, for memory reports.</summary>
    public DevicePool ActivationPool => _defaultPool;

    /// <inheritdoc/>
    public string Name => "cuda";

    /// <summary>Blocks until every queued op has finished.</summary>
    public void Synchronize() => Stream.Synchronize();

    /// <summary>Routes activation allocations to <paramref name="pool"/> until the returned scope is disposed (graph capture).</summary>
    public IDisposable UsePool(DevicePool pool)
    {
        var previous = _pool;
        _pool = pool;
        return new Restore(() => _pool = previous);
    }

    /// <summary>A new, empty pool on this device (for a graph's private scratch).</summary>
    public DevicePool CreatePool(string label) => new(Context, label);

    private sealed class Restore(Action undo) : IDisposable
    {
        private Action? _undo = undo;
        public void Dispose() { _undo?.Invoke(); _undo = null; }
    }

    internal CudaTensor New(Shape shape, DType? storage = null)
    {
        // Every op allocates its output before it launches anything, so this is where the calling thread gets the
        // context current: an embedding host may call from any thread.
        Context.MakeCurrent();
        var dt = storage ?? Precision;
        return new CudaTensor(this, shape, dt, _pool.Rent(shape.Elements * dt.Size(), $"tensor {shape}"));
    }

    private CudaTensor View(CudaTensor t, Shape shape) => new(this, shape, t.Storage, t.Buffer.AddRef());

    private CudaTensor Own(Tensor t, string what)
    {
        if (t is not CudaTensor c || !ReferenceEquals(t.Backend, this))
            throw new ShapeException($"{what}: expected a tensor of this cuda backend, got {t}");
        if (c.IsDisposed) throw new ObjectDisposedException(what, $"{what}: tensor {t.Shape} was disposed");
        return c;
    }

    /// <summary>An activation or weight in the backend's storage type (fp32-only inputs such as timesteps are refused).</summary>
    private CudaTensor Act(Tensor t, string what)
    {
        var c = Own(t, what);
        if (c.Storage != Precision) throw new ShapeException($"{what}: expected {Precision} storage, got {t}");
        return c;
    }

    private static void RequireRank(Tensor t, int rank, string what)
    {
        if (t.Shape.Rank != rank) throw new ShapeException($"{what}: expected rank {rank}, got {t.Shape}");
    }

    private string Suffix => Precision switch { DType.F32 => "f32", DType.F16 => "f16", _ => "bf16" };

    private CudaFunction Fn(string name) => _kernels.GetFunction(Kernels, $"fastif_{name}_{Suffix}");

    /// <summary>The storage type's kernel <paramref name="name"/> of another kernel file than unet.cu.</summary>
    private CudaFunction Fn(string name, string source) => _kernels.GetFunction(source, $"fastif_{name}_{Suffix}");

    private CudaFunction FnRaw(string name) => _kernels.GetFunction(Kernels, name);

    /// <summary>Grid of a per-pixel kernel over the channels-last image <paramref name="image"/>: a block per pixel, up to 32
    /// per SM, the kernel looping beyond (kernels/unet.cu decodes pixel coordinates in 32-bit arithmetic, once per pixel).</summary>
    private uint PixelBlocks(Tensor image)
    {
        long pixels = image.Shape.Elements / image.Shape[1];
        if (pixels > int.MaxValue) throw new ShapeException($"{image.Shape}: {pixels} pixels, more than the per-pixel kernels index");
        return (uint)Math.Max(1, Math.Min(pixels, (long)Context.MultiprocessorCount * 32));
    }

    /// <summary>Threads of a per-pixel kernel: one per channel, in whole warps, at most 256 (more channels loop).</summary>
    private static uint ThreadsPerPixel(int channels) => (uint)Math.Clamp((channels + 31) / 32 * 32, 32, 256);

    private uint Blocks(long n, int threads = 256) =>
        (uint)Math.Max(1, Math.Min((n + threads - 1) / threads, (long)Context.MultiprocessorCount * 32));

    internal static int TypeCode(DType t) => t switch
    {
        DType.F32 => 0,
        DType.F16 => 1,
        DType.BF16 => 2,
        _ => throw new FastIFException($"the cuda backend cannot hold {t} data"),
    };

    /// <summary>
    /// Converts <paramref name="src"/> (dtype, logical shape) into <paramref name="dst"/>: rank-4 data gets axis 1 moved last
    /// (<paramref name="toDevice"/>) or back (from device); other ranks are plain casts.
    /// </summary>
    private void Convert(ulong src, DType srcType, ulong dst, DType dstType, Shape shape, bool toDevice)
    {
        if (shape.Elements == 0) return;
        var g = ChannelsLast.For(shape, toDevice);
        new KernelArgs().Ptr(src).I32(TypeCode(srcType)).Ptr(dst).I32(TypeCode(dstType))
            .I64(g.D0).I64(g.D1).I64(g.D2).I64(g.D3).I64(g.S0).I64(g.S1).I64(g.S2).I64(g.S3)
            .Launch(FnRaw("fastif_convert4d"), Blocks(shape.Elements), 256, Stream);
    }

    /// <inheritdoc/>
    /// <remarks>Rank-1 data (timesteps, noise levels) stays fp32: fp16 and bf16 cannot hold every step number exactly.</remarks>
    public Tensor FromHost(ReadOnlySpan<float> data, Shape shape)
    {
        if (data.Length != shape.Elements)
            throw new ShapeException($"FromHost: {data.Length} values for shape {shape} ({shape.Elements} elements)");
        var y = New(shape, shape.Rank == 1 ? DType.F32 : Precision);
        if (data.Length == 0) return y;
        if (y.Storage == DType.F32 && shape.Rank != 4)
        {
            Upload(data, y.Pointer);
            return y;
        }
        using var staging = New(shape, DType.F32);
        Upload(data, staging.Pointer);
        Convert(staging.Pointer, DType.F32, y.Pointer, y.Storage, shape, toDevice: true);
        return y;
    }

    private void Upload(ReadOnlySpan<float> data, ulong dst)
    {
        Context.MakeCurrent();
        fixed (float* p = data)
            CudaDriver.Check(CudaDriver.cuMemcpyHtoDAsync_v2(dst, p, (nuint)(data.Length * 4L), Stream.Value), "cuMemcpyHtoDAsync_v2");
        // From pageable memory the copy is staged by the driver; waiting keeps `data` valid for as long as it is read.
        Stream.Synchronize();
    }

    /// <inheritdoc/>
    public void ToHost(Tensor t, Span<float> dest)
    {
        var c = Own(t, "ToHost");
        if (dest.Length != t.Shape.Elements)
            throw new ShapeException($"ToHost: destination holds {dest.Length} values, tensor {t.Shape} has {t.Shape.Elements}");
        if (dest.Length == 0) return;
        ulong src = c.Pointer;
        CudaTensor? staging = null;
        if (c.Storage != DType.F32 || t.Shape.Rank == 4)
        {
            staging = New(t.Shape, DType.F32);
            Convert(c.Pointer, c.Storage, staging.Pointer, DType.F32, t.Shape, toDevice: false);
            src = staging.Pointer;
        }
        Context.MakeCurrent();
        fixed (float* p = dest)
            CudaDriver.Check(CudaDriver.cuMemcpyDtoHAsync_v2(p, src, (nuint)(dest.Length * 4L), Stream.Value), "cuMemcpyDtoHAsync_v2");
        Stream.Synchronize();
        staging?.Dispose();
    }

    /// <inheritdoc/>
    public Tensor LoadWeight(ReadOnlySpan<byte> raw, DType dtype, Shape shape)
    {
        if (raw.Length != shape.Elements * dtype.Size())
            throw new ShapeException($"LoadWeight: {raw.Length} bytes for {dtype} {shape}");
        TypeCode(dtype);
        // Weights live as long as the model: exact-size allocations outside the activation pool.
        var mem = Context.Allocate(Math.Max(1, shape.Elements * Precision.Size()), $"weight {shape}");
        var y = new CudaTensor(this, shape, Precision, new DeviceBuffer(mem, null));
        if (raw.Length == 0) return y;
        _uploader ??= new PinnedUploader(Context, Stream);
        if (dtype == Precision && shape.Rank != 4)
        {
            _uploader.Upload(raw, y.Pointer);
            return y;
        }
        // Raw bytes land in a pooled device buffer and are converted from there; releasing it is stream-ordered, so the
        // conversion has read it before the pool lends it out again.
        var staging = _pool.Rent(raw.Length, "weight staging");
        try
        {
            _uploader.Upload(raw, staging.Pointer);
            Convert(staging.Pointer, dtype, y.Pointer, Precision, shape, toDevice: true);
        }
        finally { staging.Release(); }
        return y;
    }

    /// <inheritdoc/>
    /// <remarks>Weight staging is rented from the activation pool, whose free lists are keyed by exact size: without this,
    /// one block per distinct weight size (each as large as that weight) would stay cached after the load, counted as used device
    /// memory. Waits for the queued uploads, then frees every cached block (none is lent out by a load).</remarks>
    public void LoadFinished()
    {
        if (!ReferenceEquals(_pool, _defaultPool)) return;  // inside a graph's private pool nothing is loaded
        Stream.Synchronize();
        _pool.Trim();
    }

    /// <summary>Releases the libraries' handles, the workspace and the pools (weights go with their tensors).</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        try { Stream.Synchronize(); } catch (CudaException) { /* a failed stream still has to be torn down */ }
        DisposePlans();
        _uploader?.Dispose();
        if (_cublasLt != 0) CublasLtApi.cublasLtDestroy(_cublasLt);
        if (_cublas != 0) CublasApi.cublasDestroy_v2(_cublas);
        if (_cudnn != 0) CudnnApi.cudnnDestroy(_cudnn);
        _cublasLt = _cublas = _cudnn = 0;
        _defaultPool.Dispose();
        _workspace.Dispose();
        _kernels.Dispose();
        Stream.Dispose();
        Context.Dispose();
    }
}
