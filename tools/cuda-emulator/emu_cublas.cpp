// FastIF's CUDA emulator: cuBLAS and cuBLASLt (the functions FastIF binds in Native/CublasApi.cs and CublasLtApi.cs).
//
// Real cuBLAS semantics, column-major: C = alpha*op(A)*op(B) + beta*C (cuBLAS) and
// D = epilogue(alpha*op(A)*op(B) + beta*C + bias) (cuBLASLt), fp32 accumulation, storage fp32/fp16/bf16, host pointer
// mode. Every call is validated the way the real libraries document (dimensions, leading dimensions, types, attribute
// sizes) plus checks the GPU would punish without a status (misaligned or overlapping operands, an algorithm used with
// pointers less aligned than its heuristic query promised); what is not implemented fails loudly through
// emu::unsupported with an error status.
#include "emu_common.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <string>
#include <unordered_set>
#include <vector>

#define CUBLAS_EMU_EXPORT extern "C" __attribute__((visibility("default")))

namespace {

// cublasStatus_t (cublas_api.h).
constexpr int kSuccess = 0, kNotInitialized = 1, kInvalidValue = 7, kNotSupported = 15;
// cudaDataType_t (library_types.h).
constexpr int kR32F = 0, kR16F = 2, kR16BF = 14;
// cublasComputeType_t (cublas_api.h).
constexpr int kCompute32F = 68, kCompute32FPedantic = 69;
// cublasOperation_t.
constexpr int kOpN = 0, kOpT = 1, kOpC = 2;
// cublasFillMode_t CUBLAS_FILL_MODE_FULL.
constexpr int kFillFull = 2;
// cublasLtEpilogue_t.
constexpr uint32_t kEpiDefault = 1, kEpiRelu = 2, kEpiBias = 4, kEpiReluBias = 6, kEpiGelu = 32, kEpiGeluBias = 36;
// cublasLtOrder_t.
constexpr int kOrderCol = 0, kOrderRow = 1;

// A heuristic's algorithm, as written into cublasLtMatmulAlgo_t::data[8].
constexpr uint64_t kAlgoMagic = 0x4c54414d55424d45ULL;  // "EMBUMATL"
// The widest access a real GEMM kernel makes (128-bit loads, TMA): an operand aligned to at least this much or to
// what the heuristic was told, whichever is less, is safe for the algorithm it returned.
constexpr uint32_t kKernelAlign = 16;
constexpr uint32_t kDefaultPrefAlign = 256;

int fail(int status, const char* api, const std::string& what) {
    emu::unsupported(api, what);
    return status;
}

std::string str(long long v) { return std::to_string(v); }

int elem_size(int t) { return t == kR32F ? 4 : 2; }
bool known_type(int t) { return t == kR32F || t == kR16F || t == kR16BF; }
const char* type_name(int t) {
    switch (t) {
        case kR32F: return "CUDA_R_32F";
        case kR16F: return "CUDA_R_16F";
        case kR16BF: return "CUDA_R_16BF";
        default: return "unsupported cudaDataType";
    }
}
std::string type_str(int t) { return std::string(type_name(t)) + " (" + str(t) + ")"; }

// cublasComputeType_t values the library defines; only the fp32 ones are emulated (the others change numerics in ways
// a CPU stand-in cannot honestly reproduce: fp16 accumulation, TF32/bf16/fp16 input rounding, integer or fp64 math).
const char* compute_name(int c) {
    switch (c) {
        case 64: return "CUBLAS_COMPUTE_16F";
        case 65: return "CUBLAS_COMPUTE_16F_PEDANTIC";
        case 68: return "CUBLAS_COMPUTE_32F";
        case 69: return "CUBLAS_COMPUTE_32F_PEDANTIC";
        case 70: return "CUBLAS_COMPUTE_64F";
        case 71: return "CUBLAS_COMPUTE_64F_PEDANTIC";
        case 72: return "CUBLAS_COMPUTE_32I";
        case 73: return "CUBLAS_COMPUTE_32I_PEDANTIC";
        case 74: return "CUBLAS_COMPUTE_32F_FAST_16F";
        case 75: return "CUBLAS_COMPUTE_32F_FAST_16BF";
        case 77: return "CUBLAS_COMPUTE_32F_FAST_TF32";
        default: return nullptr;
    }
}

// Checks a compute type; returns kSuccess or an error status (after reporting).
int check_compute(const char* api, int c) {
    if (c == kCompute32F || c == kCompute32FPedantic) return kSuccess;
    const char* name = compute_name(c);
    if (!name) return fail(kInvalidValue, api, "computeType " + str(c) + " is not a cublasComputeType_t value");
    return fail(kNotSupported, api, std::string("computeType ") + name + " is not emulated (only CUBLAS_COMPUTE_32F[_PEDANTIC])");
}

// A/B/C type combinations of the fp32-compute GEMMs (cublasGemmEx, cublasSgemmEx and cublasLtMatmul tables): A and B
// of one type; C of that type or fp32.
int check_types(const char* api, int a, int b, int c) {
    if (!known_type(a) || !known_type(b) || !known_type(c))
        return fail(kNotSupported, api, "types A " + type_str(a) + ", B " + type_str(b) + ", C " + type_str(c) +
                                            ": the emulator supports only CUDA_R_32F, CUDA_R_16F, CUDA_R_16BF");
    if (a != b || (c != a && c != kR32F))
        return fail(kNotSupported, api, "type combination A " + type_str(a) + ", B " + type_str(b) + ", C " + type_str(c) +
                                            " is not supported with fp32 compute (A and B alike; C like them or CUDA_R_32F)");
    return kSuccess;
}

inline float load(int t, const char* p) {
    switch (t) {
        case kR32F: { float f; std::memcpy(&f, p, 4); return f; }
        case kR16F: { uint16_t h; std::memcpy(&h, p, 2); return emu::half_to_float(h); }
        default: { uint16_t h; std::memcpy(&h, p, 2); return emu::bf16_to_float(h); }
    }
}

inline void store(int t, char* p, float v) {
    switch (t) {
        case kR32F: std::memcpy(p, &v, 4); break;
        case kR16F: { uint16_t h = emu::float_to_half(v); std::memcpy(p, &h, 2); break; }
        default: { uint16_t h = emu::float_to_bf16(v); std::memcpy(p, &h, 2); break; }
    }
}

// One matrix operand as the computation sees it: element (r, c) of batch b at
// p + (b*stride + r*rs + c*cs) * elem_size(type) bytes (op(X) already folded into rs/cs).
struct Operand {
    const char* p = nullptr;
    int type = kR32F;
    int64_t rs = 1, cs = 1, stride = 0;
};

enum Act { kActNone = 0, kActRelu = 1, kActGelu = 2 };

struct Job {
    int64_t m = 0, n = 0, k = 0, batch = 1;
    Operand A, B, C, D;  // A: m x k, B: k x n, C and D: m x n
    float alpha = 1, beta = 0;
    bool useAB = true;   // false when alpha == 0 or k == 0: A and B are not read
    bool readC = false;  // false when beta == 0: C is not read
    int act = kActNone;
    const char* bias = nullptr;  // per-row (length m) vector, or null
    int biasType = kR32F;
    int64_t biasStride = 0;
};

// Gathers X(r, c) of one batch into out[c*rows + r] (dense column-major fp32).
template <int T>
void gather_t(const Operand& X, int64_t b, int64_t rows, int64_t cols, float* out) {
    const int64_t es = T == kR32F ? 4 : 2;
    const char* base = X.p + b * X.stride * es;
    for (int64_t c = 0; c < cols; c++) {
        const char* col = base + c * X.cs * es;
        float* o = out + c * rows;
        for (int64_t r = 0; r < rows; r++) o[r] = load(T, col + r * X.rs * es);
    }
}

void gather(const Operand& X, int64_t b, int64_t rows, int64_t cols, float* out) {
    switch (X.type) {
        case kR32F: gather_t<kR32F>(X, b, rows, cols, out); break;
        case kR16F: gather_t<kR16F>(X, b, rows, cols, out); break;
        default: gather_t<kR16BF>(X, b, rows, cols, out); break;
    }
}

// acc[j*m + i] += sum_p a[p*m + i] * b[j*k + p]: saxpy form over contiguous columns, blocked over p so a block of A
// stays in cache while every column of the product passes over it.
#if defined(__GNUC__) && !defined(__clang__)
__attribute__((optimize("O3")))
#endif
void matmul_f32(int64_t m, int64_t n, int64_t k, const float* __restrict a, const float* __restrict b, float* __restrict acc) {
    const int64_t kb = std::max<int64_t>(4, 65536 / std::max<int64_t>(1, m));  // ~256 KiB of A per block
    for (int64_t p0 = 0; p0 < k; p0 += kb) {
        const int64_t p1 = std::min(k, p0 + kb);
        for (int64_t j = 0; j < n; j++) {
            float* __restrict cj = acc + j * m;
            const float* bj = b + j * k;
            for (int64_t p = p0; p < p1; p++) {
                const float s = bj[p];
                const float* __restrict ap = a + p * m;
                for (int64_t i = 0; i < m; i++) cj[i] += ap[i] * s;
            }
        }
    }
}

inline float gelu_tanh(float x) {
    // cuBLASLt's GELU epilogue: the tanh approximation 0.5x(1 + tanh(sqrt(2/pi)(x + 0.044715x^3))).
    const float c = 0.7978845608028654f;
    return 0.5f * x * (1.0f + std::tanh(c * (x + 0.044715f * x * x * x)));
}

void execute(const Job& J) {
    const int64_t m = J.m, n = J.n, k = J.k;
    if (m <= 0 || n <= 0 || J.batch <= 0) return;
    std::vector<float> a, b, acc((size_t)(m * n));
    if (J.useAB) {
        a.resize((size_t)(m * k));
        b.resize((size_t)(k * n));
    }
    const int64_t esC = elem_size(J.C.type), esD = elem_size(J.D.type), esBias = elem_size(J.biasType);
    for (int64_t bt = 0; bt < J.batch; bt++) {
        std::fill(acc.begin(), acc.end(), 0.0f);
        if (J.useAB) {
            gather(J.A, bt, m, k, a.data());
            gather(J.B, bt, k, n, b.data());
            matmul_f32(m, n, k, a.data(), b.data(), acc.data());
        }
        const char* cb = J.readC ? J.C.p + bt * J.C.stride * esC : nullptr;
        char* db = const_cast<char*>(J.D.p) + bt * J.D.stride * esD;
        const char* biasb = J.bias ? J.bias + bt * J.biasStride * esBias : nullptr;
        for (int64_t j = 0; j < n; j++) {
            for (int64_t i = 0; i < m; i++) {
                float v = J.useAB ? J.alpha * acc[j * m + i] : 0.0f;
                if (cb) v += J.beta * load(J.C.type, cb + (i * J.C.rs + j * J.C.cs) * esC);
                if (biasb) v += load(J.biasType, biasb + i * esBias);
                if (J.act == kActRelu) v = v > 0.0f ? v : (v != v ? v : 0.0f);
                else if (J.act == kActGelu) v = gelu_tanh(v);
                store(J.D.type, db + (i * J.D.rs + j * J.D.cs) * esD, v);
            }
        }
    }
}

// ---- hazard checks the GPU would not report as a status ----

struct Run {
    uintptr_t start, end;
    int owner;  // 0: the written matrix; others: read operands
};

void add_runs(std::vector<Run>& runs, const Operand& X, int64_t rows, int64_t cols, int64_t batch, int owner) {
    if (!X.p || rows <= 0 || cols <= 0 || batch <= 0) return;
    const int64_t es = elem_size(X.type);
    const uintptr_t base = (uintptr_t)X.p;
    auto at = [&](int64_t off) { return base + (uintptr_t)(off * es); };
    if (X.rs == 1 || rows == 1) {  // a contiguous run per column
        const int64_t len = X.rs == 1 ? rows : 1;
        for (int64_t b = 0; b < batch; b++)
            for (int64_t c = 0; c < cols; c++) {
                const int64_t o = b * X.stride + c * X.cs;
                runs.push_back({at(o), at(o + len), owner});
            }
        return;
    }
    if (X.cs == 1 || cols == 1) {  // a contiguous run per row
        for (int64_t b = 0; b < batch; b++)
            for (int64_t r = 0; r < rows; r++) {
                const int64_t o = b * X.stride + r * X.rs;
                runs.push_back({at(o), at(o + (X.cs == 1 ? cols : 1)), owner});
            }
        return;
    }
    for (int64_t b = 0; b < batch; b++)
        for (int64_t c = 0; c < cols; c++)
            for (int64_t r = 0; r < rows; r++) {
                const int64_t o = b * X.stride + r * X.rs + c * X.cs;
                runs.push_back({at(o), at(o + 1), owner});
            }
}

// Returns "" when the written operand (owner 0) overlaps neither itself (two of its elements, or two batches, at one
// address) nor any read operand; otherwise a description of the first collision found.
std::string find_overlap(std::vector<Run>& runs, const char* const* names) {
    std::sort(runs.begin(), runs.end(), [](const Run& x, const Run& y) { return x.start < y.start; });
    uintptr_t endOut = 0, endIn = 0;
    int inOwner = -1;
    bool anyOut = false, anyIn = false;
    for (const Run& r : runs) {
        if (r.end <= r.start) continue;
        if (anyOut && r.start < endOut) {
            if (r.owner == 0) return std::string(names[0]) + " overlaps itself (two of its elements share memory, e.g. across batches or columns)";
            return std::string(names[0]) + " overlaps the memory of " + names[r.owner] + ", which the operation reads";
        }
        if (r.owner == 0 && anyIn && r.start < endIn)
            return std::string(names[0]) + " overlaps the memory of " + names[inOwner] + ", which the operation reads";
        if (r.owner == 0) {
            endOut = anyOut ? std::max(endOut, r.end) : r.end;
            anyOut = true;
        } else if (!anyIn || r.end > endIn) {
            endIn = r.end;
            inOwner = r.owner;
            anyIn = true;
        }
    }
    return "";
}

uint32_t ptr_align(const void* p) {
    uintptr_t u = (uintptr_t)p;
    if (u == 0) return 1u << 30;
    return (uint32_t)std::min<uintptr_t>(u & (~u + 1), 1u << 30);
}

// ---- handles ----

enum Kind { kBlas, kLt, kDesc, kLayout, kPref, kKinds };

std::mutex g_mu;
std::unordered_set<const void*>& live(int kind) {
    static std::unordered_set<const void*> sets[kKinds];
    return sets[kind];
}

template <class T>
T* create_obj(int kind) {
    T* t = new T();
    std::lock_guard<std::mutex> g(g_mu);
    live(kind).insert(t);
    return t;
}

template <class T>
T* find_obj(const void* h, int kind) {
    std::lock_guard<std::mutex> g(g_mu);
    return live(kind).count(h) ? (T*)const_cast<void*>(h) : nullptr;
}

template <class T>
bool destroy_obj(void* h, int kind) {
    {
        std::lock_guard<std::mutex> g(g_mu);
        if (!live(kind).erase(h)) return false;
    }
    delete (T*)h;
    return true;
}

struct BlasHandle {
    void* stream = nullptr;
    void* workspace = nullptr;
    size_t workspaceBytes = 0;
};

struct LtHandle {
    int unused = 0;
};

struct MatmulDesc {
    int32_t computeType = kCompute32F, scaleType = kR32F, pointerMode = 0;
    int32_t transa = kOpN, transb = kOpN, transc = kOpN, fillMode = kFillFull;
    uint32_t epilogue = kEpiDefault;
    uint64_t bias = 0;
    int64_t biasBatchStride = 0;
    int32_t biasType = -1;
};

struct Layout {
    uint32_t type = kR32F;
    int32_t order = kOrderCol;
    uint64_t rows = 0, cols = 0;
    int64_t ld = 0;
    int32_t batch = 1;
    int64_t stride = 0;
    int64_t planeOffset = 0;
};

bool same_layout(const Layout& x, const Layout& y) {
    return x.type == y.type && x.order == y.order && x.rows == y.rows && x.cols == y.cols && x.ld == y.ld && x.batch == y.batch &&
           x.stride == y.stride && x.planeOffset == y.planeOffset;
}

struct Pref {
    uint32_t searchMode = 0;
    uint64_t maxWorkspace = 0;
    uint32_t align[4] = {kDefaultPrefAlign, kDefaultPrefAlign, kDefaultPrefAlign, kDefaultPrefAlign};  // A, B, C, D
};

// ---- classic cuBLAS GEMM ----

int blas_gemm(const char* api, void* handle, int transa, int transb, int m, int n, int k, float alpha, float beta, const void* A,
              int aType, int lda, long long strideA, const void* B, int bType, int ldb, long long strideB, void* C, int cType, int ldc,
              long long strideC, int batch) {
    BlasHandle* h = find_obj<BlasHandle>(handle, kBlas);
    if (!h) return fail(kNotInitialized, api, "handle is not a live cuBLAS handle");
    auto op_ok = [](int op) { return op == kOpN || op == kOpT || op == kOpC; };  // C = T for real types
    if (!op_ok(transa) || !op_ok(transb))
        return fail(kInvalidValue, api, "transa " + str(transa) + " / transb " + str(transb) + " is not a cublasOperation_t");
    if (m < 0 || n < 0 || k < 0 || batch < 0)
        return fail(kInvalidValue, api, "negative size m " + str(m) + ", n " + str(n) + ", k " + str(k) + ", batchCount " + str(batch));
    const bool ta = transa != kOpN, tb = transb != kOpN;
    const int64_t aRows = ta ? k : m, bRows = tb ? n : k;
    if (lda < std::max<int64_t>(1, aRows) || ldb < std::max<int64_t>(1, bRows) || ldc < std::max<int64_t>(1, m))
        return fail(kInvalidValue, api, "leading dimension too small: lda " + str(lda) + " (needs >= " + str(std::max<int64_t>(1, aRows)) +
                                            "), ldb " + str(ldb) + " (needs >= " + str(std::max<int64_t>(1, bRows)) + "), ldc " + str(ldc) +
                                            " (needs >= " + str(std::max(1, m)) + ") for m " + str(m) + ", n " + str(n) + ", k " + str(k) +
                                            (ta ? ", op(A) = T" : ", op(A) = N") + (tb ? ", op(B) = T" : ", op(B) = N"));
    if (int s = check_types(api, aType, bType, cType)) return s;
    // Quick return (reference BLAS): nothing to do.
    if (m == 0 || n == 0 || batch == 0 || ((alpha == 0.0f || k == 0) && beta == 1.0f)) return kSuccess;

    Job J;
    J.m = m; J.n = n; J.k = k; J.batch = batch;
    J.alpha = alpha; J.beta = beta;
    J.useAB = alpha != 0.0f && k > 0;
    J.readC = beta != 0.0f;
    J.A = {(const char*)A, aType, ta ? (int64_t)lda : 1, ta ? 1 : (int64_t)lda, strideA};
    J.B = {(const char*)B, bType, tb ? (int64_t)ldb : 1, tb ? 1 : (int64_t)ldb, strideB};
    J.C = {(const char*)C, cType, 1, ldc, strideC};
    J.D = J.C;

    if (!C) return fail(kInvalidValue, api, "C is null");
    if (J.useAB && (!A || !B)) return fail(kInvalidValue, api, std::string(!A ? "A" : "B") + " is null");
    struct { const void* p; int t; const char* name; bool used; } ptrs[] = {{A, aType, "A", J.useAB}, {B, bType, "B", J.useAB}, {C, cType, "C", true}};
    for (auto& q : ptrs)
        if (q.used && ((uintptr_t)q.p % elem_size(q.t)) != 0)
            return fail(kInvalidValue, api, std::string(q.name) + " pointer " + str((long long)(uintptr_t)q.p) + " is not aligned to its " +
                                                type_name(q.t) + " elements (the GPU would fault with a misaligned address)");
    std::vector<Run> runs;
    add_runs(runs, J.D, m, n, batch, 0);
    if (J.useAB) {
        add_runs(runs, J.A, m, k, batch, 1);
        add_runs(runs, J.B, k, n, batch, 2);
    }
    static const char* const names[] = {"C (written)", "A", "B"};
    std::string ov = find_overlap(runs, names);
    if (!ov.empty()) return fail(kInvalidValue, api, ov + " (m " + str(m) + ", n " + str(n) + ", k " + str(k) + ", batchCount " + str(batch) + "): the result would be undefined");

    emu::enqueue(h->stream, [J] { execute(J); });
    return kSuccess;
}

bool gemm_algo_ok(int algo) { return (algo >= -1 && algo <= 23) || (algo >= 99 && algo <= 115); }

// ---- cuBLASLt ----

// A cuBLASLt problem, validated: the Job minus pointers and scalars, and the facts the algorithm records.
struct LtProblem {
    Job job;
    int aType = 0, bType = 0, cType = 0, dType = 0;
    int64_t m = 0, n = 0, k = 0, batch = 1;
    bool hasBias = false;
};

bool epilogue_known(uint32_t e, int* act, bool* bias) {
    switch (e) {
        case kEpiDefault: *act = kActNone; *bias = false; return true;
        case kEpiRelu: *act = kActRelu; *bias = false; return true;
        case kEpiBias: *act = kActNone; *bias = true; return true;
        case kEpiReluBias: *act = kActRelu; *bias = true; return true;
        case kEpiGelu: *act = kActGelu; *bias = false; return true;
        case kEpiGeluBias: *act = kActGelu; *bias = true; return true;
        default: return false;
    }
}

int check_layout(const char* api, const char* name, const Layout& L) {
    if (!known_type((int)L.type))
        return fail(kNotSupported, api, std::string(name) + " layout type " + type_str((int)L.type) + " is not emulated");
    if (L.order != kOrderCol && L.order != kOrderRow)
        return fail(kNotSupported, api, std::string(name) + " layout order " + str(L.order) + " is not emulated (only CUBLASLT_ORDER_COL / ROW)");
    if (L.planeOffset != 0)
        return fail(kNotSupported, api, std::string(name) + " layout PLANE_OFFSET " + str(L.planeOffset) + " (planar complex) is not emulated");
    if (L.rows > (uint64_t)INT64_MAX / 4 || L.cols > (uint64_t)INT64_MAX / 4)
        return fail(kInvalidValue, api, std::string(name) + " layout is implausibly large");
    const int64_t need = std::max<int64_t>(1, (int64_t)(L.order == kOrderCol ? L.rows : L.cols));
    if (L.ld < need)
        return fail(kInvalidValue, api, std::string(name) + " layout ld " + str(L.ld) + " is below " + str(need) + " (" + str((long long)L.rows) + " x " +
                                            str((long long)L.cols) + ", " + (L.order == kOrderCol ? "column" : "row") + "-major)");
    if (L.batch < 1) return fail(kInvalidValue, api, std::string(name) + " layout BATCH_COUNT " + str(L.batch) + " is below 1");
    return kSuccess;
}

// Element (r, c) of a stored matrix: (rs, cs).
void strides(const Layout& L, int64_t* rs, int64_t* cs) {
    if (L.order == kOrderCol) { *rs = 1; *cs = L.ld; }
    else { *rs = L.ld; *cs = 1; }
}

int lt_validate(const char* api, const MatmulDesc& d, const Layout& A, const Layout& B, const Layout& C, const Layout& D, LtProblem& P) {
    if (int s = check_compute(api, d.computeType)) return s;
    if (d.scaleType != kR32F)
        return fail(kNotSupported, api, "scale type " + type_str(d.scaleType) + " with " + compute_name(d.computeType) + " (needs CUDA_R_32F)");
    if (d.pointerMode != 0)
        return fail(kNotSupported, api, "CUBLASLT_MATMUL_DESC_POINTER_MODE " + str(d.pointerMode) + " is not emulated (host scalars only)");
    if (d.transc != kOpN) return fail(kNotSupported, api, "CUBLASLT_MATMUL_DESC_TRANSC must be CUBLAS_OP_N");
    if (d.fillMode != kFillFull) return fail(kNotSupported, api, "CUBLASLT_MATMUL_DESC_FILL_MODE " + str(d.fillMode) + " is not emulated");
    int act = 0;
    bool bias = false;
    if (!epilogue_known(d.epilogue, &act, &bias))
        return fail(kNotSupported, api, "epilogue " + str(d.epilogue) + " is not emulated (DEFAULT, RELU, BIAS, RELU_BIAS, GELU, GELU_BIAS)");
    const char* names[] = {"A", "B", "C", "D"};
    const Layout* Ls[] = {&A, &B, &C, &D};
    for (int i = 0; i < 4; i++)
        if (int s = check_layout(api, names[i], *Ls[i])) return s;
    if (int s = check_types(api, (int)A.type, (int)B.type, (int)C.type)) return s;
    if (C.type != D.type)
        return fail(kNotSupported, api, "C type " + type_str((int)C.type) + " differs from D type " + type_str((int)D.type));
    const bool ta = d.transa != kOpN, tb = d.transb != kOpN;
    const int64_t m = (int64_t)D.rows, n = (int64_t)D.cols;
    const int64_t k = (int64_t)(ta ? A.rows : A.cols);
    const int64_t aM = (int64_t)(ta ? A.cols : A.rows);
    const int64_t bK = (int64_t)(tb ? B.cols : B.rows), bN = (int64_t)(tb ? B.rows : B.cols);
    auto dims = [](const Layout& L) { return str((long long)L.rows) + "x" + str((long long)L.cols); };
    if (aM != m || bK != k || bN != n || (int64_t)C.rows != m || (int64_t)C.cols != n)
        return fail(kInvalidValue, api, std::string("dimensions disagree: A ") + dims(A) + (ta ? " (op T)" : " (op N)") + ", B " + dims(B) +
                                            (tb ? " (op T)" : " (op N)") + ", C " + dims(C) + ", D " + dims(D) +
                                            ": op(A) must be m x k, op(B) k x n, C and D m x n");
    if (A.batch != D.batch || B.batch != D.batch || C.batch != D.batch)
        return fail(kInvalidValue, api, "BATCH_COUNT differs: A " + str(A.batch) + ", B " + str(B.batch) + ", C " + str(C.batch) + ", D " + str(D.batch));
    int biasType = (int)D.type;
    if (bias) {
        if (d.biasType != -1) biasType = d.biasType;
        if (biasType != (int)D.type && biasType != kR32F)
            return fail(kNotSupported, api, "bias type " + type_str(biasType) + " with D " + type_str((int)D.type) + " (bias like D or CUDA_R_32F)");
    }
    P = LtProblem();
    P.aType = (int)A.type; P.bType = (int)B.type; P.cType = (int)C.type; P.dType = (int)D.type;
    P.m = m; P.n = n; P.k = k; P.batch = D.batch;
    P.hasBias = bias;
    Job& J = P.job;
    J.m = m; J.n = n; J.k = k; J.batch = D.batch;
    J.act = act;
    J.biasType = biasType;
    J.biasStride = d.biasBatchStride;
    int64_t rs, cs;
    strides(A, &rs, &cs);
    J.A = {nullptr, (int)A.type, ta ? cs : rs, ta ? rs : cs, A.stride};
    strides(B, &rs, &cs);
    J.B = {nullptr, (int)B.type, tb ? cs : rs, tb ? rs : cs, B.stride};
    strides(C, &rs, &cs);
    J.C = {nullptr, (int)C.type, rs, cs, C.stride};
    strides(D, &rs, &cs);
    J.D = {nullptr, (int)D.type, rs, cs, D.stride};
    return kSuccess;
}

struct AlgoData {
    uint64_t magic, types, align, reserved[5];
};
static_assert(sizeof(AlgoData) == 64, "cublasLtMatmulAlgo_t is uint64_t data[8]");

struct HeuristicResult {
    AlgoData algo;
    size_t workspaceSize;
    int state;
    float wavesCount;
    int reserved[4];
};
static_assert(sizeof(HeuristicResult) == 96, "cublasLtMatmulHeuristicResult_t is 96 bytes");

uint64_t pack_types(const MatmulDesc& d, const LtProblem& P) {
    return (uint64_t)(uint16_t)d.computeType | (uint64_t)(uint16_t)d.scaleType << 16 | (uint64_t)(uint8_t)P.aType << 32 |
           (uint64_t)(uint8_t)P.bType << 40 | (uint64_t)(uint8_t)P.cType << 48 | (uint64_t)(uint8_t)P.dType << 56;
}

uint64_t pack_align(const uint32_t a[4]) {
    return (uint64_t)(uint16_t)a[0] | (uint64_t)(uint16_t)a[1] << 16 | (uint64_t)(uint16_t)a[2] << 32 | (uint64_t)(uint16_t)a[3] << 48;
}

// The heuristic's one algorithm for a validated problem, or an error (no algorithm) when the preference rules it out.
int lt_heuristic(const char* api, const MatmulDesc& d, const LtProblem& P, const Pref& pref, AlgoData* out) {
    const int types[4] = {P.aType, P.bType, P.cType, P.dType};
    const char* names[4] = {"A", "B", "C", "D"};
    for (int i = 0; i < 4; i++)
        if (pref.align[i] < (uint32_t)elem_size(types[i]))
            return fail(kNotSupported, api, std::string("MIN_ALIGNMENT_") + names[i] + "_BYTES " + str(pref.align[i]) + " is below the " +
                                                 str(elem_size(types[i])) + "-byte elements of " + type_name(types[i]) + ": no algorithm");
    AlgoData a{};
    a.magic = kAlgoMagic;
    a.types = pack_types(d, P);
    a.align = pack_align(pref.align);
    *out = a;
    return kSuccess;
}

int lt_matmul(void* light, void* descH, const void* alpha, const void* A, void* aH, const void* B, void* bH, const void* beta, const void* C,
              void* cH, void* D, void* dH, const void* algoP, void* /*workspace*/, size_t /*wsBytes*/, void* stream) {
    const char* api = "cublasLtMatmul";
    if (!find_obj<LtHandle>(light, kLt)) return fail(kNotInitialized, api, "handle is not a live cuBLASLt handle");
    MatmulDesc* dp = find_obj<MatmulDesc>(descH, kDesc);
    Layout *la = find_obj<Layout>(aH, kLayout), *lb = find_obj<Layout>(bH, kLayout), *lc = find_obj<Layout>(cH, kLayout),
           *ld = find_obj<Layout>(dH, kLayout);
    if (!dp) return fail(kInvalidValue, api, "computeDesc is not a live cublasLtMatmulDesc_t");
    if (!la || !lb || !lc || !ld) return fail(kInvalidValue, api, "a matrix layout (Adesc/Bdesc/Cdesc/Ddesc) is not a live cublasLtMatrixLayout_t");
    if (!alpha || !beta) return fail(kInvalidValue, api, "alpha or beta is null");
    const MatmulDesc d = *dp;
    const Layout LA = *la, LB = *lb, LC = *lc, LD = *ld;
    LtProblem P;
    if (int s = lt_validate(api, d, LA, LB, LC, LD, P)) return s;
    AlgoData algo;
    if (algoP) {
        std::memcpy(&algo, algoP, sizeof algo);
        if (algo.magic != kAlgoMagic)
            return fail(kInvalidValue, api, "algo was not returned by cublasLtMatmulAlgoGetHeuristic (uninitialized or foreign cublasLtMatmulAlgo_t)");
        if (algo.types != pack_types(d, P))
            return fail(kInvalidValue, api, "algo was found for other compute/scale/A/B/C/D types than this call's");
    } else {
        Pref defaults;  // an implicit heuristic query with default preferences
        if (int s = lt_heuristic(api, d, P, defaults, &algo)) return s;
    }
    float al, be;
    std::memcpy(&al, alpha, 4);
    std::memcpy(&be, beta, 4);
    Job J = P.job;
    J.alpha = al;
    J.beta = be;
    J.useAB = al != 0.0f && P.k > 0;
    J.readC = be != 0.0f;
    J.A.p = (const char*)A;
    J.B.p = (const char*)B;
    J.C.p = (const char*)C;
    J.D.p = (const char*)D;
    J.bias = P.hasBias ? (const char*)(uintptr_t)d.bias : nullptr;
    if (P.hasBias && !J.bias) return fail(kInvalidValue, api, "epilogue " + str(d.epilogue) + " reads a bias but CUBLASLT_MATMUL_DESC_BIAS_POINTER is null");
    if (!D) return fail(kInvalidValue, api, "D is null");
    if (J.readC && !C) return fail(kInvalidValue, api, "C is null with beta != 0");
    if (J.useAB && (!A || !B)) return fail(kInvalidValue, api, std::string(!A ? "A" : "B") + " is null");
    if (C == D && C && !same_layout(LC, LD))
        return fail(kInvalidValue, api, "C and D are one buffer (in place) but Cdesc and Ddesc differ");

    // Alignment: each operand at least as aligned as the heuristic was told (capped at what real kernels exploit),
    // and every pointer aligned to its elements.
    const void* ptrs[4] = {A, B, C, D};
    const int types[4] = {P.aType, P.bType, P.cType, P.dType};
    const bool used[4] = {J.useAB, J.useAB, J.readC, true};
    const char* names[4] = {"A", "B", "C", "D"};
    for (int i = 0; i < 4; i++) {
        if (!used[i]) continue;
        const uint32_t promised = (uint32_t)((algo.align >> (16 * i)) & 0xFFFF);
        const uint32_t need = std::max<uint32_t>((uint32_t)elem_size(types[i]), std::min(promised, kKernelAlign));
        const uint32_t have = ptr_align(ptrs[i]);
        if (have < need)
            return fail(kInvalidValue, api, std::string(names[i]) + " pointer is " + str(have) + "-byte aligned, but the algorithm was chosen for " +
                                                 str(promised) + "-byte alignment (MIN_ALIGNMENT_" + names[i] +
                                                 "_BYTES; default 256): a real kernel may fault or misread. Tell the heuristic the true alignment");
    }
    if (J.bias && ptr_align(J.bias) < (uint32_t)elem_size(J.biasType))
        return fail(kInvalidValue, api, "bias pointer is not aligned to its " + std::string(type_name(J.biasType)) + " elements");

    std::vector<Run> runs;
    add_runs(runs, J.D, P.m, P.n, P.batch, 0);
    if (J.useAB) {
        add_runs(runs, J.A, P.m, P.k, P.batch, 1);
        add_runs(runs, J.B, P.k, P.n, P.batch, 2);
    }
    if (J.readC && C != D) add_runs(runs, J.C, P.m, P.n, P.batch, 3);
    if (J.bias) {
        Operand bo{J.bias, J.biasType, 1, 1, J.biasStride};
        add_runs(runs, bo, P.m, 1, P.batch, 4);
    }
    static const char* const onames[] = {"D (written)", "A", "B", "C", "the bias"};
    std::string ov = find_overlap(runs, onames);
    if (!ov.empty()) return fail(kInvalidValue, api, ov + " (m " + str(P.m) + ", n " + str(P.n) + ", k " + str(P.k) + ", batch " + str(P.batch) + "): the result would be undefined");

    emu::enqueue(stream, [J] { execute(J); });
    return kSuccess;
}

template <class V>
bool read_attr(const void* buf, size_t size, V* out) {
    if (!buf || size != sizeof(V)) return false;
    std::memcpy(out, buf, sizeof(V));
    return true;
}

std::string size_msg(const char* attr, size_t got, size_t want) {
    return std::string(attr) + ": sizeInBytes " + str((long long)got) + " (needs " + str((long long)want) + ") or a null buffer";
}

}  // namespace

