namespace FastIF.Tensors;

/// <summary>Small host-array helpers shared by pipelines and the CLI.</summary>
public static class HostArrays
{
    /// <summary><paramref name="one"/> repeated <paramref name="batch"/> times (one item → a batch of identical items).</summary>
    public static float[] Repeat(float[] one, int batch)
    {
        var r = new float[one.Length * batch];
        for (int b = 0; b < batch; b++) one.CopyTo(r, b * one.Length);
        return r;
    }
}
