// cuDNN stand-in for FastIF's CUDA emulator: the legacy convolution API that FastIF binds (src/FastIF/Native/CudnnApi.cs),
// computed on the CPU with fp32 accumulation. The backend (graph) API is exported only so the library resolves: every
// call to it is refused.
//
// What is emulated, and how faithfully:
//   * Handles and descriptors are heap objects tracked in a registry, so a destroyed, foreign or wrong-kind handle is
//     reported instead of dereferenced.
//   * Status codes are cuDNN 9's (BAD_PARAM = 2000, NOT_SUPPORTED = 3000, ...), matching cudnnGetVersion() = 90300 and
//     the libcudnn.so.9 soname this library stands in for.
//   * Data: FLOAT, HALF and BFLOAT16 tensors, NCHW or NHWC (packed, as cudnnSetTensor4dDescriptor makes them); filters
//     NCHW ([K,C,R,S]) or NHWC ([K,R,S,C]). Compute type FLOAT only (FLOAT_CONFIG, PSEUDO_HALF_CONFIG,
//     PSEUDO_BFLOAT16_CONFIG); TRUE_HALF_CONFIG, DOUBLE and the integer configurations are refused.
//   * Math type: FLOAT data under DEFAULT, TENSOR_OP or TENSOR_OP_ALLOW_CONVERSION math may run on TF32 tensor cores on
//     the GPUs FastIF targets (Ampere and newer), so x and w are rounded to TF32 (10-bit mantissa) there; FMA math keeps
//     full fp32. HALF and BFLOAT16 data are converted exactly to fp32; the output is rounded once.
//   * Algorithms: IMPLICIT_GEMM (0) and IMPLICIT_PRECOMP_GEMM (1) run (identically, with no workspace); the others are
//     reported as NOT_SUPPORTED by the algorithm queries and refused by the compute calls.
//   * cudnnFindConvolutionForwardAlgorithmEx leaves y holding "arbitrary values" as documented: it fills y with NaN, so
//     a caller that reads y after Find without computing it is caught.
//   * Work runs through emu::enqueue on the handle's stream, with descriptors, pointers and host scalars captured by
//     value at call time.
#include "emu_common.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#define EMU_CUDNN_EXPORT extern "C" __attribute__((visibility("default")))