// ===================================================================================== cuBLAS

CUBLAS_EMU_EXPORT int cublasCreate_v2(void** handle) {
    if (!handle) return fail(kInvalidValue, "cublasCreate_v2", "handle is null");
    *handle = create_obj<BlasHandle>(kBlas);
    return kSuccess;
}

CUBLAS_EMU_EXPORT int cublasDestroy_v2(void* handle) {
    if (!destroy_obj<BlasHandle>(handle, kBlas)) return fail(kNotInitialized, "cublasDestroy_v2", "handle is not a live cuBLAS handle");
    return kSuccess;
}

CUBLAS_EMU_EXPORT int cublasSetStream_v2(void* handle, void* stream) {
    BlasHandle* h = find_obj<BlasHandle>(handle, kBlas);
    if (!h) return fail(kNotInitialized, "cublasSetStream_v2", "handle is not a live cuBLAS handle");
    h->stream = stream;
    // cublasSetStream unconditionally resets the workspace to the library's default pool.
    h->workspace = nullptr;
    h->workspaceBytes = 0;
    return kSuccess;
}

CUBLAS_EMU_EXPORT int cublasGetStream_v2(void* handle, void** stream) {
    BlasHandle* h = find_obj<BlasHandle>(handle, kBlas);
    if (!h) return fail(kNotInitialized, "cublasGetStream_v2", "handle is not a live cuBLAS handle");
    if (!stream) return fail(kInvalidValue, "cublasGetStream_v2", "streamId is null");
    *stream = h->stream;
    return kSuccess;
}

