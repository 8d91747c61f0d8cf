using System.Runtime.InteropServices;
using FastIF.Backends;
using FastIF.Tensors;
using FastIF.Weights;

namespace FastIF.Models.UNet;

/// <summary>How a parameter is used, which decides how random weights initialise it.</summary>
public enum ParamKind
{
    /// <summary>Linear or convolution weight: N(0, 1/fan_in).</summary>
    Weight,
    /// <summary>Linear or convolution bias.</summary>
    Bias,
    /// <summary>Normalisation scale (around 1).</summary>
    NormWeight,
    /// <summary>Normalisation shift.</summary>
    NormBias,
    /// <summary>Learned positional embedding.</summary>
    Embedding,
}

/// <summary>
/// A load-time rewrite of a parameter into the form the graph computes with (sub-pixel phase weights, for one): the
/// checkpoint's values as fp32 in its shape in, new fp32 values and their shape out. The backend converts the result
/// to its storage type once, as it does any weight.
/// </summary>
public delegate (float[] Values, Shape Shape) ParamTransform(float[] values, Shape shape);

/// <summary>One expected model tensor: its diffusers name, PyTorch shape and role.</summary>
public sealed record ParamSpec(string Name, Shape Shape, ParamKind Kind);

/// <summary>
/// The parameters a model graph declares while it is built from its config. Loading checks them all
/// against a checkpoint at once (missing, unexpected, mis-shaped) before converting any.
/// </summary>
public sealed class ParamSet : IDisposable
{
    private readonly List<Param> _params = [];

    /// <summary>A declared parameter; <see cref="Value"/> is set by <see cref="Load"/>.</summary>
    public sealed class Param(ParamSpec spec)
    {
        /// <summary>Name, shape and role.</summary>
        public ParamSpec Spec { get; } = spec;
        /// <summary>The loaded tensor.</summary>
        public Tensor Value => _value ?? throw new InvalidOperationException($"parameter {Spec.Name} is not loaded");
        internal Tensor? _value;
        internal ParamTransform? Transform { get; init; }
    }

    /// <summary>All declared parameters, in declaration (forward) order.</summary>
    public IReadOnlyList<ParamSpec> Specs => _params.Select(p => p.Spec).ToList();

    /// <summary>Total element count.</summary>
    public long Elements => _params.Sum(p => p.Spec.Shape.Elements);

    /// <summary>Elements the backend holds once loaded: as declared, except where a load transform reshapes a parameter
    /// (what a forward pass reads; before loading, the declared count).</summary>
    public long LoadedElements => _params.Sum(p => p._value?.Shape.Elements ?? p.Spec.Shape.Elements);

    /// <summary>Declares a parameter.</summary>
    public Param Add(string name, ParamKind kind, params int[] shape) => Add(name, kind, null, shape);

    /// <summary>Declares a parameter that the checkpoint holds as <paramref name="shape"/> and the graph uses as
    /// <paramref name="transform"/> rewrites it (applied once, at load).</summary>
    public Param Add(string name, ParamKind kind, ParamTransform? transform, params int[] shape)
    {
        var p = new Param(new ParamSpec(name, new Shape(shape), kind)) { Transform = transform };
        _params.Add(p);
        return p;
    }

    /// <summary>
    /// Checks every declared tensor against <paramref name="checkpoint"/> and loads them into <paramref name="backend"/>.
    /// One <see cref="WeightMismatchException"/> lists all missing, unexpected and mis-shaped tensors.
    /// </summary>
    public void Load(Checkpoint checkpoint, IBackend backend)
    {
        var problems = new List<string>();
        var expected = new HashSet<string>();
        foreach (var p in _params)
        {
            expected.Add(p.Spec.Name);
            if (!checkpoint.TryGetEntry(p.Spec.Name, out var e)) problems.Add($"missing {p.Spec.Name} {p.Spec.Shape}");
            else if (e.Shape != p.Spec.Shape) problems.Add($"mis-shaped {p.Spec.Name}: file has {e.Shape}, model needs {p.Spec.Shape}");
            else if (!e.DType.IsFloat()) problems.Add($"wrong dtype {p.Spec.Name}: {e.DType} is not a float type");
        }
        foreach (var name in checkpoint.Names.Order(StringComparer.Ordinal))
            if (!expected.Contains(name)) problems.Add($"unexpected {name}");
        if (problems.Count > 0)
        {
            const int Shown = 40;
            var list = string.Join("\n  ", problems.Take(Shown));
            var more = problems.Count > Shown ? $"\n  ... and {problems.Count - Shown} more" : "";
            // The first line stands alone (what a one-line error shows); the list follows for whoever reads on.
            int Count(string kind) => problems.Count(p => p.StartsWith(kind));
            throw new WeightMismatchException(
                $"{checkpoint.Source}: weights do not match the config: {Count("mis-shaped")} mis-shaped, {Count("missing")} missing, " +
                $"{Count("unexpected")} unexpected, {Count("wrong dtype")} of a wrong dtype tensor(s); first: {problems[0]}\n  {list}{more}");
        }
        foreach (var p in _params)
        {
            var e = checkpoint.GetEntry(p.Spec.Name);
            var raw = checkpoint.GetBytes(p.Spec.Name);
            if (p.Transform == null)
            {
                p._value = backend.LoadWeight(raw, e.DType, p.Spec.Shape);
                continue;
            }
            var values = GC.AllocateUninitializedArray<float>(checked((int)p.Spec.Shape.Elements));
            DTypeConvert.ToFloat32(raw, e.DType, values);
            var (rewritten, shape) = p.Transform(values, p.Spec.Shape);
            p._value = backend.LoadWeight(MemoryMarshal.AsBytes(rewritten.AsSpan()), DType.F32, shape);
        }
        backend.LoadFinished();
    }

    /// <summary>Releases every loaded tensor.</summary>
    public void Dispose()
    {
        foreach (var p in _params) { p._value?.Dispose(); p._value = null; }
    }
}