namespace {

// cudnnStatus_t (cuDNN 9, cudnn_graph.h).
constexpr int ST_SUCCESS = 0;
constexpr int ST_BAD_PARAM = 2000;
constexpr int ST_NOT_SUPPORTED = 3000;

// cudnnDataType_t.
constexpr int DT_FLOAT = 0, DT_DOUBLE = 1, DT_HALF = 2, DT_INT8 = 3, DT_INT32 = 4, DT_BF16 = 9;
constexpr int DT_LAST_KNOWN = 21;  // CUDNN_DATA_COMPLEX_FP64 (cuDNN 9.14)
// cudnnTensorFormat_t.
constexpr int FMT_NCHW = 0, FMT_NHWC = 1, FMT_NCHW_VECT_C = 2;
// cudnnConvolutionMode_t.
constexpr int CONV_CONVOLUTION = 0, CONV_CROSS_CORRELATION = 1;
// cudnnMathType_t.
constexpr int MATH_DEFAULT = 0, MATH_FMA = 3;
// cudnnConvolutionFwdAlgo_t.
constexpr int ALGO_IMPLICIT_GEMM = 0, ALGO_IMPLICIT_PRECOMP_GEMM = 1, ALGO_COUNT = 8;
// cudnnActivationMode_t.
constexpr int ACT_RELU = 1, ACT_IDENTITY = 5, ACT_LAST = 6;  // SWISH = 6
// cudnnNanPropagation_t.
constexpr int NAN_NOT_PROPAGATE = 0, NAN_PROPAGATE = 1;
// cudnnDeterminism_t.
constexpr int DETERMINISTIC = 1;

const char* algo_name(int a) {
    static const char* names[] = {"IMPLICIT_GEMM", "IMPLICIT_PRECOMP_GEMM", "GEMM", "DIRECT", "FFT", "FFT_TILING",
                                  "WINOGRAD", "WINOGRAD_NONFUSED"};
    return a >= 0 && a < ALGO_COUNT ? names[a] : "(invalid)";
}

const char* dtype_name(int t) {
    switch (t) {
        case DT_FLOAT: return "FLOAT";
        case DT_DOUBLE: return "DOUBLE";
        case DT_HALF: return "HALF";
        case DT_INT8: return "INT8";
        case DT_INT32: return "INT32";
        case 5: return "INT8x4";
        case 6: return "UINT8";
        case 7: return "UINT8x4";
        case 8: return "INT8x32";
        case DT_BF16: return "BFLOAT16";
        case 10: return "INT64";
        case 11: return "BOOLEAN";
        case 12: return "FP8_E4M3";
        case 13: return "FP8_E5M2";
        case 14: return "FAST_FLOAT_FOR_FP8";
        default: return "(other)";
    }
}

const char* format_name(int f) { return f == FMT_NCHW ? "NCHW" : f == FMT_NHWC ? "NHWC" : f == FMT_NCHW_VECT_C ? "NCHW_VECT_C" : "(invalid)"; }

bool storage_type(int t) { return t == DT_FLOAT || t == DT_HALF || t == DT_BF16; }
size_t elem_size(int t) { return t == DT_FLOAT ? 4 : 2; }

// ---- objects and their registry ----

enum class Kind { Handle, Tensor, Filter, Conv, Activation };

const char* kind_name(Kind k) {
    switch (k) {
        case Kind::Handle: return "cudnnHandle_t";
        case Kind::Tensor: return "cudnnTensorDescriptor_t";
        case Kind::Filter: return "cudnnFilterDescriptor_t";
        case Kind::Conv: return "cudnnConvolutionDescriptor_t";
        default: return "cudnnActivationDescriptor_t";
    }
}

struct Handle {
    void* stream = nullptr;  // CUstream; null = legacy default stream
};

struct TensorDesc {
    bool set = false;
    int dtype = 0, format = 0, n = 0, c = 0, h = 0, w = 0;
    int64_t sn = 0, sc = 0, sh = 0, sw = 0;  // element strides
    int64_t at(int64_t in, int64_t ic, int64_t ih, int64_t iw) const { return in * sn + ic * sc + ih * sh + iw * sw; }
    int64_t elements() const { return (int64_t)n * c * h * w; }
    int64_t span_bytes() const {
        return ((int64_t)(n - 1) * sn + (int64_t)(c - 1) * sc + (int64_t)(h - 1) * sh + (int64_t)(w - 1) * sw + 1) *
               (int64_t)elem_size(dtype);
    }
};

struct FilterDesc {
    bool set = false;
    int dtype = 0, format = 0, k = 0, c = 0, r = 0, s = 0;
    int64_t at(int64_t ik, int64_t ic, int64_t ir, int64_t is) const {
        return format == FMT_NCHW ? ((ik * c + ic) * r + ir) * s + is : ((ik * r + ir) * s + is) * c + ic;
    }
    int64_t span_bytes() const { return (int64_t)k * c * r * s * (int64_t)elem_size(dtype); }
};

struct ConvDesc {
    bool set = false;
    int padH = 0, padW = 0, strH = 1, strW = 1, dilH = 1, dilW = 1, mode = CONV_CROSS_CORRELATION, compute = DT_FLOAT;
    int math = MATH_DEFAULT;  // cudnnCreateConvolutionDescriptor's default
};

struct ActDesc {
    bool set = false;
    int mode = 0, nanOpt = 0;
    double coef = 0;
};

std::mutex g_mutex;
std::unordered_map<const void*, Kind> g_live;

template <class T>
T* make(Kind k) {
    T* p = new T();
    std::lock_guard<std::mutex> lock(g_mutex);
    g_live[p] = k;
    return p;
}

// The object behind `p` if it is a live object of kind `k`; otherwise null, with `why` saying what it is instead.
template <class T>
T* lookup(const void* p, Kind k, std::string* why) {
    if (!p) { *why = std::string("null ") + kind_name(k); return nullptr; }
    std::lock_guard<std::mutex> lock(g_mutex);
    auto it = g_live.find(p);
    if (it == g_live.end()) { *why = std::string(kind_name(k)) + " that is not a live cuDNN object (destroyed, or never created)"; return nullptr; }
    if (it->second != k) { *why = std::string("a ") + kind_name(it->second) + " where a " + kind_name(k) + " was expected"; return nullptr; }
    return static_cast<T*>(const_cast<void*>(p));
}

int destroy(const void* p, Kind k, const char* api) {
    if (!p) return ST_SUCCESS;  // destroying NULL is a no-op
    bool live;
    {
        std::lock_guard<std::mutex> lock(g_mutex);
        auto it = g_live.find(p);
        live = it != g_live.end() && it->second == k;
        if (live) g_live.erase(it);
    }
    if (!live) {
        std::string why;
        lookup<void>(p, k, &why);
        emu::unsupported(api, "bad parameter: " + why);
        return ST_BAD_PARAM;
    }
    switch (k) {
        case Kind::Handle: delete static_cast<const Handle*>(p); break;
        case Kind::Tensor: delete static_cast<const TensorDesc*>(p); break;
        case Kind::Filter: delete static_cast<const FilterDesc*>(p); break;
        case Kind::Conv: delete static_cast<const ConvDesc*>(p); break;
        case Kind::Activation: delete static_cast<const ActDesc*>(p); break;
    }
    return ST_SUCCESS;
}

int bad(const char* api, const std::string& what) {
    emu::unsupported(api, "bad parameter: " + what);
    return ST_BAD_PARAM;
}

int refuse(const char* api, const std::string& what) {
    emu::unsupported(api, "not supported: " + what);
    return ST_NOT_SUPPORTED;
}

std::string describe(const TensorDesc& t) {
    char b[160];
    std::snprintf(b, sizeof b, "[%d,%d,%d,%d] %s %s", t.n, t.c, t.h, t.w, dtype_name(t.dtype), format_name(t.format));
    return b;
}

std::string describe(const FilterDesc& f) {
    char b[160];
    std::snprintf(b, sizeof b, "[K=%d,C=%d,R=%d,S=%d] %s %s", f.k, f.c, f.r, f.s, dtype_name(f.dtype), format_name(f.format));
    return b;
}

std::string describe(const ConvDesc& c) {
    char b[200];
    std::snprintf(b, sizeof b, "pad %dx%d stride %dx%d dilation %dx%d %s compute %s math %d", c.padH, c.padW, c.strH, c.strW,
                  c.dilH, c.dilW, c.mode == CONV_CONVOLUTION ? "CONVOLUTION" : "CROSS_CORRELATION", dtype_name(c.compute), c.math);
    return b;
}

// Data type checks shared by the tensor and filter setters: a valid enumerant we do not emulate is NOT_SUPPORTED.
int check_dtype(const char* api, int dtype) {
    if (dtype < 0 || dtype > DT_LAST_KNOWN) return bad(api, "dataType " + std::to_string(dtype) + " is not a cudnnDataType_t");
    if (!storage_type(dtype))
        return refuse(api, std::string("dataType ") + dtype_name(dtype) + " (the emulator handles FLOAT, HALF and BFLOAT16)");
    return ST_SUCCESS;
}

int check_format(const char* api, int format) {
    if (format == FMT_NCHW_VECT_C) return refuse(api, "format CUDNN_TENSOR_NCHW_VECT_C");
    if (format != FMT_NCHW && format != FMT_NHWC) return bad(api, "format " + std::to_string(format) + " is not a cudnnTensorFormat_t");
    return ST_SUCCESS;
}

// ---- geometry ----

struct Geom {
    int N, C, H, W, K, R, S, P, Q;  // P x Q output
};

// cudnnGetConvolution2dForwardOutputDim's rule: out = 1 + (in + 2*pad - ((f-1)*dil + 1)) / stride.
int output_dims(const char* api, const ConvDesc& cd, const TensorDesc& x, const FilterDesc& w, Geom* g) {
    if (x.c != w.c)
        return bad(api, "input " + describe(x) + " has " + std::to_string(x.c) + " channels, filter " + describe(w) + " expects " +
                            std::to_string(w.c) + " (group count 1)");
    int64_t effR = (int64_t)(w.r - 1) * cd.dilH + 1, effS = (int64_t)(w.s - 1) * cd.dilW + 1;
    int64_t padH = (int64_t)x.h + 2 * (int64_t)cd.padH, padW = (int64_t)x.w + 2 * (int64_t)cd.padW;
    if (effR > padH || effS > padW)
        return bad(api, "dilated filter " + std::to_string(effR) + "x" + std::to_string(effS) + " is larger than the padded input " +
                            std::to_string(padH) + "x" + std::to_string(padW) + " (" + describe(x) + ", " + describe(cd) + ")");
    g->N = x.n; g->C = x.c; g->H = x.h; g->W = x.w; g->K = w.k; g->R = w.r; g->S = w.s;
    g->P = (int)(1 + (padH - effR) / cd.strH);
    g->Q = (int)(1 + (padW - effS) / cd.strW);
    return ST_SUCCESS;
}

bool overlaps(const void* a, int64_t abytes, const void* b, int64_t bbytes) {
    auto pa = reinterpret_cast<uintptr_t>(a), pb = reinterpret_cast<uintptr_t>(b);
    return pa < pb + (uintptr_t)bbytes && pb < pa + (uintptr_t)abytes;
}

struct ConvArgs {
    TensorDesc x, y;
    FilterDesc w;
    ConvDesc cd;
    Geom g;
};

// Resolves and cross-checks the descriptors of a forward convolution (the checks cudnnConvolutionForward documents as
// BAD_PARAM, then the configurations the emulator runs). `algo` < 0 skips the algorithm check.
int resolve_conv(const char* api, const void* xh, const void* wh, const void* ch, const void* yh, int algo, ConvArgs* a) {
    std::string why;
    auto* x = lookup<TensorDesc>(xh, Kind::Tensor, &why);
    if (!x) return bad(api, "xDesc: " + why);
    auto* w = lookup<FilterDesc>(wh, Kind::Filter, &why);
    if (!w) return bad(api, "wDesc: " + why);
    auto* cd = lookup<ConvDesc>(ch, Kind::Conv, &why);
    if (!cd) return bad(api, "convDesc: " + why);
    auto* y = lookup<TensorDesc>(yh, Kind::Tensor, &why);
    if (!y) return bad(api, "yDesc: " + why);
    if (!x->set) return bad(api, "xDesc was never set (cudnnSetTensor4dDescriptor)");
    if (!w->set) return bad(api, "wDesc was never set (cudnnSetFilter4dDescriptor)");
    if (!cd->set) return bad(api, "convDesc was never set (cudnnSetConvolution2dDescriptor)");
    if (!y->set) return bad(api, "yDesc was never set (cudnnSetTensor4dDescriptor)");
    a->x = *x; a->w = *w; a->cd = *cd; a->y = *y;
    int st = output_dims(api, *cd, *x, *w, &a->g);
    if (st) return st;
    const Geom& g = a->g;
    if (y->n != g.N || y->c != g.K || y->h != g.P || y->w != g.Q)
        return bad(api, "yDesc " + describe(*y) + " does not match the convolution's output [" + std::to_string(g.N) + "," +
                            std::to_string(g.K) + "," + std::to_string(g.P) + "," + std::to_string(g.Q) + "] for x " + describe(*x) +
                            ", w " + describe(*w) + ", " + describe(*cd));
    if (x->dtype != w->dtype || x->dtype != y->dtype)
        return bad(api, "x, w and y data types differ: x " + describe(*x) + ", w " + describe(*w) + ", y " + describe(*y));
    if (cd->compute != DT_FLOAT) {
        if (cd->compute == DT_HALF && x->dtype == DT_HALF)
            return refuse(api, "TRUE_HALF_CONFIG (HALF data with HALF compute type): fp16 accumulation is not emulated; use compute type FLOAT");
        return refuse(api, std::string("compute type ") + dtype_name(cd->compute) + " with " + dtype_name(x->dtype) +
                               " data (supported: FLOAT compute with FLOAT, HALF or BFLOAT16 data)");
    }
    if (w->format == FMT_NHWC && (x->format != FMT_NHWC || y->format != FMT_NHWC))
        return refuse(api, "an NHWC filter needs NHWC x and y (x " + describe(*x) + ", y " + describe(*y) + ")");
    if (algo >= 0) {
        if (algo >= ALGO_COUNT) return bad(api, "algo " + std::to_string(algo) + " is not a cudnnConvolutionFwdAlgo_t");
        if (algo != ALGO_IMPLICIT_GEMM && algo != ALGO_IMPLICIT_PRECOMP_GEMM)
            return refuse(api, std::string("algorithm ") + algo_name(algo) + " (the emulator runs IMPLICIT_GEMM and IMPLICIT_PRECOMP_GEMM)");
    }
    return ST_SUCCESS;
}

int check_data_pointers(const char* api, const ConvArgs& a, const void* x, const void* w, const void* y) {
    if (!x) return bad(api, "x is null");
    if (!w) return bad(api, "w is null");
    if (!y) return bad(api, "y is null");
    if (overlaps(y, a.y.span_bytes(), x, a.x.span_bytes()))
        return bad(api, "y overlaps x: cuDNN convolutions are not in place (the result would be undefined on a GPU)");
    if (overlaps(y, a.y.span_bytes(), w, a.w.span_bytes()))
        return bad(api, "y overlaps w: cuDNN convolutions are not in place (the result would be undefined on a GPU)");
    return ST_SUCCESS;
}

// ---- storage ----

inline float load(const void* p, int dtype, int64_t i) {
    switch (dtype) {
        case DT_FLOAT: return static_cast<const float*>(p)[i];
        case DT_HALF: return emu::half_to_float(static_cast<const uint16_t*>(p)[i]);
        default: return emu::bf16_to_float(static_cast<const uint16_t*>(p)[i]);
    }
}

inline void store(void* p, int dtype, int64_t i, float v) {
    switch (dtype) {
        case DT_FLOAT: static_cast<float*>(p)[i] = v; break;
        case DT_HALF: static_cast<uint16_t*>(p)[i] = emu::float_to_half(v); break;
        default: static_cast<uint16_t*>(p)[i] = emu::float_to_bf16(v); break;
    }
}

// fp32 -> TF32 (8-bit exponent, 10-bit mantissa), round to nearest even; NaN and infinity unchanged.
inline float round_tf32(float f) {
    uint32_t u = emu::float_bits(f);
    if ((u & 0x7F800000u) == 0x7F800000u) return f;
    u += 0x0FFFu + ((u >> 13) & 1u);
    return emu::bits_float(u & ~0x1FFFu);
}

bool uses_tf32(const ConvArgs& a) { return a.x.dtype == DT_FLOAT && a.cd.math != MATH_FMA; }

struct Epilogue {
    bool fused = false;      // false: y = alpha*conv + beta*y; true: y = act(alpha*conv + beta*z + bias)
    float alpha = 1, beta = 0;
    int act = ACT_IDENTITY, nanOpt = NAN_PROPAGATE;
    TensorDesc z, bias;
    const void* zp = nullptr;
    const void* bp = nullptr;
};

// acc[0..Kp) += xv * wrow[0..Kp); Kp is a multiple of 8, so the fixed-width inner loop vectorises at -O2.
inline void axpy8(float* __restrict acc, const float* __restrict wrow, float xv, int Kp) {
    for (int k = 0; k < Kp; k += 8)
        for (int j = 0; j < 8; j++) acc[k + j] += xv * wrow[k + j];
}

void run_conv(const ConvArgs& a, const void* xp, const void* wp, void* yp, const Epilogue& e) {
    const Geom& g = a.g;
    const int Kp = (g.K + 7) & ~7;
    const bool tf32 = uses_tf32(a);
    // x -> fp32 NHWC, so that one input pixel's channels are contiguous.
    std::vector<float> xf((size_t)g.N * g.H * g.W * g.C);
    for (int n = 0; n < g.N; n++)
        for (int h = 0; h < g.H; h++)
            for (int w = 0; w < g.W; w++) {
                float* dst = &xf[(((size_t)n * g.H + h) * g.W + w) * g.C];
                for (int c = 0; c < g.C; c++) {
                    float v = load(xp, a.x.dtype, a.x.at(n, c, h, w));
                    dst[c] = tf32 ? round_tf32(v) : v;
                }
            }
    // w -> fp32 [R][S][C][Kp], zero-padded over k; CONVOLUTION mode flips the kernel.
    std::vector<float> wt((size_t)g.R * g.S * g.C * Kp, 0.0f);
    const bool flip = a.cd.mode == CONV_CONVOLUTION;
    for (int k = 0; k < g.K; k++)
        for (int c = 0; c < g.C; c++)
            for (int r = 0; r < g.R; r++)
                for (int s = 0; s < g.S; s++) {
                    float v = load(wp, a.w.dtype, a.w.at(k, c, flip ? g.R - 1 - r : r, flip ? g.S - 1 - s : s));
                    wt[(((size_t)r * g.S + s) * g.C + c) * Kp + k] = tf32 ? round_tf32(v) : v;
                }
    // z is read in full before y is written (z may alias y).
    std::vector<float> zf;
    const bool readZ = e.fused && e.beta != 0.0f;
    if (readZ) {
        zf.resize((size_t)g.N * g.P * g.Q * g.K);
        for (int n = 0; n < g.N; n++)
            for (int p = 0; p < g.P; p++)
                for (int q = 0; q < g.Q; q++)
                    for (int k = 0; k < g.K; k++) zf[(((size_t)n * g.P + p) * g.Q + q) * g.K + k] = load(e.zp, e.z.dtype, e.z.at(n, k, p, q));
    }
    std::vector<float> bias;
    if (e.fused) {
        bias.resize(g.K);
        for (int k = 0; k < g.K; k++) bias[k] = load(e.bp, e.bias.dtype, e.bias.at(0, k, 0, 0));
    }
    std::vector<float> acc(Kp);
    for (int n = 0; n < g.N; n++)
        for (int p = 0; p < g.P; p++)
            for (int q = 0; q < g.Q; q++) {
                std::fill(acc.begin(), acc.end(), 0.0f);
                for (int r = 0; r < g.R; r++) {
                    int ih = p * a.cd.strH - a.cd.padH + r * a.cd.dilH;
                    if (ih < 0 || ih >= g.H) continue;
                    for (int s = 0; s < g.S; s++) {
                        int iw = q * a.cd.strW - a.cd.padW + s * a.cd.dilW;
                        if (iw < 0 || iw >= g.W) continue;
                        const float* xrow = &xf[(((size_t)n * g.H + ih) * g.W + iw) * g.C];
                        const float* wblk = &wt[((size_t)r * g.S + s) * g.C * Kp];
                        for (int c = 0; c < g.C; c++) axpy8(acc.data(), wblk + (size_t)c * Kp, xrow[c], Kp);
                    }
                }
                for (int k = 0; k < g.K; k++) {
                    int64_t yi = a.y.at(n, k, p, q);
                    float v = e.alpha * acc[k];
                    if (!e.fused) {
                        if (e.beta != 0.0f) v += e.beta * load(yp, a.y.dtype, yi);
                    } else {
                        if (readZ) v += e.beta * zf[(((size_t)n * g.P + p) * g.Q + q) * g.K + k];
                        v += bias[k];
                        if (e.act == ACT_RELU) {
                            if (std::isnan(v)) v = e.nanOpt == NAN_PROPAGATE ? v : 0.0f;
                            else if (v < 0.0f) v = 0.0f;
                        }
                    }
                    store(yp, a.y.dtype, yi, v);
                }
            }
}

void fill_nan(const TensorDesc& t, void* p) {
    for (int n = 0; n < t.n; n++)
        for (int c = 0; c < t.c; c++)
            for (int h = 0; h < t.h; h++)
                for (int w = 0; w < t.w; w++) {
                    int64_t i = t.at(n, c, h, w);
                    if (t.dtype == DT_FLOAT) static_cast<float*>(p)[i] = std::numeric_limits<float>::quiet_NaN();
                    else static_cast<uint16_t*>(p)[i] = t.dtype == DT_HALF ? 0x7E00u : 0x7FC0u;
                }
}

// An invented but monotone time for the algorithm queries (no emulator timing means anything).
float estimate_ms(const Geom& g, int algo) {
    double macs = (double)g.N * g.K * g.P * g.Q * g.C * g.R * g.S;
    double ms = macs * 2.0 / 100e12 * 1e3 + 0.005;  // as if on a 100 TFLOP/s device
    return (float)(algo == ALGO_IMPLICIT_PRECOMP_GEMM ? ms : ms * 1.25);
}

// cudnnConvolutionFwdAlgoPerf_t, cuDNN 8/9 (48 bytes).
struct FwdAlgoPerf {
    int algo;
    int status;
    float time;
    size_t memory;
    int determinism;
    int mathType;
    int reserved[3];
};
static_assert(sizeof(FwdAlgoPerf) == 48, "cudnnConvolutionFwdAlgoPerf_t is 48 bytes");
static_assert(offsetof(FwdAlgoPerf, memory) == 16 && offsetof(FwdAlgoPerf, determinism) == 24 && offsetof(FwdAlgoPerf, mathType) == 28,
              "cudnnConvolutionFwdAlgoPerf_t layout");

// The two emulated algorithms (fastest first), then every other algorithm as NOT_SUPPORTED, as the real queries list
// algorithms that cannot run with a failing status.
int fill_perf(const ConvArgs& a, int requested, int* returned, FwdAlgoPerf* out) {
    const int order[ALGO_COUNT] = {ALGO_IMPLICIT_PRECOMP_GEMM, ALGO_IMPLICIT_GEMM, 2, 3, 4, 5, 6, 7};
    int n = std::min(requested, ALGO_COUNT);
    for (int i = 0; i < n; i++) {
        FwdAlgoPerf p{};
        p.algo = order[i];
        bool ok = i < 2;
        p.status = ok ? ST_SUCCESS : ST_NOT_SUPPORTED;
        p.time = ok ? estimate_ms(a.g, p.algo) : -1.0f;
        p.memory = 0;
        p.determinism = DETERMINISTIC;
        p.mathType = a.cd.math;
        out[i] = p;
    }
    *returned = n;
    return ST_SUCCESS;
}

}  // namespace

