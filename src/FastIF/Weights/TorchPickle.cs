using System.Buffers.Binary;
using System.Text;

namespace FastIF.Weights;

/// <summary>A PyTorch checkpoint FastIF cannot or will not read: malformed, truncated, or asking for a global that is not
/// part of a plain state dict.</summary>
public sealed class TorchCheckpointException(string message) : FastIFException(message);

/// <summary>A storage a tensor views: the zip record <c>data/{Key}</c> of <see cref="Numel"/> elements of <see cref="DType"/>.</summary>
internal sealed record TorchStorage(string Key, Tensors.DType DType, long Numel);

/// <summary>A tensor as the pickle describes it: a strided view of a storage.</summary>
internal sealed record TorchTensor(TorchStorage Storage, long Offset, long[] Size, long[] Stride);

/// <summary>A global the unpickler allowed: a name, never something executed.</summary>
internal sealed record TorchGlobal(string Module, string Name)
{
    public string FullName => $"{Module}.{Name}";
}

/// <summary>
/// A restricted unpickler for the <c>data.pkl</c> of a PyTorch zip checkpoint. It interprets the opcodes a state dict
/// uses and executes nothing: the only globals it accepts are <c>collections.OrderedDict</c>,
/// <c>torch._utils._rebuild_tensor_v2</c> / <c>_rebuild_parameter</c> and the <c>torch.*Storage</c> types, each turned
/// into plain data by this class's own code; any other global ends the read with an error naming it. Sizes, depth and
/// counts are bounded, so a hostile pickle ends in <see cref="TorchCheckpointException"/> quickly.
/// </summary>
internal sealed class TorchPickle
{
    private const int MaxStack = 1 << 16, MaxMemo = 1 << 22, MaxOps = 1 << 26, MaxDims = 64;
    private static readonly object Mark = new();
    private readonly byte[] _data;
    private readonly string _source;
    private int _pos;
    private readonly List<object?> _stack = [];
    private readonly List<int> _marks = [];
    private readonly Dictionary<long, object?> _memo = [];

    private TorchPickle(byte[] data, string source)
    {
        _data = data;
        _source = source;
    }

    /// <summary>Unpickles <paramref name="data"/>; the result is made of null, bool, long, double, string, byte[],
    /// object?[] (tuples), List (lists), ordered dictionaries and <see cref="TorchTensor"/>s.</summary>
    public static object? Load(byte[] data, string source) => new TorchPickle(data, source).Run();

    private TorchCheckpointException Fail(string what) => new($"{_source}: {what} (data.pkl byte {_pos})");

    private object? Run()
    {
        for (int ops = 0; ; ops++)
        {
            if (ops > MaxOps) throw Fail("too many pickle operations");
            byte op = Byte();
            switch (op)
            {
                case 0x80: Byte(); break;                                     // PROTO
                case 0x95: Bytes(8); break;                                   // FRAME (a hint only)
                case (byte)'.': return PopValue();                            // STOP
                case (byte)'(': if (_marks.Count >= MaxStack) throw Fail("marks nested too deeply"); _marks.Add(_stack.Count); break;
                case (byte)'}': Push(new OrderedMap()); break;                // EMPTY_DICT
                case (byte)']': Push(new List<object?>()); break;             // EMPTY_LIST
                case (byte)')': Push(Array.Empty<object?>()); break;          // EMPTY_TUPLE
                case (byte)'N': Push(null); break;
                case 0x88: Push(true); break;
                case 0x89: Push(false); break;
                case (byte)'J': Push((long)BinaryPrimitives.ReadInt32LittleEndian(Bytes(4))); break;
                case (byte)'K': Push((long)Byte()); break;
                case (byte)'M': Push((long)BinaryPrimitives.ReadUInt16LittleEndian(Bytes(2))); break;
                case 0x8a: Push(Long1(Byte())); break;                        // LONG1
                case (byte)'G': Push(BinaryPrimitives.ReadDoubleBigEndian(Bytes(8))); break;
                case (byte)'X': Push(Utf8(Bytes(Length32()))); break;         // BINUNICODE
                case 0x8c: Push(Utf8(Bytes(Byte()))); break;                  // SHORT_BINUNICODE
                case 0x8d: Push(Utf8(Bytes(Length64()))); break;              // BINUNICODE8
                case (byte)'B': Push(Bytes(Length32()).ToArray()); break;     // BINBYTES
                case (byte)'C': Push(Bytes(Byte()).ToArray()); break;         // SHORT_BINBYTES
                case (byte)'q': Memo(Byte()); break;                          // BINPUT
                case (byte)'r': Memo(BinaryPrimitives.ReadUInt32LittleEndian(Bytes(4))); break;
                case 0x94: Memo(_memo.Count); break;                          // MEMOIZE
                case (byte)'h': Push(Recall(Byte())); break;                  // BINGET
                case (byte)'j': Push(Recall(BinaryPrimitives.ReadUInt32LittleEndian(Bytes(4)))); break;
                case (byte)'c': Push(Global(Line(), Line())); break;          // GLOBAL
                case 0x93:                                                    // STACK_GLOBAL
                {
                    var name = PopValue() as string ?? throw Fail("STACK_GLOBAL needs string names");
                    var module = PopValue() as string ?? throw Fail("STACK_GLOBAL needs string names");
                    Push(Global(module, name));
                    break;
                }
                case (byte)'t': Push(PopMark().ToArray()); break;             // TUPLE
                case 0x85: Push(new[] { PopValue() }); break;
                case 0x86: { var b = PopValue(); var a = PopValue(); Push(new[] { a, b }); break; }
                case 0x87: { var c = PopValue(); var b = PopValue(); var a = PopValue(); Push(new[] { a, b, c }); break; }
                case (byte)'l': Push(PopMark()); break;                       // LIST
                case (byte)'d': { var items = PopMark(); var m = new OrderedMap(); SetItems(m, items); Push(m); break; }
                case (byte)'a': { var v = PopValue(); ListOn().Add(v); break; }                      // APPEND
                case (byte)'e': { var items = PopMark(); ListOn().AddRange(items); break; }          // APPENDS
                case (byte)'s': { var v = PopValue(); var k = PopValue(); MapOn().Set(Key(k), v); break; }  // SETITEM
                case (byte)'u': { var items = PopMark(); SetItems(MapOn(), items); break; }          // SETITEMS
                case (byte)'R': { var args = PopValue(); var fn = PopValue(); Push(Reduce(fn, args)); break; }
                case (byte)'b': PopValue(); if (_stack.Count == 0) throw Fail("BUILD with nothing to build"); break; // state ignored: nothing runs
                case (byte)'Q': Push(Storage(PopValue())); break;             // BINPERSID
                default:
                    throw Fail($"pickle opcode 0x{op:X2} is not one a state dict uses");
            }
        }
    }

