namespace FastIF.Text;

/// <summary>
/// A minimal protobuf wire-format reader over a byte span (varints, fixed32/64, length-delimited fields): enough for
/// SentencePiece's ModelProto without a protobuf dependency. Every length is checked against the bytes left, so a
/// truncated or hostile file ends in <see cref="TokenizerException"/>, never in an out-of-range read.
/// </summary>
internal ref struct ProtoReader(ReadOnlySpan<byte> data, string source)
{
    private readonly ReadOnlySpan<byte> _data = data;
    private int _pos;

    public const int Varint = 0, Fixed64 = 1, LengthDelimited = 2, Fixed32 = 5;

    public readonly bool AtEnd => _pos >= _data.Length;

    /// <summary>Reads the next field key; false at the end of the message.</summary>
    public bool Next(out int field, out int wireType)
    {
        field = wireType = 0;
        if (AtEnd) return false;
        ulong key = ReadVarint();
        wireType = (int)(key & 7);
        if (key >> 3 is 0 or > int.MaxValue) throw Fail($"field number {key >> 3} is not valid");
        field = (int)(key >> 3);
        return true;
    }

    public ulong ReadVarint()
    {
        ulong v = 0;
        for (int shift = 0; shift < 64; shift += 7)
        {
            if (_pos >= _data.Length) throw Fail("a varint runs past the end of the data");
            byte b = _data[_pos++];
            v |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80) return v;
        }
        throw Fail("a varint is longer than 10 bytes");
    }

    public float ReadFloat()
    {
        if (_data.Length - _pos < 4) throw Fail("a fixed32 field runs past the end of the data");
        float f = BitConverter.ToSingle(_data.Slice(_pos, 4));
        _pos += 4;
        return f;
    }

    public ReadOnlySpan<byte> ReadBytes()
    {
        ulong n = ReadVarint();
        if (n > (ulong)(_data.Length - _pos)) throw Fail($"a field of {n} bytes runs past the end of the data ({_data.Length - _pos} left)");
        var s = _data.Slice(_pos, (int)n);
        _pos += (int)n;
        return s;
    }

    public string ReadString()
    {
        var b = ReadBytes();
        try { return new System.Text.UTF8Encoding(false, true).GetString(b); }
        catch (System.Text.DecoderFallbackException) { throw Fail("a string field is not valid UTF-8"); }
    }

    /// <summary>Skips a field of the given wire type (groups, types 3/4, are refused).</summary>
    public void Skip(int wireType)
    {
        switch (wireType)
        {
            case Varint: ReadVarint(); break;
            case Fixed64: Advance(8); break;
            case LengthDelimited: ReadBytes(); break;
            case Fixed32: Advance(4); break;
            default: throw Fail($"wire type {wireType} is not supported");
        }
    }

    /// <summary>A varint read into an int field: protobuf int32 negatives arrive as 64-bit two's complement.</summary>
    public int ReadInt32()
    {
        long v = (long)ReadVarint();
        if (v < int.MinValue || v > int.MaxValue) throw Fail($"value {v} does not fit an int32 field");
        return (int)v;
    }

    private void Advance(int n)
    {
        if (_data.Length - _pos < n) throw Fail("a fixed-size field runs past the end of the data");
        _pos += n;
    }

    public readonly TokenizerException Fail(string what) => new($"{source}: not a valid SentencePiece model: {what} (at byte {_pos})");
}