// ============================================================================================================ library

EMU_CUDNN_EXPORT size_t cudnnGetVersion(void) { return 90300; }  // 9.3.0 (cuDNN 9: major*10000 + minor*100 + patch)

EMU_CUDNN_EXPORT const char* cudnnGetErrorString(int status) {
    switch (status) {
        case 0: return "CUDNN_STATUS_SUCCESS";
        case 1001: return "CUDNN_STATUS_NOT_INITIALIZED";
        case 1002: return "CUDNN_STATUS_SUBLIBRARY_VERSION_MISMATCH";
        case 1003: return "CUDNN_STATUS_SERIALIZATION_VERSION_MISMATCH";
        case 1004: return "CUDNN_STATUS_DEPRECATED";
        case 1005: return "CUDNN_STATUS_LICENSE_ERROR";
        case 1006: return "CUDNN_STATUS_RUNTIME_IN_PROGRESS";
        case 1007: return "CUDNN_STATUS_RUNTIME_FP_OVERFLOW";
        case 1008: return "CUDNN_STATUS_SUBLIBRARY_LOADING_FAILED";
        case 2000: return "CUDNN_STATUS_BAD_PARAM";
        case 2001: return "CUDNN_STATUS_INVALID_VALUE";
        case 2002: return "CUDNN_STATUS_BAD_PARAM_NULL_POINTER";
        case 2003: return "CUDNN_STATUS_BAD_PARAM_MISALIGNED_POINTER";
        case 2004: return "CUDNN_STATUS_BAD_PARAM_NOT_FINALIZED";
        case 2005: return "CUDNN_STATUS_BAD_PARAM_OUT_OF_BOUND";
        case 2006: return "CUDNN_STATUS_BAD_PARAM_SIZE_INSUFFICIENT";
        case 2007: return "CUDNN_STATUS_BAD_PARAM_STREAM_MISMATCH";
        case 2008: return "CUDNN_STATUS_BAD_PARAM_SHAPE_MISMATCH";
        case 2009: return "CUDNN_STATUS_BAD_PARAM_DUPLICATED_ENTRIES";
        case 2010: return "CUDNN_STATUS_BAD_PARAM_ATTRIBUTE_TYPE";
        case 3000: return "CUDNN_STATUS_NOT_SUPPORTED";
        case 3001: return "CUDNN_STATUS_NOT_SUPPORTED_GRAPH_PATTERN";
        case 3002: return "CUDNN_STATUS_NOT_SUPPORTED_SHAPE";
        case 3003: return "CUDNN_STATUS_NOT_SUPPORTED_DATA_TYPE";
        case 3004: return "CUDNN_STATUS_NOT_SUPPORTED_LAYOUT";
        case 3005: return "CUDNN_STATUS_NOT_SUPPORTED_INCOMPATIBLE_CUDA_DRIVER";
        case 3006: return "CUDNN_STATUS_NOT_SUPPORTED_INCOMPATIBLE_CUDART";
        case 3007: return "CUDNN_STATUS_NOT_SUPPORTED_ARCH_MISMATCH";
        case 3008: return "CUDNN_STATUS_NOT_SUPPORTED_RUNTIME_PREREQUISITE_MISSING";
        case 3009: return "CUDNN_STATUS_NOT_SUPPORTED_SUBLIBRARY_UNAVAILABLE";
        case 3010: return "CUDNN_STATUS_NOT_SUPPORTED_SHARED_MEMORY_INSUFFICIENT";
        case 3011: return "CUDNN_STATUS_NOT_SUPPORTED_PADDING";
        case 3012: return "CUDNN_STATUS_NOT_SUPPORTED_BAD_LAUNCH_PARAM";
        case 4000: return "CUDNN_STATUS_INTERNAL_ERROR";
        case 4001: return "CUDNN_STATUS_INTERNAL_ERROR_COMPILATION_FAILED";
        case 4002: return "CUDNN_STATUS_INTERNAL_ERROR_UNEXPECTED_VALUE";
        case 4003: return "CUDNN_STATUS_INTERNAL_ERROR_HOST_ALLOCATION_FAILED";
        case 4004: return "CUDNN_STATUS_INTERNAL_ERROR_DEVICE_ALLOCATION_FAILED";
        case 4005: return "CUDNN_STATUS_INTERNAL_ERROR_BAD_LAUNCH_PARAM";
        case 4006: return "CUDNN_STATUS_INTERNAL_ERROR_TEXTURE_CREATION_FAILED";
        case 5000: return "CUDNN_STATUS_EXECUTION_FAILED";
        case 5001: return "CUDNN_STATUS_EXECUTION_FAILED_CUDA_DRIVER";
        case 5002: return "CUDNN_STATUS_EXECUTION_FAILED_CUBLAS";
        case 5003: return "CUDNN_STATUS_EXECUTION_FAILED_CUDART";
        case 5004: return "CUDNN_STATUS_EXECUTION_FAILED_CURAND";
        default: return "CUDNN_UNKNOWN_STATUS";
    }
}

