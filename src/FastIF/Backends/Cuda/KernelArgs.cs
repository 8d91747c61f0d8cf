using FastIF.Native;
using FastIF.Runtime;

namespace FastIF.Backends.Cuda;

/// <summary>
/// Up to 16 kernel parameters packed by value for cuLaunchKernel, each in its own 8-byte slot (little-endian, so a
/// 4-byte parameter's pointer is its slot's address). Lives on the stack: launching allocates nothing.
/// </summary>
internal unsafe struct KernelArgs
{
    private fixed ulong _slots[16];
    private int _count;

    /// <summary>Parameters packed so far.</summary>
    public readonly int Count => _count;

    public KernelArgs Ptr(ulong p) { Put(p); return this; }
    public KernelArgs I64(long v) { Put((ulong)v); return this; }
    public KernelArgs I32(int v) { Put((uint)v); return this; }
    public KernelArgs F32(float v) { Put(BitConverter.SingleToUInt32Bits(v)); return this; }

    private void Put(ulong v)
    {
        if (_count == 16) throw new InvalidOperationException("more than 16 kernel parameters");
        _slots[_count++] = v;
    }

    /// <summary>Launches <paramref name="fn"/> with these parameters, a 1-D block and a 1- or 2-D grid.</summary>
    public void Launch(CudaFunction fn, uint grid, uint block, CudaStream stream, uint gridY = 1)
    {
        var ptrs = stackalloc void*[_count];
        fixed (ulong* s = _slots)
        {
            for (int i = 0; i < _count; i++) ptrs[i] = s + i;
            fn.Launch(grid, block, stream, ptrs, 0, gridY);
        }
    }
}
