namespace FastIF.Diffusion;

/// <summary>
/// Timestep lists: diffusers' "leading" spacing for any step count, IF's named respacings
/// (<c>diffusers/pipelines/deepfloyd_if/timesteps.py</c>), and validated custom lists.
/// </summary>
public static class TimestepLists
{
    private static readonly Dictionary<string, long[]> NamedLists = new()
    {
        ["fast27"] =
        [
            999, 800, 799, 600, 599, 500, 400, 399, 377, 355, 333, 311, 288, 266, 244, 222, 200, 199, 177, 155,
            133, 111, 88, 66, 44, 22, 0,
        ],
        ["smart27"] =
        [
            999, 976, 952, 928, 905, 882, 858, 857, 810, 762, 715, 714, 572, 429, 428, 286, 285, 238, 190, 143,
            142, 118, 95, 71, 47, 24, 0,
        ],
        ["smart50"] =
        [
            999, 988, 977, 966, 955, 944, 933, 922, 911, 900, 899, 879, 859, 840, 820, 800, 799, 766, 733, 700,
            699, 650, 600, 599, 500, 499, 400, 399, 350, 300, 299, 266, 233, 200, 199, 179, 159, 140, 120, 100,
            99, 88, 77, 66, 55, 44, 33, 22, 11, 0,
        ],
        ["smart100"] =
        [
            999, 995, 992, 989, 985, 981, 978, 975, 971, 967, 964, 961, 957, 956, 951, 947, 942, 937, 933, 928,
            923, 919, 914, 913, 908, 903, 897, 892, 887, 881, 876, 871, 870, 864, 858, 852, 846, 840, 834, 828,
            827, 820, 813, 806, 799, 792, 785, 784, 777, 770, 763, 756, 749, 742, 741, 733, 724, 716, 707, 699,
            698, 688, 677, 666, 656, 655, 645, 634, 623, 613, 612, 598, 584, 570, 569, 555, 541, 527, 526, 505,
            484, 483, 462, 440, 439, 396, 395, 352, 351, 308, 307, 264, 263, 220, 219, 176, 132, 88, 44, 0,
        ],
        ["smart185"] =
        [
            999, 997, 995, 992, 990, 988, 986, 984, 981, 979, 977, 975, 972, 970, 968, 966, 964, 961, 959, 957,
            956, 954, 951, 949, 946, 944, 941, 939, 936, 934, 931, 929, 926, 924, 921, 919, 916, 914, 913, 910,
            907, 905, 902, 899, 896, 893, 891, 888, 885, 882, 879, 877, 874, 871, 870, 867, 864, 861, 858, 855,
            852, 849, 846, 843, 840, 837, 834, 831, 828, 827, 824, 821, 817, 814, 811, 808, 804, 801, 798, 795,
            791, 788, 785, 784, 780, 777, 774, 770, 766, 763, 760, 756, 752, 749, 746, 742, 741, 737, 733, 730,
            726, 722, 718, 714, 710, 707, 703, 699, 698, 694, 690, 685, 681, 677, 673, 669, 664, 660, 656, 655,
            650, 646, 641, 636, 632, 627, 622, 618, 613, 612, 607, 602, 596, 591, 586, 580, 575, 570, 569, 563,
            557, 551, 545, 539, 533, 527, 526, 519, 512, 505, 498, 491, 484, 483, 474, 466, 457, 449, 440, 439,
            428, 418, 407, 396, 395, 381, 366, 352, 351, 330, 308, 307, 286, 264, 263, 242, 220, 219, 176, 175,
            132, 131, 88, 44, 0,
        ],
        ["super27"] =
        [
            999, 991, 982, 974, 966, 958, 950, 941, 933, 925, 916, 908, 900, 899, 874, 850, 825, 800, 799, 700,
            600, 500, 400, 300, 200, 100, 0,
        ],
        ["super40"] =
        [
            999, 992, 985, 978, 971, 964, 957, 949, 942, 935, 928, 921, 914, 907, 900, 899, 879, 859, 840, 820,
            800, 799, 766, 733, 700, 699, 650, 600, 599, 500, 499, 400, 399, 300, 299, 200, 199, 100, 99, 0,
        ],
        ["super100"] =
        [
            999, 996, 992, 989, 985, 982, 979, 975, 972, 968, 965, 961, 958, 955, 951, 948, 944, 941, 938, 934,
            931, 927, 924, 920, 917, 914, 910, 907, 903, 900, 899, 891, 884, 876, 869, 861, 853, 846, 838, 830,
            823, 815, 808, 800, 799, 788, 777, 766, 755, 744, 733, 722, 711, 700, 699, 688, 677, 666, 655, 644,
            633, 622, 611, 600, 599, 585, 571, 557, 542, 528, 514, 500, 499, 485, 471, 457, 442, 428, 414, 400,
            399, 379, 359, 340, 320, 300, 299, 279, 259, 240, 220, 200, 199, 166, 133, 100, 99, 66, 33, 0,
        ],
    };