EMU_CUDNN_EXPORT int cudnnCreate(void** handle) {
    if (!handle) return bad("cudnnCreate", "handle pointer is null");
    *handle = make<Handle>(Kind::Handle);
    return ST_SUCCESS;
}

EMU_CUDNN_EXPORT int cudnnDestroy(void* handle) { return destroy(handle, Kind::Handle, "cudnnDestroy"); }

EMU_CUDNN_EXPORT int cudnnSetStream(void* handle, void* stream) {
    std::string why;
    auto* h = lookup<Handle>(handle, Kind::Handle, &why);
    if (!h) return bad("cudnnSetStream", "handle: " + why);
    h->stream = stream;
    return ST_SUCCESS;
}

// ======================================================================================================== descriptors

EMU_CUDNN_EXPORT int cudnnCreateTensorDescriptor(void** desc) {
    if (!desc) return bad("cudnnCreateTensorDescriptor", "descriptor pointer is null");
    *desc = make<TensorDesc>(Kind::Tensor);
    return ST_SUCCESS;
}

EMU_CUDNN_EXPORT int cudnnDestroyTensorDescriptor(void* desc) { return destroy(desc, Kind::Tensor, "cudnnDestroyTensorDescriptor"); }

EMU_CUDNN_EXPORT int cudnnSetTensor4dDescriptor(void* desc, int format, int dataType, int n, int c, int h, int w) {
    const char* api = "cudnnSetTensor4dDescriptor";
    std::string why;
    auto* t = lookup<TensorDesc>(desc, Kind::Tensor, &why);
    if (!t) return bad(api, "tensorDesc: " + why);
    if (int st = check_format(api, format)) return st;
    if (int st = check_dtype(api, dataType)) return st;
    if (n <= 0 || c <= 0 || h <= 0 || w <= 0)
        return bad(api, "dimensions [" + std::to_string(n) + "," + std::to_string(c) + "," + std::to_string(h) + "," + std::to_string(w) +
                            "] must all be positive");
    if ((int64_t)n * c * h * w > (int64_t)std::numeric_limits<int32_t>::max())
        return refuse(api, "a tensor of more than 2^31-1 elements");
    TensorDesc d;
    d.set = true; d.dtype = dataType; d.format = format; d.n = n; d.c = c; d.h = h; d.w = w;
    if (format == FMT_NCHW) { d.sw = 1; d.sh = w; d.sc = (int64_t)h * w; d.sn = (int64_t)c * h * w; }
    else { d.sc = 1; d.sw = c; d.sh = (int64_t)w * c; d.sn = (int64_t)h * w * c; }
    *t = d;
    return ST_SUCCESS;
}

