using System.Buffers.Binary;
using System.Text;

namespace FastIF.Text;

/// <summary>
/// SentencePiece's normalizer: the model's own precompiled character map (a Darts-clone double-array trie over UTF-8
/// bytes whose values index NUL-terminated replacement strings; blob = uint32 trie size, trie units, strings), applied
/// longest-prefix-first, then its whitespace rules (trim, collapse runs, a dummy prefix, spaces escaped to ▁). A
/// character with no rule is copied; invalid UTF-8 becomes U+FFFD one byte at a time. Works on UTF-8 bytes throughout,
/// as the reference does, so the encoder sees the same byte string.
/// </summary>
public sealed class CharsMapNormalizer
{
    private static readonly byte[] SpaceSymbol = [0xE2, 0x96, 0x81];
    private static readonly byte[] Replacement = [0xEF, 0xBF, 0xBD];
    private readonly uint[] _units;
    private readonly byte[] _strings;
    private readonly SentencePieceModel _model;

    /// <summary>Builds the normalizer of <paramref name="model"/>.</summary>
    public CharsMapNormalizer(SentencePieceModel model)
    {
        _model = model;
        var blob = model.PrecompiledCharsMap;
        if (blob.Length == 0)
        {
            _units = [];
            _strings = [];
            return;
        }
        int trieBytes = (int)BinaryPrimitives.ReadUInt32LittleEndian(blob);
        _units = new uint[trieBytes / 4];
        for (int i = 0; i < _units.Length; i++) _units[i] = BinaryPrimitives.ReadUInt32LittleEndian(blob.AsSpan(4 + 4 * i));
        _strings = blob[(4 + trieBytes)..];
    }

    /// <summary>Checks the blob's framing (called when a model is parsed).</summary>
    internal static void Validate(byte[] blob, string source)
    {
        if (blob.Length < 4) throw new TokenizerException($"{source}: precompiled_charsmap of {blob.Length} bytes has no trie size");
        uint trieBytes = BinaryPrimitives.ReadUInt32LittleEndian(blob);
        if (trieBytes == 0 || trieBytes % 4 != 0 || trieBytes > blob.Length - 4)
            throw new TokenizerException($"{source}: precompiled_charsmap declares a {trieBytes}-byte trie in a {blob.Length}-byte blob");
    }

    /// <summary>The normalized UTF-8 bytes of <paramref name="text"/>, exactly as SentencePiece's Normalizer::Normalize.</summary>
    public byte[] Normalize(string text)
    {
        var input = Encoding.UTF8.GetBytes(text).AsSpan();
        var output = new List<byte>(input.Length + 8);
        bool removeExtra = _model.RemoveExtraWhitespaces;
        if (removeExtra)
        {
            // Leading spaces (after normalization: a tab or NBSP counts once mapped to a space) are dropped.
            while (!input.IsEmpty)
            {
                int used = NormalizePrefix(input, out var rep);
                if (rep.Length != 1 || rep[0] != (byte)' ') break;
                input = input[used..];
            }
        }
        if (input.IsEmpty) return [];
        if (_model.AddDummyPrefix) AppendSpace(output);
        bool prevSpace = removeExtra;
        while (!input.IsEmpty)
        {
            int used = NormalizePrefix(input, out var sp);
            if (prevSpace && removeExtra) while (!sp.IsEmpty && sp[0] == (byte)' ') sp = sp[1..];
            if (!sp.IsEmpty)
            {
                foreach (byte b in sp)
                {
                    if (b == (byte)' ' && _model.EscapeWhitespaces) output.AddRange(SpaceSymbol);
                    else output.Add(b);
                }
                prevSpace = sp[^1] == (byte)' ';
            }
            input = input[used..];
            if (!removeExtra) prevSpace = false;
        }
        if (removeExtra)
        {
            var space = _model.EscapeWhitespaces ? SpaceSymbol : [(byte)' '];
            while (output.Count >= space.Length && System.Runtime.InteropServices.CollectionsMarshal.AsSpan(output)[^space.Length..].SequenceEqual(space)) output.RemoveRange(output.Count - space.Length, space.Length);
        }
        return [.. output];
    }

    private void AppendSpace(List<byte> output)
    {
        if (_model.EscapeWhitespaces) output.AddRange(SpaceSymbol);
        else output.Add((byte)' ');
    }

    /// <summary>The replacement of the longest rule matching a prefix of <paramref name="input"/>; returns the bytes it consumes.</summary>
    private int NormalizePrefix(ReadOnlySpan<byte> input, out ReadOnlySpan<byte> replacement)
    {
        int longest = 0, value = 0;
        if (_units.Length > 0)
        {
            // Darts-clone commonPrefixSearch: offset/label/leaf bits of each 32-bit unit.
            uint pos = 0;
            pos ^= Offset(Unit(pos));
            for (int i = 0; i < input.Length; i++)
            {
                pos ^= input[i];
                uint unit = Unit(pos);
                if ((unit & ((1u << 31) | 0xFF)) != input[i]) break;
                pos ^= Offset(unit);
                if (((unit >> 8) & 1) != 0)
                {
                    longest = i + 1;
                    value = (int)(Unit(pos) & ((1u << 31) - 1));
                }
            }
        }
        if (longest > 0)
        {
            if (value >= _strings.Length) throw new TokenizerException($"{_model.Source}: precompiled_charsmap points past its strings");
            int end = Array.IndexOf(_strings, (byte)0, value);
            if (end < 0) throw new TokenizerException($"{_model.Source}: precompiled_charsmap string at {value} is not terminated");
            replacement = _strings.AsSpan(value, end - value);
            return longest;
        }
        int n = Utf8CharLength(input);
        replacement = n > 0 ? input[..n] : Replacement;
        return Math.Max(n, 1);
    }

    private uint Unit(uint pos) => pos < (uint)_units.Length
        ? _units[pos]
        : throw new TokenizerException($"{_model.Source}: precompiled_charsmap trie jumps outside itself");

    private static uint Offset(uint unit) => (unit >> 10) << (int)((unit & (1u << 9)) >> 6);

    /// <summary>Length of the valid UTF-8 character at the start, or 0 when it is malformed.</summary>
    private static int Utf8CharLength(ReadOnlySpan<byte> s)
    {
        int n = s[0] < 0x80 ? 1 : s[0] is >= 0xC2 and < 0xE0 ? 2 : s[0] is >= 0xE0 and < 0xF0 ? 3 : s[0] is >= 0xF0 and < 0xF5 ? 4 : 0;
        return n > 0 && n <= s.Length && System.Text.Unicode.Utf8.IsValid(s[..n]) ? n : 0;
    }
}