    /// <summary>Names accepted by <see cref="Named"/>.</summary>
    public static IReadOnlyCollection<string> Names => NamedLists.Keys;

    /// <summary>A named IF list (fast27, smart27, smart50, smart100, smart185, super27, super40, super100).</summary>
    public static long[] Named(string name) => NamedLists.TryGetValue(name, out var v)
        ? (long[])v.Clone()
        : throw new FastIFException($"unknown timestep list \"{name}\"; known: {string.Join(", ", NamedLists.Keys)}");

    /// <summary>
    /// diffusers <c>set_timesteps(n)</c> with "leading" spacing and an offset: <c>t_i = (n−1−i)·(T // n) + offset</c>.
    /// </summary>
    public static long[] Leading(int steps, int trainTimesteps = 1000, int offset = 0)
    {
        if (steps < 1 || steps > trainTimesteps)
            throw new FastIFException($"step count {steps} must be in [1, {trainTimesteps}]");
        long stride = trainTimesteps / steps;
        var t = new long[steps];
        for (int i = 0; i < steps; i++) t[i] = (steps - 1 - i) * stride + offset;
        if (t[0] >= trainTimesteps)
            throw new FastIFException($"steps_offset {offset} pushes the first timestep to {t[0]} (must be < {trainTimesteps})");
        return t;
    }

    /// <summary>Checks a custom list: non-empty, strictly descending, every entry in [0, trainTimesteps).</summary>
    public static long[] Custom(IReadOnlyList<long> timesteps, int trainTimesteps = 1000)
    {
        if (timesteps.Count == 0) throw new FastIFException("custom timestep list is empty");
        for (int i = 0; i < timesteps.Count; i++)
        {
            if (timesteps[i] < 0 || timesteps[i] >= trainTimesteps)
                throw new FastIFException($"custom timestep {timesteps[i]} at position {i} is outside [0, {trainTimesteps})");
            if (i > 0 && timesteps[i] >= timesteps[i - 1])
                throw new FastIFException($"custom timesteps must be strictly descending: {timesteps[i - 1]} then {timesteps[i]} at position {i}");
        }
        return timesteps.ToArray();
    }

    /// <summary>The previous timestep of each entry: the next list entry, −1 after the last (diffusers' custom-list rule,
    /// which for a leading list equals t − T // n).</summary>
    public static long[] Previous(IReadOnlyList<long> timesteps)
    {
        var p = new long[timesteps.Count];
        for (int i = 0; i < p.Length; i++) p[i] = i + 1 < p.Length ? timesteps[i + 1] : -1;
        return p;
    }

    /// <summary>A timestep list from the command line: a named list (fast27, smart50, ...) or comma-separated integers;
    /// <paramref name="option"/> names the flag in errors.</summary>
    public static long[] Parse(string spec, string option = "--timesteps") =>
        spec.Contains(',') || long.TryParse(spec, out _)
            ? Custom(spec.Split(',').Select(s => long.TryParse(s.Trim(), out var v) ? v
                : throw new FastIFException($"{option}: \"{s}\" is not an integer")).ToList())
            : Named(spec);
}