CUBLAS_EMU_EXPORT int cublasSetWorkspace_v2(void* handle, void* workspace, size_t workspaceBytes) {
    const char* api = "cublasSetWorkspace_v2";
    BlasHandle* h = find_obj<BlasHandle>(handle, kBlas);
    if (!h) return fail(kNotInitialized, api, "handle is not a live cuBLAS handle");
    // Documented: the workspace pointer must be aligned to at least 256 bytes.
    if (workspace && ((uintptr_t)workspace % 256) != 0)
        return fail(kInvalidValue, api, "workspace pointer is not aligned to 256 bytes");
    if (!workspace && workspaceBytes != 0) return fail(kInvalidValue, api, "null workspace with a nonzero size");
    h->workspace = workspace;
    h->workspaceBytes = workspaceBytes;
    return kSuccess;
}

// libraryPropertyType: MAJOR_VERSION = 0, MINOR_VERSION = 1, PATCH_LEVEL = 2.
CUBLAS_EMU_EXPORT int cublasGetProperty(int type, int* value) {
    if (!value) return fail(kInvalidValue, "cublasGetProperty", "value is null");
    switch (type) {
        case 0: *value = 12; return kSuccess;
        case 1: *value = 9; return kSuccess;
        case 2: *value = 0; return kSuccess;
        default: return fail(kInvalidValue, "cublasGetProperty", "libraryPropertyType " + str(type));
    }
}

