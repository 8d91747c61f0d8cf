namespace FastIF.Sampling;

/// <summary>
/// RePaint's resampling walk (Lugmayr et al. 2022, <c>get_schedule_jump</c>): going down the n levels, after every
/// <c>jumpLength</c> levels jump back up <c>jumpLength</c> levels, <c>jumpCount − 1</c> times per point, so the known
/// and generated regions harmonise. The result is a <see cref="SamplerRequest.Levels"/> walk.
/// </summary>
public static class RePaintSchedule
{
    /// <summary>The level walk for <paramref name="n"/> timesteps.</summary>
    public static int[] Levels(int n, int jumpLength, int jumpCount)
    {
        if (n < 1) throw new FastIFException("RePaint needs at least one timestep");
        if (jumpLength < 1 || jumpCount < 1) throw new FastIFException($"RePaint jump length {jumpLength} and count {jumpCount} must be at least 1");
        var jumps = new Dictionary<int, int>();
        for (int j = 0; j < n - jumpLength; j += jumpLength) jumps[j] = jumpCount - 1;
        var walk = new List<int> { n };
        int t = n;
        while (t >= 1)
        {
            t--;
            walk.Add(t);
            if (jumps.TryGetValue(t, out var left) && left > 0)
            {
                jumps[t] = left - 1;
                for (int k = 0; k < jumpLength; k++) walk.Add(++t);
            }
        }
        return [.. walk];
    }
}