EMU_CUDNN_EXPORT int cudnnCreateFilterDescriptor(void** desc) {
    if (!desc) return bad("cudnnCreateFilterDescriptor", "descriptor pointer is null");
    *desc = make<FilterDesc>(Kind::Filter);
    return ST_SUCCESS;
}

EMU_CUDNN_EXPORT int cudnnDestroyFilterDescriptor(void* desc) { return destroy(desc, Kind::Filter, "cudnnDestroyFilterDescriptor"); }

EMU_CUDNN_EXPORT int cudnnSetFilter4dDescriptor(void* desc, int dataType, int format, int k, int c, int h, int w) {
    const char* api = "cudnnSetFilter4dDescriptor";
    std::string why;
    auto* f = lookup<FilterDesc>(desc, Kind::Filter, &why);
    if (!f) return bad(api, "filterDesc: " + why);
    if (int st = check_format(api, format)) return st;
    if (int st = check_dtype(api, dataType)) return st;
    if (k <= 0 || c <= 0 || h <= 0 || w <= 0)
        return bad(api, "dimensions [K=" + std::to_string(k) + ",C=" + std::to_string(c) + ",R=" + std::to_string(h) + ",S=" +
                            std::to_string(w) + "] must all be positive");
    if ((int64_t)k * c * h * w > (int64_t)std::numeric_limits<int32_t>::max())
        return refuse(api, "a filter of more than 2^31-1 elements");
    FilterDesc d;
    d.set = true; d.dtype = dataType; d.format = format; d.k = k; d.c = c; d.r = h; d.s = w;
    *f = d;
    return ST_SUCCESS;
}

