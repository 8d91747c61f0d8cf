using System.Collections;

namespace FastIF.Tensors;

/// <summary>An immutable tensor shape in PyTorch (row-major, logical NCHW) order.</summary>
public readonly struct Shape : IEquatable<Shape>, IReadOnlyList<int>
{
    private readonly int[] _dims;

    /// <summary>Creates a shape; every dimension must be non-negative.</summary>
    public Shape(params int[] dims)
    {
        foreach (var d in dims)
            if (d < 0) throw new ShapeException($"negative dimension in shape [{string.Join(", ", dims)}]");
        _dims = (int[])dims.Clone();
    }

    /// <summary>Number of dimensions.</summary>
    public int Rank => _dims?.Length ?? 0;

    /// <summary>Number of dimensions (same as <see cref="Rank"/>).</summary>
    public int Count => Rank;

    /// <summary>Dimension <paramref name="i"/>; negative indices count from the end.</summary>
    public int this[int i] => _dims[i < 0 ? _dims.Length + i : i];

    /// <summary>Product of all dimensions.</summary>
    public long Elements
    {
        get
        {
            long n = 1;
            foreach (var d in _dims ?? []) n = checked(n * d);
            return n;
        }
    }

    /// <summary>A copy of the dimensions.</summary>
    public int[] ToArray() => (int[])(_dims ?? []).Clone();

    /// <inheritdoc/>
    public bool Equals(Shape other) => (_dims ?? []).AsSpan().SequenceEqual(other._dims ?? []);
    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is Shape s && Equals(s);
    /// <inheritdoc/>
    public override int GetHashCode()
    {
        var h = new HashCode();
        foreach (var d in _dims ?? []) h.Add(d);
        return h.ToHashCode();
    }
    /// <summary>Shape equality.</summary>
    public static bool operator ==(Shape a, Shape b) => a.Equals(b);
    /// <summary>Shape inequality.</summary>
    public static bool operator !=(Shape a, Shape b) => !a.Equals(b);
    /// <summary>"[2, 3, 64, 64]".</summary>
    public override string ToString() => "[" + string.Join(", ", _dims ?? []) + "]";
    /// <inheritdoc/>
    public IEnumerator<int> GetEnumerator() => ((IEnumerable<int>)(_dims ?? [])).GetEnumerator();
    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>Implicit conversion from a dimension array.</summary>
    public static implicit operator Shape(int[] dims) => new(dims);
}