CUBLAS_EMU_EXPORT int cublasSgemmEx(void* handle, int transa, int transb, int m, int n, int k, const float* alpha, const void* A, int aType, int lda,
                          const void* B, int bType, int ldb, const float* beta, void* C, int cType, int ldc) {
    if (!alpha || !beta) return fail(kInvalidValue, "cublasSgemmEx", "alpha or beta is null");
    return blas_gemm("cublasSgemmEx", handle, transa, transb, m, n, k, *alpha, *beta, A, aType, lda, 0, B, bType, ldb, 0, C, cType, ldc, 0, 1);
}

CUBLAS_EMU_EXPORT int cublasGemmEx(void* handle, int transa, int transb, int m, int n, int k, const void* alpha, const void* A, int aType, int lda,
                         const void* B, int bType, int ldb, const void* beta, void* C, int cType, int ldc, int computeType, int algo) {
    const char* api = "cublasGemmEx";
    if (int s = check_compute(api, computeType)) return s;
    if (!gemm_algo_ok(algo)) return fail(kInvalidValue, api, "algo " + str(algo) + " is not a cublasGemmAlgo_t");
    if (!alpha || !beta) return fail(kInvalidValue, api, "alpha or beta is null");
    float al, be;  // fp32 compute: float scalars
    std::memcpy(&al, alpha, 4);
    std::memcpy(&be, beta, 4);
    return blas_gemm(api, handle, transa, transb, m, n, k, al, be, A, aType, lda, 0, B, bType, ldb, 0, C, cType, ldc, 0, 1);
}

