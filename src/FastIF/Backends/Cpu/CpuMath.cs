using System.Numerics.Tensors;

namespace FastIF.Backends.Cpu;

/// <summary>Scalar math the CPU reference needs and the BCL lacks.</summary>
public static class CpuMath
{
    /// <summary>
    /// erfc(x) for x ≥ 0 with fractional error below 1.2e-7 everywhere (Chebyshev fit, Numerical Recipes §6.2),
    /// evaluated in double.
    /// </summary>
    private static double ErfcNonNegative(double z)
    {
        double t = 2.0 / (2.0 + z);
        double ty = 4.0 * t - 2.0;
        ReadOnlySpan<double> cof =
        [
            -1.3026537197817094, 6.4196979235649026e-1, 1.9476473204185836e-2, -9.561514786808631e-3,
            -9.46595344482036e-4, 3.66839497852761e-4, 4.2523324806907e-5, -2.0278578112534e-5,
            -1.624290004647e-6, 1.303655835580e-6, 1.5626441722e-8, -8.5238095915e-8,
            6.529054439e-9, 5.059343495e-9, -9.91364156e-10, -2.27365122e-10,
            9.6467911e-11, 2.394038e-12, -6.886027e-12, 8.94487e-13, 3.13092e-13,
            -1.12708e-13, 3.81e-16, 7.106e-15, -1.523e-15, -9.4e-17, 1.21e-16, -2.8e-17,
        ];
        double d = 0, dd = 0;
        for (int j = cof.Length - 1; j > 0; j--)
        {
            double tmp = d;
            d = ty * d - dd + cof[j];
            dd = tmp;
        }
        return t * Math.Exp(-z * z + 0.5 * (cof[0] + ty * d) - dd);
    }

    /// <summary>The error function, accurate to about 1e-15 relative (double).</summary>
    public static double Erf(double x) => x >= 0 ? 1.0 - ErfcNonNegative(x) : ErfcNonNegative(-x) - 1.0;

    /// <summary>Exact-erf GELU, 0.5·x·(1+erf(x/√2)), computed in double and rounded once.</summary>
    public static float Gelu(float x)
    {
        double z = x * 0.70710678118654752440;
        // For x < 0 use erfc directly so tiny outputs keep their relative precision.
        double cdf = z >= 0 ? 1.0 - 0.5 * ErfcNonNegative(z) : 0.5 * ErfcNonNegative(-z);
        return (float)(x * cdf);
    }

    /// <summary>Tanh-approximated GELU (HF <c>gelu_new</c>), computed in double and rounded once.</summary>
    public static float GeluTanh(float x)
    {
        double v = x;
        return (float)(0.5 * v * (1.0 + Math.Tanh(0.79788456080286535588 * (v + 0.044715 * v * v * v))));
    }

    private static readonly float[] ErfcPoly =
        [0.17087277f, -0.82215223f, 1.48851587f, -1.13520398f, 0.27886807f, -0.18628806f, 0.09678418f, 0.37409196f, 1.00002368f];

    /// <summary>
    /// Exact-erf GELU over a span, vectorized: erfc by the Numerical Recipes rational fit (fractional error below
    /// 1.2e-7, §6.2 <c>erfcc</c>) in fp32, each step a TensorPrimitives pass over 1024-value chunks; for x &lt; 0 the
    /// CDF is 0.5·erfc directly, so small outputs keep their relative precision.
    /// </summary>
    public static void Gelu(Span<float> v)
    {
        const int Chunk = 1024;
        Span<float> z = stackalloc float[Chunk], t = stackalloc float[Chunk], p = stackalloc float[Chunk];
        for (int i = 0; i < v.Length; i += Chunk)
        {
            var x = v.Slice(i, Math.Min(Chunk, v.Length - i));
            int n = x.Length;
            var zs = z[..n];
            var ts = t[..n];
            var ps = p[..n];
            TensorPrimitives.Abs(x, zs);
            TensorPrimitives.Multiply(zs, 0.70710678118654752f, zs);          // |x|/√2
            TensorPrimitives.Multiply(zs, 0.5f, ts);
            TensorPrimitives.Add(ts, 1f, ts);
            TensorPrimitives.Reciprocal(ts, ts);                               // t = 1/(1 + z/2)
            ps.Fill(ErfcPoly[0]);
            for (int k = 1; k < ErfcPoly.Length; k++) TensorPrimitives.MultiplyAdd(ps, ts, ErfcPoly[k], ps);
            TensorPrimitives.MultiplyAdd(ps, ts, -1.26551223f, ps);
            TensorPrimitives.Multiply(zs, zs, zs);
            TensorPrimitives.Subtract(ps, zs, ps);                             // −z² − 1.2655… + t·P(t)
            TensorPrimitives.Exp(ps, ps);
            TensorPrimitives.Multiply(ps, ts, ps);                             // erfc(|x|/√2)
            for (int j = 0; j < n; j++)
            {
                float half = 0.5f * ps[j];
                x[j] *= x[j] >= 0 ? 1f - half : half;
            }
        }
    }
}