EMU_CUDNN_EXPORT int cudnnCreateConvolutionDescriptor(void** desc) {
    if (!desc) return bad("cudnnCreateConvolutionDescriptor", "descriptor pointer is null");
    *desc = make<ConvDesc>(Kind::Conv);
    return ST_SUCCESS;
}

EMU_CUDNN_EXPORT int cudnnDestroyConvolutionDescriptor(void* desc) {
    return destroy(desc, Kind::Conv, "cudnnDestroyConvolutionDescriptor");
}

EMU_CUDNN_EXPORT int cudnnSetConvolution2dDescriptor(void* desc, int padH, int padW, int strideH, int strideW, int dilationH,
                                                      int dilationW, int mode, int computeType) {
    const char* api = "cudnnSetConvolution2dDescriptor";
    std::string why;
    auto* cd = lookup<ConvDesc>(desc, Kind::Conv, &why);
    if (!cd) return bad(api, "convDesc: " + why);
    if (padH < 0 || padW < 0) return bad(api, "negative padding " + std::to_string(padH) + "x" + std::to_string(padW));
    if (strideH <= 0 || strideW <= 0) return bad(api, "stride " + std::to_string(strideH) + "x" + std::to_string(strideW) + " must be positive");
    if (dilationH <= 0 || dilationW <= 0)
        return bad(api, "dilation " + std::to_string(dilationH) + "x" + std::to_string(dilationW) + " must be positive");
    if (mode != CONV_CONVOLUTION && mode != CONV_CROSS_CORRELATION)
        return bad(api, "mode " + std::to_string(mode) + " is not a cudnnConvolutionMode_t");
    if (computeType < 0 || computeType > DT_LAST_KNOWN)
        return bad(api, "computeType " + std::to_string(computeType) + " is not a cudnnDataType_t");
    cd->set = true;
    cd->padH = padH; cd->padW = padW; cd->strH = strideH; cd->strW = strideW; cd->dilH = dilationH; cd->dilW = dilationW;
    cd->mode = mode; cd->compute = computeType;  // the math type is kept (cudnnSetConvolutionMathType owns it)
    return ST_SUCCESS;
}

EMU_CUDNN_EXPORT int cudnnSetConvolutionMathType(void* desc, int mathType) {
    const char* api = "cudnnSetConvolutionMathType";
    std::string why;
    auto* cd = lookup<ConvDesc>(desc, Kind::Conv, &why);
    if (!cd) return bad(api, "convDesc: " + why);
    if (mathType < 0 || mathType > MATH_FMA) return bad(api, "mathType " + std::to_string(mathType) + " is not a cudnnMathType_t");
    cd->math = mathType;
    return ST_SUCCESS;
}