CUBLAS_EMU_EXPORT int cublasGemmStridedBatchedEx(void* handle, int transa, int transb, int m, int n, int k, const void* alpha, const void* A, int aType,
                                       int lda, long long strideA, const void* B, int bType, int ldb, long long strideB, const void* beta,
                                       void* C, int cType, int ldc, long long strideC, int batchCount, int computeType, int algo) {
    const char* api = "cublasGemmStridedBatchedEx";
    if (int s = check_compute(api, computeType)) return s;
    if (!gemm_algo_ok(algo)) return fail(kInvalidValue, api, "algo " + str(algo) + " is not a cublasGemmAlgo_t");
    if (!alpha || !beta) return fail(kInvalidValue, api, "alpha or beta is null");
    float al, be;
    std::memcpy(&al, alpha, 4);
    std::memcpy(&be, beta, 4);
    return blas_gemm(api, handle, transa, transb, m, n, k, al, be, A, aType, lda, strideA, B, bType, ldb, strideB, C, cType, ldc, strideC,
                     batchCount);
}

// ===================================================================================== cuBLASLt

CUBLAS_EMU_EXPORT int cublasLtCreate(void** handle) {
    if (!handle) return fail(kInvalidValue, "cublasLtCreate", "lightHandle is null");
    *handle = create_obj<LtHandle>(kLt);
    return kSuccess;
}

