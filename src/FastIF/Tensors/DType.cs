namespace FastIF.Tensors;

/// <summary>Element types that can appear in a safetensors file. Compute happens in F32, F16 and BF16 only.</summary>
public enum DType
{
    /// <summary>Boolean, one byte.</summary>
    Bool,
    /// <summary>Unsigned 8-bit integer.</summary>
    U8,
    /// <summary>Signed 8-bit integer.</summary>
    I8,
    /// <summary>Signed 16-bit integer.</summary>
    I16,
    /// <summary>Unsigned 16-bit integer.</summary>
    U16,
    /// <summary>IEEE 754 binary16.</summary>
    F16,
    /// <summary>bfloat16 (the top half of a binary32).</summary>
    BF16,
    /// <summary>Signed 32-bit integer.</summary>
    I32,
    /// <summary>Unsigned 32-bit integer.</summary>
    U32,
    /// <summary>IEEE 754 binary32.</summary>
    F32,
    /// <summary>IEEE 754 binary64.</summary>
    F64,
    /// <summary>Signed 64-bit integer.</summary>
    I64,
    /// <summary>Unsigned 64-bit integer.</summary>
    U64,
    /// <summary>8-bit float, 4 exponent bits.</summary>
    F8E4M3,
    /// <summary>8-bit float, 5 exponent bits.</summary>
    F8E5M2,
}

/// <summary>Sizes and safetensors names of <see cref="DType"/> values.</summary>
public static class DTypes
{
    /// <summary>Bytes per element.</summary>
    public static int Size(this DType t) => t switch
    {
        DType.Bool or DType.U8 or DType.I8 or DType.F8E4M3 or DType.F8E5M2 => 1,
        DType.I16 or DType.U16 or DType.F16 or DType.BF16 => 2,
        DType.I32 or DType.U32 or DType.F32 => 4,
        DType.F64 or DType.I64 or DType.U64 => 8,
        _ => throw new ArgumentOutOfRangeException(nameof(t), t, "unknown dtype"),
    };

    /// <summary>The dtype string safetensors uses ("F16", "BF16", "F8_E4M3", ...).</summary>
    public static string SafetensorsName(this DType t) => t switch
    {
        DType.Bool => "BOOL", DType.U8 => "U8", DType.I8 => "I8", DType.I16 => "I16", DType.U16 => "U16",
        DType.F16 => "F16", DType.BF16 => "BF16", DType.I32 => "I32", DType.U32 => "U32", DType.F32 => "F32",
        DType.F64 => "F64", DType.I64 => "I64", DType.U64 => "U64", DType.F8E4M3 => "F8_E4M3", DType.F8E5M2 => "F8_E5M2",
        _ => throw new ArgumentOutOfRangeException(nameof(t), t, "unknown dtype"),
    };

    /// <summary>Parses a safetensors dtype string; false when it is not one the format defines.</summary>
    public static bool TryParseSafetensors(string s, out DType t)
    {
        foreach (var v in Enum.GetValues<DType>())
            if (v.SafetensorsName() == s) { t = v; return true; }
        t = default;
        return false;
    }

    /// <summary>True for the floating types FastIF computes with or converts from (F32, F16, BF16, F64).</summary>
    public static bool IsFloat(this DType t) => t is DType.F32 or DType.F16 or DType.BF16 or DType.F64;
}
