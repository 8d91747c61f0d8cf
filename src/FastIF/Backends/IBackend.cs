using FastIF.Tensors;

namespace FastIF.Backends;

/// <summary>Activation applied in an op's epilogue.</summary>
public enum Activation
{
    /// <summary>Identity.</summary>
    None,
    /// <summary>Exact erf GELU, 0.5·x·(1+erf(x/√2)) (PyTorch nn.GELU default; what the IF UNet uses).</summary>
    Gelu,
    /// <summary>The tanh approximation 0.5·x·(1+tanh(√(2/π)·(x+0.044715·x³))) (HF <c>gelu_new</c>; what T5 v1.1 uses).</summary>
    GeluTanh,
}

/// <summary>
/// The op interface every model is written against once (ggml-style): the CPU backend is the fp32
/// reference, the CUDA backend implements the same contract. Image tensors are logical NCHW
/// <c>[B, C, H, W]</c>; token tensors are <c>[B, L, C]</c>; vectors are <c>[B, C]</c>. Weights keep
/// their PyTorch shapes (<c>Linear [out, in]</c>, <c>Conv2d [out, in, kh, kw]</c>). Every op returns a
/// new tensor that the caller owns; no op modifies its inputs.
/// </summary>
public interface IBackend : IDisposable
{
    /// <summary>Short name ("cpu", "cuda").</summary>
    string Name { get; }

    /// <summary>Copies fp32 host data into a new tensor of the given shape.</summary>
    Tensor FromHost(ReadOnlySpan<float> data, Shape shape);

    /// <summary>Copies a tensor to host memory as fp32; <paramref name="dest"/> holds exactly its elements.</summary>
    void ToHost(Tensor t, Span<float> dest);

    /// <summary>Creates a weight tensor from raw little-endian file bytes in <paramref name="dtype"/>,
    /// converting once to the backend's storage type and layout.</summary>
    Tensor LoadWeight(ReadOnlySpan<byte> raw, DType dtype, Shape shape);

    /// <summary>Says that a model's weights are loaded: the backend may release what only loading needed (the CUDA
    /// backend's staging blocks, which its caching pool would otherwise keep). Loading more later is allowed.</summary>
    void LoadFinished();

    /// <summary>
    /// Stride-1 2-D convolution with zero padding <paramref name="padding"/> on every side, plus bias,
    /// then <c>out = (conv + residual) · outScale</c> when a residual is given (ResNet tail fusion).
    /// x <c>[B, Cin, H, W]</c>, w <c>[Cout, Cin, kh, kw]</c>, bias <c>[Cout]</c>, residual like the output or, with
    /// <paramref name="upsampledResidual"/>, <c>[B, Cout, oh/2, ow/2]</c> read through nearest ×2 upsampling (an upsampler
    /// ResNet's skip, never materialised at full resolution).
    /// </summary>
    Tensor Conv2d(Tensor x, Tensor w, Tensor? bias, int padding, Tensor? residual = null, float outScale = 1f, bool upsampledResidual = false);

    /// <summary><c>y = act(x·wᵀ + bias)</c> over the last axis; x <c>[..., in]</c>, w <c>[out, in]</c>. With
    /// <paramref name="residual"/> (shaped like y; only without an activation) <c>y = x·wᵀ + bias + residual</c>, the sum
    /// made by the GEMM itself (an attention output projection plus its layer's input).</summary>
    Tensor Linear(Tensor x, Tensor w, Tensor? bias, Activation act = Activation.None, Tensor? residual = null);

    /// <summary>
    /// GroupNorm over an image <c>[B, C, H, W]</c> (statistics per sample over C/groups channels × H × W,
    /// biased variance), per-channel affine, then optional FiLM <c>h·(1+scale)+shift</c> with
    /// <paramref name="scaleShift"/> <c>[B, 2C]</c> (first half scale), then the activation. With
    /// <paramref name="inputBias"/> <c>[C]</c> the image normalised is <c>x + inputBias</c> (per channel): the bias of the
    /// convolution that made x, folded in so that convolution needs no epilogue pass.
    /// </summary>
    Tensor GroupNorm(Tensor x, int groups, float eps, Tensor gamma, Tensor beta, Tensor? scaleShift = null,
        Activation act = Activation.None, Tensor? inputBias = null);

    /// <summary>
    /// <see cref="GroupNorm"/> (affine and activation, no FiLM) followed by 2×2 average pooling, without the
    /// full-resolution result: <c>AvgPool2x2(GroupNorm(x, groups, eps, gamma, beta, null, act))</c> (a downsampler
    /// ResNet's norm1). H and W must be even.
    /// </summary>
    Tensor GroupNormPool2x(Tensor x, int groups, float eps, Tensor gamma, Tensor beta, Activation act = Activation.None);

    /// <summary>GroupNorm over a token tensor <c>[B, L, C]</c> seen as <c>[B, C, L]</c>: statistics span all L tokens.</summary>
    Tensor GroupNormTokens(Tensor x, int groups, float eps, Tensor gamma, Tensor beta);

    /// <summary>LayerNorm over the last axis with affine.</summary>
    Tensor LayerNorm(Tensor x, float eps, Tensor gamma, Tensor beta);

    /// <summary>RMS norm over the last axis (T5's LayerNorm): <c>x·rsqrt(mean(x²) + eps)·gamma</c>, no mean, no bias;
    /// statistics in fp32 or better.</summary>
    Tensor RmsNorm(Tensor x, float eps, Tensor gamma);

