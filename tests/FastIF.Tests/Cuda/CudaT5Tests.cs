using FastIF.Models.T5;
using FastIF.Tensors;
using FastIF.Weights;

namespace FastIF.Tests.Cuda;

/// <summary>The T5 encoder on the CUDA backend against the same fixtures the CPU answers to (skips without a GPU).</summary>
[Collection("gpu")]
public class CudaT5Tests
{
    [Theory]
    [InlineData("t5-tiny", "fp32", 1e-5, 2e-4)]
    [InlineData("t5-tiny-sharded", "fp32", 1e-5, 2e-4)]
    [InlineData("t5-tiny", "bf16", 3e-2, 0.3)]
    public void EncoderMatchesTheReferenceOnTheGpu(string model, string precision, double relL2, double maxAbs)
    {
        var be = CudaBackendParityTests.Backend(precision == "fp32" ? DType.F32 : DType.BF16);
        var dir = Fixtures.Require("t5", model);
        using var io = SafetensorsFile.Open(Path.Combine(dir, "io.safetensors"));
        var ids = io.ReadInt64("input_ids").Select(v => (int)v).ToArray();
        var mask = io.ReadInt64("attention_mask").Select(v => (int)v).ToArray();
        var shape = io.GetEntry("input_ids").Shape;
        using var enc = T5Encoder.Load(dir, be, new T5EncoderOptions(StreamWeights: false));
        using var y = enc.Encode(ids, mask, shape[0], shape[1], cancel: TestContext.Current.CancellationToken);
        Numerics.AssertClose($"{model} on cuda {precision}", io.ReadFloat32("last_hidden_state"), y.ToArray(), relL2, maxAbs);
    }
}