    private sealed class OrderedMap
    {
        public readonly List<KeyValuePair<object, object?>> Items = [];
        private readonly Dictionary<object, int> _index = [];

        public void Set(object key, object? value)
        {
            if (_index.TryGetValue(key, out int i)) Items[i] = new(key, value);
            else
            {
                _index[key] = Items.Count;
                Items.Add(new(key, value));
            }
        }
    }

    /// <summary>The (name, value) pairs of an unpickled state dict, in file order.</summary>
    public static IReadOnlyList<KeyValuePair<object, object?>>? Entries(object? value) => (value as OrderedMap)?.Items;

    private static object Key(object? k) => k switch
    {
        string or long or bool => k,
        _ => throw new TorchCheckpointException($"a dictionary key of type {k?.GetType().Name ?? "None"} is not part of a state dict"),
    };

    private void SetItems(OrderedMap m, List<object?> items)
    {
        if (items.Count % 2 != 0) throw Fail("SETITEMS with an odd number of items");
        for (int i = 0; i < items.Count; i += 2) m.Set(Key(items[i]), items[i + 1]);
    }

    private List<object?> ListOn() => _stack.Count > 0 && _stack[^1] is List<object?> l ? l : throw Fail("APPEND onto something that is not a list");
    private OrderedMap MapOn() => _stack.Count > 0 && _stack[^1] is OrderedMap m ? m : throw Fail("SETITEM onto something that is not a dictionary");

    private static readonly Dictionary<string, Tensors.DType> StorageTypes = new()
    {
        ["FloatStorage"] = Tensors.DType.F32, ["HalfStorage"] = Tensors.DType.F16, ["BFloat16Storage"] = Tensors.DType.BF16,
        ["DoubleStorage"] = Tensors.DType.F64, ["LongStorage"] = Tensors.DType.I64, ["IntStorage"] = Tensors.DType.I32,
        ["ShortStorage"] = Tensors.DType.I16, ["CharStorage"] = Tensors.DType.I8, ["ByteStorage"] = Tensors.DType.U8,
        ["BoolStorage"] = Tensors.DType.Bool,
    };

    private TorchGlobal Global(string module, string name)
    {
        bool ok = (module, name) switch
        {
            ("collections", "OrderedDict") => true,
            ("torch._utils", "_rebuild_tensor_v2" or "_rebuild_parameter") => true,
            ("torch", _) when StorageTypes.ContainsKey(name) => true,
            _ => false,
        };
        if (!ok)
            throw new TorchCheckpointException($"{_source}: refuses the pickle global \"{module}.{name}\": a state dict needs only " +
                "tensors, storages and ordered dicts, and FastIF never executes anything else a .bin file asks for");
        return new TorchGlobal(module, name);
    }