EMU_CUDNN_EXPORT int cudnnGetConvolution2dForwardOutputDim(void* conv, void* x, void* w, int* n, int* c, int* h, int* wOut) {
    const char* api = "cudnnGetConvolution2dForwardOutputDim";
    std::string why;
    auto* cd = lookup<ConvDesc>(conv, Kind::Conv, &why);
    if (!cd) return bad(api, "convDesc: " + why);
    auto* xd = lookup<TensorDesc>(x, Kind::Tensor, &why);
    if (!xd) return bad(api, "inputTensorDesc: " + why);
    auto* wd = lookup<FilterDesc>(w, Kind::Filter, &why);
    if (!wd) return bad(api, "filterDesc: " + why);
    if (!cd->set) return bad(api, "convDesc was never set");
    if (!xd->set) return bad(api, "inputTensorDesc was never set");
    if (!wd->set) return bad(api, "filterDesc was never set");
    if (!n || !c || !h || !wOut) return bad(api, "an output pointer is null");
    Geom g;
    if (int st = output_dims(api, *cd, *xd, *wd, &g)) return st;
    *n = g.N; *c = g.K; *h = g.P; *wOut = g.Q;
    return ST_SUCCESS;
}

EMU_CUDNN_EXPORT int cudnnCreateActivationDescriptor(void** desc) {
    if (!desc) return bad("cudnnCreateActivationDescriptor", "descriptor pointer is null");
    *desc = make<ActDesc>(Kind::Activation);
    return ST_SUCCESS;
}

EMU_CUDNN_EXPORT int cudnnDestroyActivationDescriptor(void* desc) {
    return destroy(desc, Kind::Activation, "cudnnDestroyActivationDescriptor");
}

EMU_CUDNN_EXPORT int cudnnSetActivationDescriptor(void* desc, int mode, int nanPropagation, double coef) {
    const char* api = "cudnnSetActivationDescriptor";
    std::string why;
    auto* a = lookup<ActDesc>(desc, Kind::Activation, &why);
    if (!a) return bad(api, "activationDesc: " + why);
    if (mode < 0 || mode > ACT_LAST) return bad(api, "mode " + std::to_string(mode) + " is not a cudnnActivationMode_t");
    if (nanPropagation != NAN_NOT_PROPAGATE && nanPropagation != NAN_PROPAGATE)
        return bad(api, "reluNanOpt " + std::to_string(nanPropagation) + " is not a cudnnNanPropagation_t");
    a->set = true; a->mode = mode; a->nanOpt = nanPropagation; a->coef = coef;
    return ST_SUCCESS;
}

// ======================================================================================================= convolution

EMU_CUDNN_EXPORT int cudnnGetConvolutionForwardAlgorithm_v7(void* handle, void* x, void* w, void* conv, void* y, int requested,
                                                             int* returned, FwdAlgoPerf* results) {
    const char* api = "cudnnGetConvolutionForwardAlgorithm_v7";
    std::string why;
    if (!lookup<Handle>(handle, Kind::Handle, &why)) return bad(api, "handle: " + why);
    ConvArgs a;
    if (int st = resolve_conv(api, x, w, conv, y, -1, &a)) return st;
    if (requested <= 0) return bad(api, "requestedAlgoCount " + std::to_string(requested) + " must be positive");
    if (!returned || !results) return bad(api, "returnedAlgoCount or perfResults is null");
    return fill_perf(a, requested, returned, results);
}

EMU_CUDNN_EXPORT int cudnnFindConvolutionForwardAlgorithmEx(void* handle, void* xDesc, const void* x, void* wDesc, const void* w,
                                                             void* conv, void* yDesc, void* y, int requested, int* returned,
                                                             FwdAlgoPerf* results, void* workspace, size_t workspaceBytes) {
    const char* api = "cudnnFindConvolutionForwardAlgorithmEx";
    (void)workspace; (void)workspaceBytes;  // the emulated algorithms need none
    std::string why;
    auto* h = lookup<Handle>(handle, Kind::Handle, &why);
    if (!h) return bad(api, "handle: " + why);
    ConvArgs a;
    if (int st = resolve_conv(api, xDesc, wDesc, conv, yDesc, -1, &a)) return st;
    if (int st = check_data_pointers(api, a, x, w, y)) return st;
    if (requested <= 0) return bad(api, "requestedAlgoCount " + std::to_string(requested) + " must be positive");
    if (!returned || !results) return bad(api, "returnedAlgoCount or perfResults is null");
    // "y: the content of this tensor will be overwritten with arbitrary values" (cuDNN API reference).
    TensorDesc yd = a.y;
    emu::enqueue(h->stream, [yd, y] { fill_nan(yd, y); });
    return fill_perf(a, requested, returned, results);
}

EMU_CUDNN_EXPORT int cudnnGetConvolutionForwardWorkspaceSize(void* handle, void* x, void* w, void* conv, void* y, int algo,
                                                              size_t* bytes) {
    const char* api = "cudnnGetConvolutionForwardWorkspaceSize";
    std::string why;
    if (!lookup<Handle>(handle, Kind::Handle, &why)) return bad(api, "handle: " + why);
    ConvArgs a;
    if (int st = resolve_conv(api, x, w, conv, y, algo, &a)) return st;
    if (!bytes) return bad(api, "sizeInBytes is null");
    *bytes = 0;
    return ST_SUCCESS;
}

EMU_CUDNN_EXPORT int cudnnConvolutionForward(void* handle, const void* alpha, void* xDesc, const void* x, void* wDesc, const void* w,
                                              void* conv, int algo, void* workspace, size_t workspaceBytes, const void* beta,
                                              void* yDesc, void* y) {
    const char* api = "cudnnConvolutionForward";
    (void)workspace; (void)workspaceBytes;  // the required size is 0
    std::string why;
    auto* h = lookup<Handle>(handle, Kind::Handle, &why);
    if (!h) return bad(api, "handle: " + why);
    ConvArgs a;
    if (int st = resolve_conv(api, xDesc, wDesc, conv, yDesc, algo, &a)) return st;
    if (!alpha || !beta) return bad(api, "alpha or beta is null");
    if (int st = check_data_pointers(api, a, x, w, y)) return st;
    Epilogue e;
    e.alpha = *static_cast<const float*>(alpha);  // host scalars, read now (float for FLOAT, HALF and BFLOAT16 data)
    e.beta = *static_cast<const float*>(beta);
    emu::enqueue(h->stream, [a, x, w, y, e] { run_conv(a, x, w, y, e); });
    return ST_SUCCESS;
}

