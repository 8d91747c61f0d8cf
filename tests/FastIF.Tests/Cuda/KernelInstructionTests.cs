using System.Text;
using System.Text.RegularExpressions;
using FastIF.Native;
using FastIF.Runtime;

namespace FastIF.Tests.Cuda;

/// <summary>
/// What the compiler made of the hottest memory-bound kernels, read from NVRTC's PTX without a GPU. An integer
/// division or remainder by a run-time divisor costs tens of instructions (64-bit ones a called subroutine), more than
/// such a kernel's work per element; per-element index arithmetic once made every GroupNorm element pay several. These
/// kernels may divide only while setting up or once per pixel (a handful of 32-bit divisions), never per element.
/// </summary>
public class KernelInstructionTests
{
    private static readonly Lazy<Dictionary<string, string>> Bodies = new(() =>
    {
        var bodies = new Dictionary<string, string>();
        foreach (var src in KernelSources.Sources)
        {
            var r = KernelCompiler.Compile(src.Name, src.Text, KernelSources.Headers, "sm_90", "compute_90");
            Assert.True(r.Success, $"{src.Name}: {r.Log}");
            foreach (Match m in Regex.Matches(Encoding.UTF8.GetString(r.Ptx), @"\.entry\s+(\w+)\((.*?)\n\}", RegexOptions.Singleline))
                bodies[m.Groups[1].Value] = m.Groups[2].Value;
        }
        return bodies;
    });

    // Divisions the kernel's structure needs: block → (sample, group, run), channels per group, the run's bounds and the
    // walk's carry for the GroupNorms (twice where the kernel holds a plain and a biased reader); a pixel's coordinates,
    // once per pixel, for the per-pixel kernels.
    [Theory]
    [InlineData("groupnorm_partial", 7)]
    [InlineData("groupnorm_apply", 9)]
    [InlineData("groupnorm_concat_partial", 7)]
    [InlineData("groupnorm_concat_apply", 8)]
    [InlineData("groupnorm_pool2_apply", 10)]
    [InlineData("bias_residual", 2)]
    [InlineData("avgpool2", 3)]
    [InlineData("upsample2", 3)]
    [InlineData("shuffle_phases2", 3)]
    public void HotKernelsDoNotDividePerElement(string kernel, int setupDivisions)
    {
        NvrtcCompileTests.RequireLibrary(NativeLibraries.Nvrtc);
        foreach (var sfx in new[] { "f32", "f16", "bf16" })
        {
            string name = $"fastif_{kernel}_{sfx}";
            Assert.True(Bodies.Value.TryGetValue(name, out var body), $"{name} is not in the compiled kernels");
            int wide = Regex.Matches(body, @"\b(?:div|rem)\.[su]64\b").Count;
            int narrow = Regex.Matches(body, @"\b(?:div|rem)\.[su]32\b").Count;
            Assert.True(wide == 0, $"{name} has {wide} 64-bit integer divisions or remainders");
            Assert.True(narrow <= setupDivisions, $"{name} has {narrow} 32-bit integer divisions or remainders (setup needs {setupDivisions})");
        }
    }
}