CUBLAS_EMU_EXPORT int cublasLtDestroy(void* handle) {
    if (!destroy_obj<LtHandle>(handle, kLt)) return fail(kNotInitialized, "cublasLtDestroy", "lightHandle is not a live cuBLASLt handle");
    return kSuccess;
}

// CUBLASLT_VERSION = major*10000 + minor*100 + patch: 12.9.0.
CUBLAS_EMU_EXPORT size_t cublasLtGetVersion(void) { return 120900; }

CUBLAS_EMU_EXPORT int cublasLtMatmulDescCreate(void** desc, int computeType, int scaleType) {
    const char* api = "cublasLtMatmulDescCreate";
    if (!desc) return fail(kInvalidValue, api, "matmulDesc is null");
    if (int s = check_compute(api, computeType)) return s;
    if (scaleType != kR32F)
        return fail(kNotSupported, api, "scaleType " + type_str(scaleType) + " with " + compute_name(computeType) + " (needs CUDA_R_32F)");
    MatmulDesc* d = create_obj<MatmulDesc>(kDesc);
    d->computeType = computeType;
    d->scaleType = scaleType;
    *desc = d;
    return kSuccess;
}

CUBLAS_EMU_EXPORT int cublasLtMatmulDescDestroy(void* desc) {
    if (!destroy_obj<MatmulDesc>(desc, kDesc))
        return fail(kInvalidValue, "cublasLtMatmulDescDestroy", "matmulDesc is not a live cublasLtMatmulDesc_t");
    return kSuccess;
}

