using System.Numerics.Tensors;
using System.Runtime.InteropServices;

namespace FastIF.Tensors;

/// <summary>Conversions between stored element types and fp32 (little-endian, as safetensors stores them).</summary>
public static class DTypeConvert
{
    /// <summary>Converts <paramref name="raw"/> holding <c>dest.Length</c> elements of <paramref name="dtype"/> to fp32.</summary>
    public static void ToFloat32(ReadOnlySpan<byte> raw, DType dtype, Span<float> dest)
    {
        long need = (long)dest.Length * dtype.Size();
        if (raw.Length != need)
            throw new ShapeException($"{dtype} data holds {raw.Length} bytes, {dest.Length} elements need {need}");
        switch (dtype)
        {
            case DType.F32:
                MemoryMarshal.Cast<byte, float>(raw).CopyTo(dest);
                break;
            case DType.F16:
                TensorPrimitives.ConvertToSingle(MemoryMarshal.Cast<byte, Half>(raw), dest);
                break;
            case DType.BF16:
                var bf = MemoryMarshal.Cast<byte, ushort>(raw);
                var bits = MemoryMarshal.Cast<float, uint>(dest);
                for (int i = 0; i < bf.Length; i++) bits[i] = (uint)bf[i] << 16;
                break;
            case DType.F64:
                var d = MemoryMarshal.Cast<byte, double>(raw);
                for (int i = 0; i < d.Length; i++) dest[i] = (float)d[i];
                break;
            default:
                throw new ShapeException($"cannot convert {dtype} to F32");
        }
    }

    /// <summary>Converts fp32 values to <paramref name="dtype"/> (F32, F16 round-to-nearest-even, BF16 round-to-nearest-even).</summary>
    public static void FromFloat32(ReadOnlySpan<float> src, DType dtype, Span<byte> dest)
    {
        long need = (long)src.Length * dtype.Size();
        if (dest.Length != need)
            throw new ShapeException($"{dtype} destination holds {dest.Length} bytes, {src.Length} elements need {need}");
        switch (dtype)
        {
            case DType.F32:
                MemoryMarshal.AsBytes(src).CopyTo(dest);
                break;
            case DType.F16:
                TensorPrimitives.ConvertToHalf(src, MemoryMarshal.Cast<byte, Half>(dest));
                break;
            case DType.BF16:
                var outBits = MemoryMarshal.Cast<byte, ushort>(dest);
                var inBits = MemoryMarshal.Cast<float, uint>(src);
                for (int i = 0; i < inBits.Length; i++) outBits[i] = FloatToBFloat16(inBits[i]);
                break;
            default:
                throw new ShapeException($"cannot convert F32 to {dtype}");
        }
    }

    /// <summary>fp32 bits to bf16 bits, round to nearest even; NaN stays NaN.</summary>
    public static ushort FloatToBFloat16(uint bits)
    {
        if ((bits & 0x7FFF_FFFF) > 0x7F80_0000) return (ushort)((bits >> 16) | 0x40);
        uint rounding = 0x7FFF + ((bits >> 16) & 1);
        return (ushort)((bits + rounding) >> 16);
    }
}
