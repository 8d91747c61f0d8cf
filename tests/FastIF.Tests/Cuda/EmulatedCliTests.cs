using FastIF.Native;
using FastIF.Tests.Cli;

namespace FastIF.Tests.Cuda;

/// <summary>
/// Under the CUDA emulator the CLI never passes CPU results off as a GPU's: timing commands refuse the emulated device and
/// <c>fastif kernels</c> says that it built host code, not PTX. Runs only under FASTIF_CUDA_EMULATOR.
/// </summary>
[Collection("console")]
public class EmulatedCliTests
{
    private static void RequireEmulator()
    {
        if (!NativeLibraries.IsEmulated) Assert.Skip($"{NativeLibraries.EmulatorVariable} is not set");
    }

    [Theory]
    [InlineData("bench")]
    [InlineData("profile")]
    public void TimingCommandsRefuseTheEmulatedGpu(string command)
    {
        RequireEmulator();
        var (code, _, err) = CliRunner.Run(command, "--backend", "cuda", "--preset", "tiny", "--batch", "1");
        Assert.NotEqual(0, code);
        Assert.Contains("timings say nothing about a GPU", err);
    }

    [Fact]
    public void KernelsSaysItBuiltHostCodeAndWritesNoPtx()
    {
        RequireEmulator();
        var (code, output, err) = CliRunner.Run("kernels", "--arch", "sm_90");
        Assert.True(code == 0, err);
        Assert.Contains("EMULATED", output);
        var dir = Path.Combine(Path.GetTempPath(), "fastif-emu-ptx-" + Guid.NewGuid().ToString("N"));
        (code, _, err) = CliRunner.Run("kernels", "--arch", "sm_90", "--ptx", dir);
        Assert.Equal(2, code);
        Assert.Contains("makes no PTX", err);
        Assert.False(Directory.Exists(dir));
    }
}