    private object? Reduce(object? fn, object? args)
    {
        if (fn is not TorchGlobal g) throw Fail("REDUCE of something that is not an allowed global");
        var a = args as object?[] ?? throw Fail($"{g.FullName} called without an argument tuple");
        switch (g.FullName)
        {
            case "collections.OrderedDict":
                if (a.Length != 0) throw Fail("OrderedDict built from arguments");
                return new OrderedMap();
            case "torch._utils._rebuild_parameter":
                if (a.Length < 1 || a[0] is not TorchTensor) throw Fail("_rebuild_parameter without a tensor");
                return a[0];
            case "torch._utils._rebuild_tensor_v2":
            {
                if (a.Length is < 6 or > 7 || a[0] is not TorchStorage s || a[1] is not long offset)
                    throw Fail("_rebuild_tensor_v2 with unexpected arguments");
                var size = Dims(a[2], "size");
                var stride = Dims(a[3], "stride");
                if (size.Length != stride.Length) throw Fail($"tensor size has {size.Length} dims, stride {stride.Length}");
                // The furthest element must lie inside the storage (checked without overflow).
                long last = offset;
                foreach (var (n, st) in size.Zip(stride))
                {
                    if (n == 0) { last = -1; break; }
                    if (st < 0 || (n - 1) > 0 && st > (long.MaxValue - last) / (n - 1)) throw Fail("tensor strides overflow");
                    last += (n - 1) * st;
                }
                if (offset < 0 || last >= s.Numel) throw Fail($"tensor view [{string.Join(", ", size)}] at offset {offset} runs past its storage of {s.Numel} elements");
                return new TorchTensor(s, offset, size, stride);
            }
            default:
                throw Fail($"{g.FullName} is not callable here");
        }
    }

    private long[] Dims(object? v, string what)
    {
        var t = v as object?[] ?? throw Fail($"tensor {what} is not a tuple");
        if (t.Length > MaxDims) throw Fail($"tensor {what} has {t.Length} dimensions");
        var r = new long[t.Length];
        for (int i = 0; i < t.Length; i++) r[i] = t[i] is long n && n >= 0 ? n : throw Fail($"tensor {what} holds {t[i]}, not a non-negative integer");
        return r;
    }

    private TorchStorage Storage(object? pid)
    {
        if (pid is not object?[] { Length: 5 } t || t[0] as string != "storage" || t[1] is not TorchGlobal g || t[2] is not string key || t[4] is not long numel)
            throw Fail("a persistent id that is not ('storage', type, key, location, numel)");
        if (!StorageTypes.TryGetValue(g.Name, out var dt) || g.Module != "torch") throw Fail($"{g.FullName} is not a storage type");
        if (numel < 0 || numel > long.MaxValue / 8) throw Fail($"storage of {numel} elements");
        if (key.Length == 0 || key.Contains('/') || key.Contains('\\') || key.Contains("..")) throw Fail($"storage key \"{key}\" is not a plain name");
        return new TorchStorage(key, dt, numel);
    }

    private void Push(object? v)
    {
        if (_stack.Count >= MaxStack) throw Fail("pickle stack too deep");
        _stack.Add(v);
    }

    private object? PopValue()
    {
        if (_stack.Count == 0 || (_marks.Count > 0 && _marks[^1] == _stack.Count)) throw Fail("pickle stack underflow");
        var v = _stack[^1];
        _stack.RemoveAt(_stack.Count - 1);
        return v;
    }

    private List<object?> PopMark()
    {
        if (_marks.Count == 0) throw Fail("no MARK to pop to");
        int m = _marks[^1];
        _marks.RemoveAt(_marks.Count - 1);
        var items = _stack.GetRange(m, _stack.Count - m);
        _stack.RemoveRange(m, _stack.Count - m);
        return items;
    }

    private void Memo(long index)
    {
        if (_stack.Count == 0) throw Fail("memoizing an empty stack");
        if (_memo.Count >= MaxMemo && !_memo.ContainsKey(index)) throw Fail("pickle memo too large");
        _memo[index] = _stack[^1];
    }

    private object? Recall(long index) => _memo.TryGetValue(index, out var v) ? v : throw Fail($"memo entry {index} was never stored");

    private byte Byte()
    {
        if (_pos >= _data.Length) throw Fail("pickle ends early");
        return _data[_pos++];
    }

    private ReadOnlySpan<byte> Bytes(long n)
    {
        if (n < 0 || n > _data.Length - _pos) throw Fail($"a {n}-byte field runs past the end");
        var s = _data.AsSpan(_pos, (int)n);
        _pos += (int)n;
        return s;
    }

    private long Length32() => BinaryPrimitives.ReadUInt32LittleEndian(Bytes(4));
    private long Length64()
    {
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(Bytes(8));
        return n > int.MaxValue ? throw Fail($"a {n}-byte string") : (long)n;
    }

    private long Long1(int n)
    {
        if (n > 8) throw Fail($"an integer of {n} bytes does not fit 64 bits");
        var b = Bytes(n);
        long v = 0;
        for (int i = n - 1; i >= 0; i--) v = (v << 8) | b[i];
        if (n is > 0 and < 8 && (b[n - 1] & 0x80) != 0) v -= 1L << (8 * n); // two's complement sign
        return v;
    }

    private string Utf8(ReadOnlySpan<byte> b)
    {
        try { return new UTF8Encoding(false, true).GetString(b); }
        catch (DecoderFallbackException) { throw Fail("a string is not valid UTF-8"); }
    }

    private string Line()
    {
        int end = Array.IndexOf(_data, (byte)'\n', _pos);
        if (end < 0 || end - _pos > 1024) throw Fail("GLOBAL name not terminated");
        var s = Encoding.ASCII.GetString(_data, _pos, end - _pos);
        _pos = end + 1;
        return s;
    }
}