CUBLAS_EMU_EXPORT int cublasLtMatmulDescSetAttribute(void* desc, int attr, const void* buf, size_t size) {
    const char* api = "cublasLtMatmulDescSetAttribute";
    MatmulDesc* d = find_obj<MatmulDesc>(desc, kDesc);
    if (!d) return fail(kInvalidValue, api, "matmulDesc is not a live cublasLtMatmulDesc_t");
    int32_t i32;
    uint32_t u32;
    int64_t i64;
    uint64_t u64;
    switch (attr) {
        case 0:  // COMPUTE_TYPE (int32)
            if (!read_attr(buf, size, &i32)) return fail(kInvalidValue, api, size_msg("COMPUTE_TYPE", size, 4));
            if (int s = check_compute(api, i32)) return s;
            d->computeType = i32;
            return kSuccess;
        case 1:  // SCALE_TYPE (int32)
            if (!read_attr(buf, size, &i32)) return fail(kInvalidValue, api, size_msg("SCALE_TYPE", size, 4));
            if (i32 != kR32F) return fail(kNotSupported, api, "SCALE_TYPE " + type_str(i32) + " is not emulated (CUDA_R_32F only)");
            d->scaleType = i32;
            return kSuccess;
        case 2:  // POINTER_MODE (int32)
            if (!read_attr(buf, size, &i32)) return fail(kInvalidValue, api, size_msg("POINTER_MODE", size, 4));
            if (i32 != 0) return fail(kNotSupported, api, "POINTER_MODE " + str(i32) + " is not emulated (CUBLASLT_POINTER_MODE_HOST only)");
            d->pointerMode = i32;
            return kSuccess;
        case 3:  // TRANSA (int32)
        case 4:  // TRANSB
        case 5:  // TRANSC
        {
            const char* nm = attr == 3 ? "TRANSA" : attr == 4 ? "TRANSB" : "TRANSC";
            if (!read_attr(buf, size, &i32)) return fail(kInvalidValue, api, size_msg(nm, size, 4));
            if (i32 != kOpN && i32 != kOpT && i32 != kOpC) return fail(kInvalidValue, api, std::string(nm) + " " + str(i32) + " is not a cublasOperation_t");
            if (attr == 5 && i32 != kOpN) return fail(kNotSupported, api, "TRANSC other than CUBLAS_OP_N is not supported");
            (attr == 3 ? d->transa : attr == 4 ? d->transb : d->transc) = i32 == kOpN ? kOpN : kOpT;
            return kSuccess;
        }
        case 6:  // FILL_MODE (int32)
            if (!read_attr(buf, size, &i32)) return fail(kInvalidValue, api, size_msg("FILL_MODE", size, 4));
            if (i32 != kFillFull) return fail(kNotSupported, api, "FILL_MODE " + str(i32) + " is not emulated (CUBLAS_FILL_MODE_FULL only)");
            d->fillMode = i32;
            return kSuccess;
        case 7: {  // EPILOGUE (uint32)
            if (!read_attr(buf, size, &u32)) return fail(kInvalidValue, api, size_msg("EPILOGUE", size, 4));
            int act;
            bool bias;
            if (!epilogue_known(u32, &act, &bias))
                return fail(kNotSupported, api, "EPILOGUE " + str(u32) + " is not emulated (DEFAULT 1, RELU 2, BIAS 4, RELU_BIAS 6, GELU 32, GELU_BIAS 36)");
            d->epilogue = u32;
            return kSuccess;
        }
        case 8:  // BIAS_POINTER (void*)
            if (!read_attr(buf, size, &u64)) return fail(kInvalidValue, api, size_msg("BIAS_POINTER", size, 8));
            d->bias = u64;
            return kSuccess;
        case 10:  // BIAS_BATCH_STRIDE (int64)
            if (!read_attr(buf, size, &i64)) return fail(kInvalidValue, api, size_msg("BIAS_BATCH_STRIDE", size, 8));
            d->biasBatchStride = i64;
            return kSuccess;
        case 26:  // BIAS_DATA_TYPE (int32; -1: like D)
            if (!read_attr(buf, size, &i32)) return fail(kInvalidValue, api, size_msg("BIAS_DATA_TYPE", size, 4));
            if (i32 != -1 && !known_type(i32)) return fail(kNotSupported, api, "BIAS_DATA_TYPE " + type_str(i32) + " is not emulated");
            d->biasType = i32;
            return kSuccess;
        default:
            return fail(kInvalidValue, api, "cublasLtMatmulDescAttributes_t " + str(attr) + " is not emulated");
    }
}

CUBLAS_EMU_EXPORT int cublasLtMatrixLayoutCreate(void** layout, int type, uint64_t rows, uint64_t cols, int64_t ld) {
    const char* api = "cublasLtMatrixLayoutCreate";
    if (!layout) return fail(kInvalidValue, api, "matLayout is null");
    if (!known_type(type)) return fail(kNotSupported, api, "type " + type_str(type) + " is not emulated");
    Layout* l = create_obj<Layout>(kLayout);
    l->type = (uint32_t)type;
    l->rows = rows;
    l->cols = cols;
    l->ld = ld;
    *layout = l;
    return kSuccess;
}

CUBLAS_EMU_EXPORT int cublasLtMatrixLayoutDestroy(void* layout) {
    if (!destroy_obj<Layout>(layout, kLayout))
        return fail(kInvalidValue, "cublasLtMatrixLayoutDestroy", "matLayout is not a live cublasLtMatrixLayout_t");
    return kSuccess;
}

