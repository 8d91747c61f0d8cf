using System.Runtime.InteropServices;
using System.Text;
using System.Text.RegularExpressions;
using FastIF.Backends.Cuda;
using FastIF.Native;
using FastIF.Runtime;
using FastIF.Sampling;

namespace FastIF.Tests.Cuda;

/// <summary>
/// The host side of kernels/step.cu held to the kernels without a GPU: the structs the kernels read have the layout the
/// source's static_asserts pin, and every kernel the host launches exists in the compiled PTX with the parameter count
/// the host packs.
/// </summary>
public class StepKernelContractTests
{
    [Fact]
    public void HostStructsHaveTheKernelsLayout()
    {
        Assert.Equal(96, Marshal.SizeOf<StepRow>());
        Assert.Equal((32, 56, 88, 92), (Off<StepRow>(nameof(StepRow.NoiseDraw)), Off<StepRow>(nameof(StepRow.SqrtAlphaBar)),
            Off<StepRow>(nameof(StepRow.Threshold)), Off<StepRow>(nameof(StepRow.Index))));
        Assert.Equal(128, Marshal.SizeOf<StepRunConstants>());
        Assert.Equal((72, 80, 96, 120), (Off<StepRunConstants>(nameof(StepRunConstants.Rows)), Off<StepRunConstants>(nameof(StepRunConstants.Ratio)),
            Off<StepRunConstants>(nameof(StepRunConstants.Batch)), Off<StepRunConstants>(nameof(StepRunConstants.Soft))));
        // The same sizes as the source's static_asserts, and the same field order as its structs.
        var src = File.ReadAllText(Path.Combine(NvrtcCompileTests.KernelDir(), "step.cu"));
        Assert.Contains("sizeof(fastif_step_row) == 96", src);
        Assert.Contains("sizeof(fastif_step_run) == 128", src);
        Assert.Equal(["X0Coef", "XtCoef", "MinLog", "MaxLog", "NoiseDraw", "BeforeDraw", "AfterDraw", "SqrtAlphaBar", "SqrtOneMinusAlphaBar",
            "FixedStd", "TimestepValue", "BeforeSa", "BeforeSb", "AfterSa", "AfterSb", "Threshold", "Index"], Fields<StepRow>());
        Assert.Equal(Regex.Replace(StructBody(src, "fastif_step_row"), "[^a-z0-9_,;]", "").Replace("double", "").Replace("longlong", "")
            .Replace("float", "").Replace("int", "").Split(new[] { ',', ';' }, StringSplitOptions.RemoveEmptyEntries),
            Fields<StepRow>().Select(Snake));
    }

    private static int Off<T>(string field) => (int)Marshal.OffsetOf<T>(field);

    private static string[] Fields<T>() => typeof(T).GetFields().OrderBy(f => Marshal.OffsetOf<T>(f.Name)).Select(f => f.Name).ToArray();

    private static string StructBody(string src, string name)
    {
        int i = src.IndexOf("struct " + name + " {", StringComparison.Ordinal);
        Assert.True(i >= 0, name + " not found");
        int open = src.IndexOf('{', i), close = src.IndexOf("};", open, StringComparison.Ordinal);
        return string.Join("\n", src[(open + 1)..close].Split('\n').Select(l => l.Split("//")[0]));
    }

    // X0Coef -> x0_coef, SqrtOneMinusAlphaBar -> the kernel's sqrt_1mab, and so on: the kernel's names for the host's fields.
    private static string Snake(string name) => name switch
    {
        "SqrtAlphaBar" => "sqrt_ab", "SqrtOneMinusAlphaBar" => "sqrt_1mab", "TimestepValue" => "t_value",
        _ => Regex.Replace(name, "(?<=[a-z0-9])([A-Z])", "_$1").ToLowerInvariant(),
    };

    [Fact]
    public void EveryLaunchedKernelExistsWithItsParameterCount()
    {
        NvrtcCompileTests.RequireLibrary(NativeLibraries.Nvrtc);
        var r = KernelCompiler.Compile("step.cu", KernelSources.Get("step.cu").Text, KernelSources.Headers, "sm_80", "compute_80");
        Assert.True(r.Success, r.Log);
        var ptx = Encoding.UTF8.GetString(r.Ptx);
        var entries = Regex.Matches(ptx, @"\.entry (fastif_step_\w+)\(([^)]*)\)")
            .ToDictionary(m => m.Groups[1].Value["fastif_step_".Length..], m => Regex.Matches(m.Groups[2].Value, @"\.param").Count);
        Assert.Equal(CudaStepKernels.Arity.Keys.Order(), entries.Keys.Order());
        foreach (var (name, count) in CudaStepKernels.Arity)
            Assert.True(entries[name] == count, $"fastif_step_{name}: the PTX takes {entries[name]} parameters, the host packs {count}");
    }
}