EMU_CUDNN_EXPORT int cudnnConvolutionBiasActivationForward(void* handle, const void* alpha1, void* xDesc, const void* x, void* wDesc,
                                                            const void* w, void* conv, int algo, void* workspace,
                                                            size_t workspaceBytes, const void* alpha2, void* zDesc, const void* z,
                                                            void* biasDesc, const void* bias, void* activationDesc, void* yDesc,
                                                            void* y) {
    const char* api = "cudnnConvolutionBiasActivationForward";
    (void)workspace; (void)workspaceBytes;
    std::string why;
    auto* h = lookup<Handle>(handle, Kind::Handle, &why);
    if (!h) return bad(api, "handle: " + why);
    ConvArgs a;
    if (int st = resolve_conv(api, xDesc, wDesc, conv, yDesc, algo, &a)) return st;
    auto* zd = lookup<TensorDesc>(zDesc, Kind::Tensor, &why);
    if (!zd) return bad(api, "zDesc: " + why);
    auto* bd = lookup<TensorDesc>(biasDesc, Kind::Tensor, &why);
    if (!bd) return bad(api, "biasDesc: " + why);
    auto* ad = lookup<ActDesc>(activationDesc, Kind::Activation, &why);
    if (!ad) return bad(api, "activationDesc: " + why);
    if (!zd->set) return bad(api, "zDesc was never set");
    if (!bd->set) return bad(api, "biasDesc was never set");
    if (!ad->set) return bad(api, "activationDesc was never set (cudnnSetActivationDescriptor)");
    if (!alpha1 || !alpha2) return bad(api, "alpha1 or alpha2 is null");
    if (zd->n != a.y.n || zd->c != a.y.c || zd->h != a.y.h || zd->w != a.y.w)
        return bad(api, "zDesc " + describe(*zd) + " does not have yDesc's dimensions " + describe(a.y));
    if (zd->dtype != a.y.dtype) return refuse(api, "z " + describe(*zd) + " and y " + describe(a.y) + " differ in data type");
    if (bd->n != 1 || bd->c != a.y.c || bd->h != 1 || bd->w != 1)
        return bad(api, "biasDesc " + describe(*bd) + " is not [1," + std::to_string(a.y.c) + ",1,1]");
    if (bd->dtype != a.y.dtype)
        return refuse(api, "bias " + describe(*bd) + " with y " + describe(a.y) +
                               ": for FLOAT, HALF and BFLOAT16 configurations the bias has y's data type");
    if (ad->mode != ACT_RELU && ad->mode != ACT_IDENTITY)
        return refuse(api, "activation mode " + std::to_string(ad->mode) + " (supported: RELU = 1, IDENTITY = 5)");
    if (ad->mode == ACT_IDENTITY && algo != ALGO_IMPLICIT_PRECOMP_GEMM)
        return refuse(api, std::string("CUDNN_ACTIVATION_IDENTITY with algorithm ") + algo_name(algo) +
                               ": cuDNN runs the IDENTITY activation only with CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM");
    if (int st = check_data_pointers(api, a, x, w, y)) return st;
    if (!bias) return bad(api, "bias is null");
    float a2 = *static_cast<const float*>(alpha2);
    if (a2 != 0.0f && !z) return bad(api, "z is null while alpha2 is nonzero");
    if (overlaps(y, a.y.span_bytes(), bias, bd->span_bytes()))
        return bad(api, "y overlaps bias (the result would be undefined on a GPU)");
    if (a2 != 0.0f && z != y && overlaps(y, a.y.span_bytes(), z, zd->span_bytes()))
        return bad(api, "z partially overlaps y (z may be y itself, but not another view of its memory)");
    Epilogue e;
    e.fused = true;
    e.alpha = *static_cast<const float*>(alpha1);
    e.beta = a2;
    e.act = ad->mode;
    e.nanOpt = ad->nanOpt;
    e.z = *zd;
    e.bias = *bd;
    e.zp = z;
    e.bp = bias;
    emu::enqueue(h->stream, [a, x, w, y, e] { run_conv(a, x, w, y, e); });
    return ST_SUCCESS;
}

// ===================================================================================== backend (graph) API: refused

EMU_CUDNN_EXPORT int cudnnBackendCreateDescriptor(int descriptorType, void** descriptor) {
    if (descriptor) *descriptor = nullptr;
    return refuse("cudnnBackendCreateDescriptor",
                  "the backend (graph) API is not emulated (descriptor type " + std::to_string(descriptorType) + ")");
}

EMU_CUDNN_EXPORT int cudnnBackendDestroyDescriptor(void* descriptor) {
    (void)descriptor;
    return refuse("cudnnBackendDestroyDescriptor", "the backend (graph) API is not emulated");
}

EMU_CUDNN_EXPORT int cudnnBackendFinalize(void* descriptor) {
    (void)descriptor;
    return refuse("cudnnBackendFinalize", "the backend (graph) API is not emulated");
}

EMU_CUDNN_EXPORT int cudnnBackendSetAttribute(void* descriptor, int attributeName, int attributeType, int64_t elementCount,
                                               const void* elements) {
    (void)descriptor; (void)attributeType; (void)elementCount; (void)elements;
    return refuse("cudnnBackendSetAttribute", "the backend (graph) API is not emulated (attribute " + std::to_string(attributeName) + ")");
}

EMU_CUDNN_EXPORT int cudnnBackendGetAttribute(void* descriptor, int attributeName, int attributeType, int64_t requestedCount,
                                               int64_t* elementCount, void* elements) {
    (void)descriptor; (void)attributeType; (void)requestedCount; (void)elementCount; (void)elements;
    return refuse("cudnnBackendGetAttribute", "the backend (graph) API is not emulated (attribute " + std::to_string(attributeName) + ")");
}

EMU_CUDNN_EXPORT int cudnnBackendExecute(void* handle, void* executionPlan, void* variantPack) {
    (void)handle; (void)executionPlan; (void)variantPack;
    return refuse("cudnnBackendExecute", "the backend (graph) API is not emulated");
}