CUBLAS_EMU_EXPORT int cublasLtMatrixLayoutSetAttribute(void* layout, int attr, const void* buf, size_t size) {
    const char* api = "cublasLtMatrixLayoutSetAttribute";
    Layout* l = find_obj<Layout>(layout, kLayout);
    if (!l) return fail(kInvalidValue, api, "matLayout is not a live cublasLtMatrixLayout_t");
    int32_t i32;
    uint32_t u32;
    int64_t i64;
    uint64_t u64;
    switch (attr) {
        case 0:  // TYPE (uint32)
            if (!read_attr(buf, size, &u32)) return fail(kInvalidValue, api, size_msg("TYPE", size, 4));
            if (!known_type((int)u32)) return fail(kNotSupported, api, "TYPE " + type_str((int)u32) + " is not emulated");
            l->type = u32;
            return kSuccess;
        case 1:  // ORDER (int32)
            if (!read_attr(buf, size, &i32)) return fail(kInvalidValue, api, size_msg("ORDER", size, 4));
            if (i32 != kOrderCol && i32 != kOrderRow)
                return fail(kNotSupported, api, "ORDER " + str(i32) + " is not emulated (CUBLASLT_ORDER_COL 0, CUBLASLT_ORDER_ROW 1)");
            l->order = i32;
            return kSuccess;
        case 2:  // ROWS (uint64)
        case 3:  // COLS (uint64)
            if (!read_attr(buf, size, &u64)) return fail(kInvalidValue, api, size_msg(attr == 2 ? "ROWS" : "COLS", size, 8));
            (attr == 2 ? l->rows : l->cols) = u64;
            return kSuccess;
        case 4:  // LD (int64)
            if (!read_attr(buf, size, &i64)) return fail(kInvalidValue, api, size_msg("LD", size, 8));
            l->ld = i64;
            return kSuccess;
        case 5:  // BATCH_COUNT (int32)
            if (!read_attr(buf, size, &i32)) return fail(kInvalidValue, api, size_msg("BATCH_COUNT", size, 4));
            if (i32 < 1) return fail(kInvalidValue, api, "BATCH_COUNT " + str(i32) + " is below 1");
            l->batch = i32;
            return kSuccess;
        case 6:  // STRIDED_BATCH_OFFSET (int64, elements)
            if (!read_attr(buf, size, &i64)) return fail(kInvalidValue, api, size_msg("STRIDED_BATCH_OFFSET", size, 8));
            l->stride = i64;
            return kSuccess;
        case 7:  // PLANE_OFFSET (int64)
            if (!read_attr(buf, size, &i64)) return fail(kInvalidValue, api, size_msg("PLANE_OFFSET", size, 8));
            if (i64 != 0) return fail(kNotSupported, api, "PLANE_OFFSET (planar complex) is not emulated");
            l->planeOffset = i64;
            return kSuccess;
        default:
            return fail(kInvalidValue, api, "cublasLtMatrixLayoutAttribute_t " + str(attr) + " is not emulated");
    }
}

CUBLAS_EMU_EXPORT int cublasLtMatmulPreferenceCreate(void** pref) {
    if (!pref) return fail(kInvalidValue, "cublasLtMatmulPreferenceCreate", "pref is null");
    *pref = create_obj<Pref>(kPref);
    return kSuccess;
}

CUBLAS_EMU_EXPORT int cublasLtMatmulPreferenceDestroy(void* pref) {
    if (!destroy_obj<Pref>(pref, kPref))
        return fail(kInvalidValue, "cublasLtMatmulPreferenceDestroy", "pref is not a live cublasLtMatmulPreference_t");
    return kSuccess;
}

CUBLAS_EMU_EXPORT int cublasLtMatmulPreferenceSetAttribute(void* pref, int attr, const void* buf, size_t size) {
    const char* api = "cublasLtMatmulPreferenceSetAttribute";
    Pref* p = find_obj<Pref>(pref, kPref);
    if (!p) return fail(kInvalidValue, api, "pref is not a live cublasLtMatmulPreference_t");
    uint32_t u32;
    uint64_t u64;
    switch (attr) {
        case 0:  // SEARCH_MODE (uint32)
            if (!read_attr(buf, size, &u32)) return fail(kInvalidValue, api, size_msg("SEARCH_MODE", size, 4));
            if (u32 != 0) return fail(kNotSupported, api, "SEARCH_MODE " + str(u32) + " is not emulated (CUBLASLT_SEARCH_BEST_FIT only)");
            p->searchMode = u32;
            return kSuccess;
        case 1:  // MAX_WORKSPACE_BYTES (uint64)
            if (!read_attr(buf, size, &u64)) return fail(kInvalidValue, api, size_msg("MAX_WORKSPACE_BYTES", size, 8));
            p->maxWorkspace = u64;
            return kSuccess;
        case 5:  // MIN_ALIGNMENT_A_BYTES (uint32)
        case 6:  // B
        case 7:  // C
        case 8:  // D
        {
            static const char* const nm[] = {"MIN_ALIGNMENT_A_BYTES", "MIN_ALIGNMENT_B_BYTES", "MIN_ALIGNMENT_C_BYTES", "MIN_ALIGNMENT_D_BYTES"};
            if (!read_attr(buf, size, &u32)) return fail(kInvalidValue, api, size_msg(nm[attr - 5], size, 4));
            if (u32 == 0 || (u32 & (u32 - 1)) != 0) return fail(kInvalidValue, api, std::string(nm[attr - 5]) + " " + str(u32) + " is not a power of two");
            p->align[attr - 5] = std::min<uint32_t>(u32, kDefaultPrefAlign);
            return kSuccess;
        }
        default:
            return fail(kInvalidValue, api, "cublasLtMatmulPreferenceAttributes_t " + str(attr) + " is not emulated");
    }
}

CUBLAS_EMU_EXPORT int cublasLtMatmulAlgoGetHeuristic(void* light, void* descH, void* aH, void* bH, void* cH, void* dH, void* prefH, int requested,
                                           void* results, int* returned) {
    const char* api = "cublasLtMatmulAlgoGetHeuristic";
    if (returned) *returned = 0;
    if (!find_obj<LtHandle>(light, kLt)) return fail(kNotInitialized, api, "lightHandle is not a live cuBLASLt handle");
    MatmulDesc* dp = find_obj<MatmulDesc>(descH, kDesc);
    Layout *la = find_obj<Layout>(aH, kLayout), *lb = find_obj<Layout>(bH, kLayout), *lc = find_obj<Layout>(cH, kLayout),
           *ld = find_obj<Layout>(dH, kLayout);
    Pref* pp = find_obj<Pref>(prefH, kPref);
    if (!dp) return fail(kInvalidValue, api, "operationDesc is not a live cublasLtMatmulDesc_t");
    if (!la || !lb || !lc || !ld) return fail(kInvalidValue, api, "a matrix layout (Adesc/Bdesc/Cdesc/Ddesc) is not a live cublasLtMatrixLayout_t");
    if (!pp) return fail(kInvalidValue, api, "preference is not a live cublasLtMatmulPreference_t");
    if (requested <= 0 || !results || !returned)
        return fail(kInvalidValue, api, "requestedAlgoCount " + str(requested) + " must be positive and heuristicResultsArray / returnAlgoCount non-null");
    LtProblem P;
    const MatmulDesc d = *dp;
    if (int s = lt_validate(api, d, *la, *lb, *lc, *ld, P)) return s;
    AlgoData algo;
    if (int s = lt_heuristic(api, d, P, *pp, &algo)) return s;
    HeuristicResult r{};
    r.algo = algo;
    r.workspaceSize = 0;
    r.state = kSuccess;
    r.wavesCount = 1.0f;
    std::memcpy(results, &r, sizeof r);
    *returned = 1;
    return kSuccess;
}

CUBLAS_EMU_EXPORT int cublasLtMatmul(void* light, void* desc, const void* alpha, const void* A, void* aDesc, const void* B, void* bDesc, const void* beta,
                           const void* C, void* cDesc, void* D, void* dDesc, const void* algo, void* workspace, size_t workspaceBytes,
                           void* stream) {
    return lt_matmul(light, desc, alpha, A, aDesc, B, bDesc, beta, C, cDesc, D, dDesc, algo, workspace, workspaceBytes, stream);
}
