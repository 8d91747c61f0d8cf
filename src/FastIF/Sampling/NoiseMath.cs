using System.Numerics;

namespace FastIF.Sampling;

/// <summary>
/// The Box–Muller arithmetic of <see cref="PhiloxNoise"/>, built only from IEEE-754 double operations that every
/// conforming machine rounds the same way (+, −, ×, ÷, √ and fused multiply-add, each written out, never left to a
/// compiler to contract), so the GPU twin in kernels/noise.cu computes the same bits. Library log/sin/cos are not
/// used: their last-bit results differ between runtimes and devices. Accuracy is ~1e-16 relative, far below the fp32
/// outputs' rounding.
/// </summary>
public static class NoiseMath
{
    private const double Ln2 = 0.6931471805599453, Sqrt2 = 1.4142135623730951;
    // π/2 divided by 2^30 (exact: a power-of-two division).
    private const double QuarterTurnStep = 1.5707963267948966 / 1073741824.0;

    // 1/(2k+1), k = 11 … 0: ln f = 2s·Σ s^(2k)/(2k+1) with s = (f−1)/(f+1).
    private static readonly double[] LogCoef =
    [
        0.043478260869565216, 0.047619047619047616, 0.05263157894736842, 0.058823529411764705, 0.06666666666666667,
        0.07692307692307693, 0.09090909090909091, 0.1111111111111111, 0.14285714285714285, 0.2, 0.3333333333333333, 1.0,
    ];

    // Taylor coefficients, highest first: (−1)^k/(2k+1)! and (−1)^k/(2k)!, k = 11 … 0.
    private static readonly double[] SinCoef =
    [
        -3.868170170630684e-23, 1.9572941063391263e-20, -8.22063524662433e-18, 2.8114572543455206e-15, -7.647163731819816e-13,
        1.6059043836821613e-10, -2.505210838544172e-08, 2.7557319223985893e-06, -0.0001984126984126984, 0.008333333333333333,
        -0.16666666666666666, 1.0,
    ];
    private static readonly double[] CosCoef =
    [
        -8.896791392450574e-22, 4.110317623312165e-19, -1.5619206968586225e-16, 4.779477332387385e-14, -1.1470745597729725e-11,
        2.08767569878681e-09, -2.755731922398589e-07, 2.48015873015873e-05, -0.001388888888888889, 0.041666666666666664, -0.5, 1.0,
    ];

    /// <summary>ln((r + 1) / 2³²), the Box–Muller log of a 32-bit draw, in (−22.2, 0].</summary>
    public static double LogUniform(uint r)
    {
        ulong m = (ulong)r + 1;
        int e = 63 - BitOperations.LeadingZeroCount(m);
        double f = m / (double)(1UL << e);           // exact: a power-of-two scaling into [1, 2)
        if (f > Sqrt2)
        {
            f *= 0.5;
            e++;
        }
        double s = (f - 1.0) / (f + 1.0), z = s * s;
        double p = LogCoef[0];
        for (int k = 1; k < LogCoef.Length; k++) p = Math.FusedMultiplyAdd(p, z, LogCoef[k]);
        double lnf = 2.0 * s * p;
        return Math.FusedMultiplyAdd(e - 32, Ln2, lnf);
    }

    /// <summary>(sin, cos) of 2π·r/2³²: the quadrant from the top two bits (exact), a Taylor polynomial on the rest.</summary>
    public static (double Sin, double Cos) SinCosTurn(uint r)
    {
        uint q = r >> 30;
        double x = (r & 0x3FFFFFFFu) * QuarterTurnStep, x2 = x * x;
        double ps = SinCoef[0], pc = CosCoef[0];
        for (int k = 1; k < SinCoef.Length; k++)
        {
            ps = Math.FusedMultiplyAdd(ps, x2, SinCoef[k]);
            pc = Math.FusedMultiplyAdd(pc, x2, CosCoef[k]);
        }
        double s = x * ps, c = pc;
        return q switch { 0 => (s, c), 1 => (c, -s), 2 => (-s, -c), _ => (-c, s) };
    }

    /// <summary>The pair of standard normals from two 32-bit draws, as <see cref="PhiloxNoise"/> emits them: (r·cos, r·sin).</summary>
    public static (float First, float Second) BoxMuller(uint a, uint b)
    {
        double rad = Math.Sqrt(-2.0 * LogUniform(a));
        var (s, c) = SinCosTurn(b);
        return ((float)(rad * c), (float)(rad * s));
    }
}
