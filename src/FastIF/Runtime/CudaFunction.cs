using FastIF.Native;

namespace FastIF.Runtime;

/// <summary>A kernel (CUfunction) in a loaded module; keeps its module alive.</summary>
public sealed unsafe class CudaFunction
{
    private readonly CudaModule _module;

    internal CudaFunction(nint function, string name, CudaModule module)
    {
        Handle = function;
        Name = name;
        _module = module;
    }

    /// <summary>The raw CUfunction.</summary>
    public nint Handle { get; }

    /// <summary>The kernel's <c>extern "C"</c> name.</summary>
    public string Name { get; }

    /// <summary>Registers per thread the compiled kernel uses (cuFuncGetAttribute NUM_REGS).</summary>
    public int Registers
    {
        get
        {
            int regs;
            CudaDriver.Check(CudaDriver.cuFuncGetAttribute(&regs, CudaDriver.CU_FUNC_ATTRIBUTE_NUM_REGS, Handle), $"cuFuncGetAttribute({Name})");
            return regs;
        }
    }

    /// <summary>
    /// Launches the kernel. <paramref name="args"/> points at an array with one pointer per kernel parameter, each
    /// pointing at that parameter's value (cuLaunchKernel's <c>kernelParams</c>).
    /// </summary>
    public void Launch(uint gridX, uint blockX, CudaStream stream, void** args, uint sharedMemBytes = 0, uint gridY = 1, uint gridZ = 1)
    {
        GC.KeepAlive(_module);
        int rc = CudaDriver.cuLaunchKernel(Handle, gridX, gridY, gridZ, blockX, 1, 1, sharedMemBytes, stream.Value, args, null);
        if (rc != 0) throw CudaDriver.Error(rc, $"cuLaunchKernel({Name}, grid {gridX}x{gridY}x{gridZ}, block {blockX})");
    }
}
