namespace FastIF.Text;

/// <summary>A tokenizer model file that cannot be used: malformed, truncated, or of a kind FastIF does not implement.</summary>
public sealed class TokenizerException(string message) : FastIFException(message);
