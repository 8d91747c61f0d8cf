namespace FastIF.Imaging;

/// <summary>
/// CRC-32 as PNG uses it (ISO 3309 / ITU-T V.42, reflected polynomial 0xEDB88320), table-driven with
/// slicing-by-4 because System.IO.Hashing is not available to us.
/// </summary>
internal static class PngCrc32
{
    private static readonly uint[] Table = BuildTable();

    private static uint[] BuildTable()
    {
        var t = new uint[4 * 256];
        for (uint n = 0; n < 256; n++)
        {
            uint c = n;
            for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            t[n] = c;
        }
        for (int n = 0; n < 256; n++)
        {
            for (int s = 1; s < 4; s++)
            {
                uint prev = t[(s - 1) * 256 + n];
                t[s * 256 + n] = (prev >> 8) ^ t[prev & 0xFF];
            }
        }
        return t;
    }

    /// <summary>Continues a running CRC (start with <see cref="Begin"/>, finish with <see cref="End"/>).</summary>
    public static uint Update(uint crc, ReadOnlySpan<byte> data)
    {
        var t = Table;
        int i = 0;
        for (; i + 4 <= data.Length; i += 4)
        {
            crc ^= (uint)(data[i] | data[i + 1] << 8 | data[i + 2] << 16 | data[i + 3] << 24);
            crc = t[768 + (crc & 0xFF)] ^ t[512 + ((crc >> 8) & 0xFF)] ^ t[256 + ((crc >> 16) & 0xFF)] ^ t[crc >> 24];
        }
        for (; i < data.Length; i++) crc = t[(crc ^ data[i]) & 0xFF] ^ (crc >> 8);
        return crc;
    }

    public const uint Begin = 0xFFFFFFFFu;

    public static uint End(uint crc) => crc ^ 0xFFFFFFFFu;

    public static uint Compute(ReadOnlySpan<byte> data) => End(Update(Begin, data));
}
