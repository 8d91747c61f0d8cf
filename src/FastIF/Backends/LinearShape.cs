using FastIF.Tensors;

namespace FastIF.Backends;

/// <summary>The checks of one <see cref="IBackend.Linear"/> residual, shared by every backend.</summary>
internal static class LinearShape
{
    /// <summary>Throws unless <paramref name="residual"/> is null, or shaped like the output and given without an activation.</summary>
    public static void CheckResidual(Tensor? residual, Shape output, Activation act)
    {
        if (residual == null) return;
        if (act != Activation.None) throw new ShapeException($"Linear: a residual after the activation {act} is not supported");
        if (residual.Shape != output) throw new ShapeException($"Linear: residual {residual.Shape} vs output {output}");
    }
}
