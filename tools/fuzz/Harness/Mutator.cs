using System.Buffers.Binary;
using System.Text;

namespace FastIF.Fuzz;

/// <summary>
/// Turns a valid input into a hostile one: bit flips, boundary bytes, truncations, insertions, duplicated chunks,
/// overflowing little-endian integers, and JSON-aware edits (huge or negative numbers, deep nesting). Deterministic for
/// a given <see cref="Random"/>, so a failure's seed reproduces it.
/// </summary>
public static class Mutator
{
    private static readonly byte[] Boundary = [0x00, 0x01, 0x7F, 0x80, 0xFF, (byte)'"', (byte)'{', (byte)'[', (byte)'-'];
    private static readonly long[] Integers = [0, -1, 1, int.MaxValue, (long)int.MaxValue + 1, uint.MaxValue, long.MaxValue, long.MinValue, 1L << 40];
    private static readonly string[] JsonNumbers = ["-1", "0", "99999999999999999999999", "1e308", "-1e308", "4294967296", "9223372036854775807", "NaN", "1.5"];

    /// <summary>Applies one to four random mutations to a copy of <paramref name="input"/>.</summary>
    public static byte[] Mutate(byte[] input, Random r)
    {
        var data = (byte[])input.Clone();
        int n = r.Next(1, 5);
        for (int i = 0; i < n; i++) data = Once(data, r);
        return data;
    }

    private static byte[] Once(byte[] d, Random r)
    {
        switch (r.Next(10))
        {
            case 0 when d.Length > 0:
                d[r.Next(d.Length)] ^= (byte)(1 << r.Next(8));
                return d;
            case 1 when d.Length > 0:
                d[r.Next(d.Length)] = Boundary[r.Next(Boundary.Length)];
                return d;
            case 2:
                return d[..r.Next(d.Length + 1)];
            case 3:
            {
                var extra = new byte[r.Next(1, 64)];
                r.NextBytes(extra);
                int at = r.Next(d.Length + 1);
                return [.. d[..at], .. extra, .. d[at..]];
            }
            case 4 when d.Length > 1:
            {
                int a = r.Next(d.Length), len = r.Next(1, Math.Min(256, d.Length - a) + 1), at = r.Next(d.Length + 1);
                return [.. d[..at], .. d.AsSpan(a, len), .. d[at..]];
            }
            case 5 when d.Length >= 8:
            {
                int at = r.Next(d.Length - 7);
                BinaryPrimitives.WriteInt64LittleEndian(d.AsSpan(at), Integers[r.Next(Integers.Length)]);
                return d;
            }
            case 6:
                return JsonNumber(d, r);
            case 7:
            {
                // Deep nesting: parsers must refuse it, not recurse until the stack ends.
                int depth = r.Next(2) == 0 ? 100 : 100_000;
                var open = r.Next(2) == 0 ? "[" : "{\"a\":";
                var close = open == "[" ? "]" : "}";
                var nest = Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat(open, depth)) + "1" + string.Concat(Enumerable.Repeat(close, depth)));
                int at = r.Next(d.Length + 1);
                return [.. d[..at], .. nest, .. d[at..]];
            }
            case 8 when d.Length > 0:
            {
                int a = r.Next(d.Length), len = r.Next(1, Math.Min(64, d.Length - a) + 1);
                return [.. d[..a], .. d[(a + len)..]];
            }
            default:
            {
                var junk = new byte[r.Next(0, 32)];
                r.NextBytes(junk);
                return r.Next(2) == 0 ? [.. d, .. junk] : junk;
            }
        }
    }

    /// <summary>Replaces one run of digits (a JSON number, a length, an offset) with a hostile number.</summary>
    private static byte[] JsonNumber(byte[] d, Random r)
    {
        var starts = new List<int>();
        for (int i = 0; i < d.Length; i++)
            if (char.IsAsciiDigit((char)d[i]) && (i == 0 || !char.IsAsciiDigit((char)d[i - 1]))) starts.Add(i);
        if (starts.Count == 0) return d;
        int s = starts[r.Next(starts.Count)], e = s;
        while (e < d.Length && char.IsAsciiDigit((char)d[e])) e++;
        return [.. d[..s], .. Encoding.ASCII.GetBytes(JsonNumbers[r.Next(JsonNumbers.Length)]), .. d[e..]];
    }
}
