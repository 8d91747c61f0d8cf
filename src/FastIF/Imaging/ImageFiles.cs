using FastIF.Pipelines;

namespace FastIF.Imaging;

/// <summary>PNG files as the pipelines use them: RGB in [−1, 1] (CHW), masks and maps in [0, 1].</summary>
public static class ImageFiles
{
    /// <summary>
    /// Reads an RGB image as CHW floats in [−1, 1] at <paramref name="width"/>×<paramref name="height"/>. Another size is
    /// resized with bilinear interpolation (align_corners, no antialiasing) and <paramref name="note"/> says so.
    /// </summary>
    public static float[] LoadRgb(string path, int width, int height, out string? note)
    {
        var img = Png.Read(path);
        var chw = ImageTensor.Rgb8ToChw(img.ToRgb8(), img.Width, img.Height);
        note = null;
        if (img.Width == width && img.Height == height) return chw;
        note = $"{path}: resized {img.Width}x{img.Height} to {width}x{height} (bilinear)";
        return Resize.BilinearAlignCorners(chw, 3, img.Height, img.Width, height, width);
    }

    /// <summary>
    /// Reads a gray map in [0, 1] (the mean of R, G, B over 255) of exactly the given size. With
    /// <paramref name="binary"/>, every pixel must be black or white.
    /// </summary>
    public static float[] LoadMap(string path, int width, int height, bool binary)
    {
        var img = Png.Read(path);
        if (img.Width != width || img.Height != height)
            throw new FastIFException($"{path}: {img.Width}x{img.Height}, the image is {width}x{height}; masks and maps must match it");
        var rgb = img.ToRgb8();
        var m = new float[width * height];
        int grey = 0;
        for (int i = 0; i < m.Length; i++)
        {
            int v = (rgb[3 * i] + rgb[3 * i + 1] + rgb[3 * i + 2]) / 3;
            if (binary && v != 0 && v != 255) grey++;
            m[i] = v / 255f;
        }
        if (grey > 0) throw new FastIFException($"{path}: {grey} pixels are neither black nor white; an inpainting mask must be binary (white = paint)");
        return m;
    }

    /// <summary>
    /// Writes a contact sheet (atomically): one row per entry of <paramref name="rows"/>, each holding
    /// <paramref name="batch"/> CHW images in [−1, 1] side by side.
    /// </summary>
    public static void SaveGrid(string path, IReadOnlyList<float[]> rows, int batch, int height, int width)
    {
        int img = 3 * height * width, sheetW = batch * width;
        var rgb = new byte[rows.Count * height * sheetW * 3];
        for (int r = 0; r < rows.Count; r++)
            for (int b = 0; b < batch; b++)
            {
                var one = ImageTensor.ChwToRgb8(rows[r].AsSpan(b * img, img), width, height);
                for (int y = 0; y < height; y++)
                    one.AsSpan(y * width * 3, width * 3).CopyTo(rgb.AsSpan(((r * height + y) * sheetW + b * width) * 3));
            }
        Png.WriteRgb8(path, sheetW, rows.Count * height, rgb);
    }
}
