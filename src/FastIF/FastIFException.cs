namespace FastIF;

/// <summary>Base type of every error FastIF raises on purpose. Messages name the file, tensor or option at fault.</summary>
public class FastIFException : Exception
{
    /// <summary>Creates the exception with a message that says what was expected and what was found.</summary>
    public FastIFException(string message) : base(message) { }

    /// <summary>Creates the exception wrapping the lower-level cause.</summary>
    public FastIFException(string message, Exception inner) : base(message, inner) { }
}

/// <summary>A model configuration (config.json) that is malformed or asks for something the engine does not implement.</summary>
public sealed class ConfigException(string message) : FastIFException(message);

/// <summary>Weights that do not match what the model expects: missing, unexpected or mis-shaped tensors.</summary>
public sealed class WeightMismatchException(string message) : FastIFException(message);

/// <summary>An operation called with tensors whose shapes or types do not fit together.</summary>
public sealed class ShapeException(string message) : FastIFException(message);