    /// <summary>Elementwise product <c>act(a)·b</c> of two tensors of the same shape: T5's gated feed-forward in one pass
    /// (the gate's activation computed in fp32 on the way, not stored).</summary>
    Tensor Multiply(Tensor a, Tensor b, Activation actA = Activation.None);

    /// <summary>Same values under a new shape with equal element count. Only for token and vector tensors
    /// (rank ≤ 3, channels last), whose logical order every backend stores as is.</summary>
    Tensor Reshape(Tensor x, Shape shape);

    /// <summary>Elementwise activation.</summary>
    Tensor Activate(Tensor x, Activation act);

    /// <summary><c>a + b</c>; b has a's shape or a's trailing shape (broadcast over a's leading axes).</summary>
    Tensor Add(Tensor a, Tensor b);

    /// <summary>2×2 average pooling, stride 2 (H and W must be even).</summary>
    Tensor AvgPool2x2(Tensor x);

    /// <summary>Nearest-neighbour ×2 upsampling.</summary>
    Tensor UpsampleNearest2x(Tensor x);

    /// <summary>
    /// Interleaves the four phase planes of a ×2 sub-pixel convolution: <paramref name="phases"/> <c>[B, 4C, H+1, W+1]</c>,
    /// channel block <c>p = 2a + c</c> holding phase (a, c), becomes <c>[B, C, 2H, 2W]</c> with
    /// <c>out[b, ch, 2i+a, 2j+c] = phases[b, p·C + ch, i+a, j+c]</c>. After a 2×2 convolution (padding 1) with the phase
    /// weights of a 3×3 kernel this is "nearest ×2 upsample, then that 3×3 convolution" at 4/9 of its multiply-adds.
    /// </summary>
    Tensor ShufflePhases2x(Tensor phases);

    /// <summary>Concatenation of two images along channels: <c>[a, b]</c>.</summary>
    Tensor ConcatChannels(Tensor a, Tensor b);

    /// <summary>
    /// <see cref="GroupNorm"/> of the channel concatenation <c>[a, b]</c> without materialising it: exactly
    /// <c>GroupNorm(ConcatChannels(a, b), groups, eps, gamma, beta, null, act)</c>. a <c>[B, Ca, H, W]</c>,
    /// b <c>[B, Cb, H, W]</c>, gamma/beta <c>[Ca + Cb]</c>; a group may hold channels of both (the UNet up path's skips).
    /// </summary>
    Tensor GroupNormConcat(Tensor a, Tensor b, int groups, float eps, Tensor gamma, Tensor beta, Activation act = Activation.None);

    /// <summary>
    /// The 1×1 convolution of the channel concatenation <c>[a, b]</c> without materialising it: exactly
    /// <c>Conv2d(ConcatChannels(a, b), w, bias, 0)</c>. a <c>[B, Ca, H, W]</c>, b <c>[B, Cb, H, W]</c>,
    /// w <c>[Cout, Ca + Cb, 1, 1]</c>, bias <c>[Cout]</c> (the up ResNets' <c>conv_shortcut</c>).
    /// </summary>
    Tensor Conv1x1Concat(Tensor a, Tensor b, Tensor w, Tensor? bias);

    /// <summary>Concatenation of two token tensors along the token axis: <c>[a; b]</c>.</summary>
    Tensor ConcatTokens(Tensor a, Tensor b);

    /// <summary>Mean over tokens: <c>[B, L, C]</c> → <c>[B, 1, C]</c>.</summary>
    Tensor MeanTokens(Tensor x);

    /// <summary>Image to tokens: <c>[B, C, H, W]</c> → <c>[B, H·W, C]</c> (row-major positions).</summary>
    Tensor ToTokens(Tensor x);

    /// <summary>Tokens to image: <c>[B, H·W, C]</c> → <c>[B, C, H, W]</c>, optionally adding <paramref name="residual"/> (an image).</summary>
    Tensor FromTokens(Tensor x, int height, int width, Tensor? residual = null);

    /// <summary>
    /// Multi-head attention, heads split along channels (head h = channels h·d … h·d+d−1):
    /// <c>softmax(q·kᵀ·scale + bias)·v</c> with softmax in fp32 over the keys of <paramref name="k"/> followed by
    /// those of <paramref name="k2"/> when given (IF's text keys then image keys, without a concatenation).
    /// q <c>[B, Nq, C]</c>, k/v <c>[B, Nk, C]</c>, k2/v2 <c>[B, Nk2, C]</c> → <c>[B, Nq, C]</c>.
    /// <paramref name="scoreBias"/> (T5's relative position bias plus its key padding mask) is added to the scaled scores:
    /// an fp32 vector of <c>Bb·heads·Nq·Nk</c> values, row-major <c>[Bb, heads, Nq, Nk]</c> with Bb = 1 (shared by the
    /// batch) or B; flat so that every backend keeps it in fp32 (a masked key is a large negative such as float.MinValue:
    /// a row with every key masked then averages its values instead of producing NaN).
    /// </summary>
    Tensor Attention(Tensor q, Tensor k, Tensor v, int heads, float scale, Tensor? k2 = null, Tensor? v2 = null, Tensor? scoreBias = null);

    /// <summary>
    /// Sinusoidal timestep features of <paramref name="timesteps"/> <c>[B]</c> (float values of integer
    /// steps): frequencies <c>exp(−ln(10⁴)·k/(half−shift))</c>, <c>[sin, cos]</c> or, flipped, <c>[cos, sin]</c>.
    /// </summary>
    Tensor Sinusoid(Tensor timesteps, int dim, bool flipSinToCos, float freqShift);
}
