// CUDA driver API stand-in of FastIF's CUDA emulator: one emulated device whose memory is host memory, streams that run
// their work at once on the calling thread (or record it while captured into a graph), and kernels launched from the
// shared objects emu_nvrtc.cpp builds. It keeps the real driver's rules where FastIF could break them without noticing
// on a CPU: launch limits, allocation bounds of copies, calls that are illegal during stream capture, sticky errors.
#include "emu_common.h"
#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <dlfcn.h>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <sys/mman.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace {

// The CUresult values the emulator returns (cuda.h), listed once: the enum and cuGetErrorName's names come from here.
#define FASTIF_EMU_RESULTS(X)                                                                                          \
    X(CUDA_SUCCESS, 0) X(CUDA_ERROR_INVALID_VALUE, 1) X(CUDA_ERROR_OUT_OF_MEMORY, 2) X(CUDA_ERROR_NOT_INITIALIZED, 3)  \
    X(CUDA_ERROR_INVALID_DEVICE, 101) X(CUDA_ERROR_INVALID_IMAGE, 200) X(CUDA_ERROR_INVALID_HANDLE, 400)               \
    X(CUDA_ERROR_ILLEGAL_STATE, 401) X(CUDA_ERROR_NOT_FOUND, 500) X(CUDA_ERROR_LAUNCH_FAILED, 719)                     \
    X(CUDA_ERROR_NOT_SUPPORTED, 801) X(CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED, 900)                                     \
    X(CUDA_ERROR_STREAM_CAPTURE_INVALIDATED, 901)
#define FASTIF_EMU_ENUM(name, value) name = value,
enum : int { FASTIF_EMU_RESULTS(FASTIF_EMU_ENUM) };

constexpr size_t DeviceBytes = 16ull << 30;  // what the emulated device reports; allocations are host memory
constexpr unsigned MaxDynamicShared = 48 << 10;  // without cuFuncSetAttribute (FastIF binds none), as on real GPUs

struct Kernel {  // fastif_emu::Kernel (emu_device.h), as the driver sees it
    const char* name;
    void* fn;
    void (*call)(void*, void**);
    int nargs;
    size_t sizes[32];
};
typedef const Kernel* (*FindFn)(const char*);
typedef int (*LaunchFn)(const Kernel*, const unsigned*, const unsigned*, unsigned, void**, const char**);

struct Module { void* dl; FindFn find; LaunchFn launch; };
struct Function { Module* module; const Kernel* kernel; };
struct Graph { std::vector<std::function<void()>> ops; };
// cuStreamBeginCapture modes (CUstreamCaptureMode): GLOBAL = 0, THREAD_LOCAL = 1, RELAXED = 2.
enum : int { CaptureGlobal = 0, CaptureThreadLocal = 1, CaptureRelaxed = 2 };
struct Stream {
    bool capturing = false;
    int mode = CaptureGlobal;
    bool invalidated = false;
    Graph* graph = nullptr;
    std::thread::id owner;  // the thread that began the capture
};
struct Event { bool recorded = false; double ms = 0; };

std::mutex mu;
bool initialized = false;
int sticky = CUDA_SUCCESS;      // a failed kernel poisons the context, as on a GPU
std::string stickyDetail;
std::map<uintptr_t, size_t> allocations;  // device allocations: start -> bytes
std::map<uintptr_t, size_t> mappings;     // device allocations: start -> mapping base (for munmap)
std::set<Stream*> capturing;
size_t allocated = 0;
const char* runningKernel = nullptr;
struct sigaction previousSegv;

// FASTIF_EMULATOR_PROFILE=FILE: CPU time per kernel, written to FILE at exit (to see what makes an emulated test
// slow; it says nothing about a GPU).
struct Profile {
    std::map<std::string, std::pair<double, long>> spent;
    const char* path = std::getenv("FASTIF_EMULATOR_PROFILE");
    bool on = path && *path;
    ~Profile() {
        if (!on) return;
        FILE* out = std::fopen(path, "w");
        if (!out) return;
        std::vector<std::pair<double, std::string>> rows;
        for (auto& [k, v] : spent) rows.push_back({v.first, k});
        std::sort(rows.rbegin(), rows.rend());
        std::fprintf(out, "fastif cuda emulator: CPU ms by kernel\n");
        for (auto& [ms, k] : rows) std::fprintf(out, "%12.1f ms %8ld x  %s\n", ms, spent[k].second, k.c_str());
        std::fclose(out);
    }
} profile;

double now_ms() {
    using namespace std::chrono;
    return duration<double, std::milli>(steady_clock::now().time_since_epoch()).count();
}

void on_segv(int sig, siginfo_t* info, void* ctx) {
    if (runningKernel) {
        char msg[512];
        int n = std::snprintf(msg, sizeof msg,
                              "\nfastif cuda emulator: memory fault at %p in kernel %s: an access outside every allocation "
                              "(or past one's end, into its guard page)\n",
                              info->si_addr, runningKernel);
        if (write(2, msg, n) < 0) {}
        signal(SIGSEGV, SIG_DFL);
        return;  // the access faults again, now fatally
    }
    if (previousSegv.sa_flags & SA_SIGINFO) previousSegv.sa_sigaction(sig, info, ctx);
    else if (previousSegv.sa_handler != SIG_DFL && previousSegv.sa_handler != SIG_IGN) previousSegv.sa_handler(sig);
    else { signal(SIGSEGV, SIG_DFL); }
}

void install_fault_report() {
    static bool done = false;
    if (done) return;
    done = true;
    struct sigaction sa {};
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, &previousSegv);
}

// The captures that forbid the calling thread "potentially unsafe" calls (synchronous copies, allocation, synchronisation),
// by the driver's rule (cuThreadExchangeStreamCaptureMode; every thread here keeps the default GLOBAL mode): its own
// capture unless RELAXED, and any thread's GLOBAL capture. A THREAD_LOCAL capture, which FastIF uses, binds only the
// thread that began it.
std::vector<Stream*> captures_binding_this_thread() {
    std::vector<Stream*> binding;
    auto me = std::this_thread::get_id();
    for (Stream* s : capturing)
        if (s->mode == CaptureGlobal || (s->mode == CaptureThreadLocal && s->owner == me)) binding.push_back(s);
    return binding;
}

// A call the real driver refuses during those captures: it fails and invalidates them.
bool refused_in_capture(const char* api) {
    auto binding = captures_binding_this_thread();
    if (binding.empty()) return false;
    emu::unsupported(api, "called during stream capture (not allowed outside relaxed mode: it invalidates the capture)");
    for (Stream* s : binding) s->invalidated = true;
    return true;
}

bool in_allocation(uintptr_t p, size_t bytes) {
    auto it = allocations.upper_bound(p);
    if (it == allocations.begin()) return false;
    --it;
    return p >= it->first && p + bytes <= it->first + it->second;
}

int check_device_range(const char* api, uintptr_t p, size_t bytes) {
    if (bytes == 0 || in_allocation(p, bytes)) return CUDA_SUCCESS;
    char buf[160];
    std::snprintf(buf, sizeof buf, "%zu bytes at 0x%zx are not inside one device allocation", bytes, (size_t)p);
    emu::unsupported(api, buf);
    return CUDA_ERROR_INVALID_VALUE;
}

int alloc(uint64_t* dptr, size_t bytes) {
    if (bytes == 0) return CUDA_ERROR_INVALID_VALUE;
    if (allocated + bytes > DeviceBytes) return CUDA_ERROR_OUT_OF_MEMORY;
    size_t page = (size_t)sysconf(_SC_PAGESIZE), rounded = (bytes + 255) & ~(size_t)255;
    size_t span = (rounded + page - 1) / page * page + page;
    void* base = mmap(nullptr, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (base == MAP_FAILED) return CUDA_ERROR_OUT_OF_MEMORY;
    char* guard = (char*)base + span - page;
    mprotect(guard, page, PROT_NONE);  // an access past the allocation's end faults, reported by on_segv
    uintptr_t p = (uintptr_t)(guard - rounded);
    std::memset((void*)p, 0xFF, rounded);  // fresh device memory is garbage, here NaN-patterned, never zeros
    allocations[p] = bytes;
    mappings[p] = (uintptr_t)base;
    allocated += bytes;
    *dptr = p;
    return CUDA_SUCCESS;
}

int release(uint64_t p) {
    auto it = allocations.find(p);
    if (it == allocations.end()) { emu::unsupported("cuMemFree", "pointer is not the start of a device allocation"); return CUDA_ERROR_INVALID_VALUE; }
    size_t page = (size_t)sysconf(_SC_PAGESIZE), rounded = (it->second + 255) & ~(size_t)255;
    size_t span = (rounded + page - 1) / page * page + page;
    munmap((void*)mappings[p], span);
    allocated -= it->second;
    mappings.erase(p);
    allocations.erase(it);
    return CUDA_SUCCESS;
}

}  // namespace

namespace emu {

void unsupported(const char* api, const std::string& what) {
    static std::set<std::string> said;
    std::string line = std::string("fastif cuda emulator: ") + api + ": " + what;
    if (said.insert(line).second) std::fprintf(stderr, "%s\n", line.c_str());
}

void enqueue(void* stream, std::function<void()> op) {
    auto* s = static_cast<Stream*>(stream);
    if (s && s->capturing) { s->graph->ops.push_back(std::move(op)); return; }
    if (!s) {
        auto binding = captures_binding_this_thread();
        if (!binding.empty()) unsupported("(legacy default stream)", "work queued on stream 0 during a capture, which invalidates it");
        for (Stream* c : binding) c->invalidated = true;
    }
    op();
}

}  // namespace emu

#define EXPORT extern "C" __attribute__((visibility("default")))
#define GUARD std::lock_guard<std::mutex> lock(mu)
#define NEED_INIT if (!initialized) return CUDA_ERROR_NOT_INITIALIZED
#define STICKY if (sticky) return sticky

EXPORT int cuInit(unsigned) { GUARD; initialized = true; install_fault_report(); return CUDA_SUCCESS; }
EXPORT int cuDriverGetVersion(int* v) { *v = 12090; return CUDA_SUCCESS; }
EXPORT int cuDeviceGetCount(int* n) { NEED_INIT; *n = 1; return CUDA_SUCCESS; }
EXPORT int cuDeviceGet(int* d, int ordinal) { NEED_INIT; if (ordinal != 0) return CUDA_ERROR_INVALID_DEVICE; *d = 0; return CUDA_SUCCESS; }

EXPORT int cuDeviceGetName(char* name, int len, int device) {
    if (device != 0) return CUDA_ERROR_INVALID_DEVICE;
    std::snprintf(name, (size_t)len, "FastIF CUDA emulator (CPU, not a GPU)");
    return CUDA_SUCCESS;
}

// FastIF sizes some grids by the SM count (GroupNormPlan: about 8 blocks per SM); on one CPU thread an H100's 132 SMs
// would only multiply the blocks to run. FASTIF_EMULATOR_SM_COUNT sets another count (e.g. 132 to replay an H100's plans).
static int sm_count() {
    const char* s = std::getenv("FASTIF_EMULATOR_SM_COUNT");
    int n = s ? std::atoi(s) : 0;
    return n > 0 ? n : 4;
}

EXPORT int cuDeviceGetAttribute(int* v, int attribute, int device) {
    if (device != 0) return CUDA_ERROR_INVALID_DEVICE;
    switch (attribute) {
        case 1: *v = 1024; break;              // MAX_THREADS_PER_BLOCK
        case 2: case 3: *v = 1024; break;      // MAX_BLOCK_DIM_X/Y
        case 4: *v = 64; break;                // MAX_BLOCK_DIM_Z
        case 5: *v = 2147483647; break;        // MAX_GRID_DIM_X
        case 6: case 7: *v = 65535; break;     // MAX_GRID_DIM_Y/Z
        case 8: *v = 49152; break;             // MAX_SHARED_MEMORY_PER_BLOCK
        case 10: *v = 32; break;               // WARP_SIZE
        case 16: *v = sm_count(); break;       // MULTIPROCESSOR_COUNT
        case 75: *v = 9; break;                // COMPUTE_CAPABILITY_MAJOR
        case 76: *v = 0; break;                // COMPUTE_CAPABILITY_MINOR
        case 97: *v = 232448; break;           // MAX_SHARED_MEMORY_PER_BLOCK_OPTIN
        default:
            emu::unsupported("cuDeviceGetAttribute", "attribute " + std::to_string(attribute));
            return CUDA_ERROR_INVALID_VALUE;
    }
    return CUDA_SUCCESS;
}

EXPORT int cuDeviceTotalMem_v2(size_t* bytes, int device) { if (device != 0) return CUDA_ERROR_INVALID_DEVICE; *bytes = DeviceBytes; return CUDA_SUCCESS; }

static int primaryContext = 1;
static thread_local void* currentContext = nullptr;
EXPORT int cuDevicePrimaryCtxRetain(void** ctx, int device) { NEED_INIT; if (device != 0) return CUDA_ERROR_INVALID_DEVICE; *ctx = &primaryContext; return CUDA_SUCCESS; }
EXPORT int cuDevicePrimaryCtxRelease_v2(int device) { return device == 0 ? CUDA_SUCCESS : CUDA_ERROR_INVALID_DEVICE; }
EXPORT int cuCtxSetCurrent(void* ctx) { currentContext = ctx; return CUDA_SUCCESS; }
EXPORT int cuCtxGetCurrent(void** ctx) { *ctx = currentContext; return CUDA_SUCCESS; }
EXPORT int cuCtxSynchronize() { GUARD; if (refused_in_capture("cuCtxSynchronize")) return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED; return sticky; }

EXPORT int cuMemAlloc_v2(uint64_t* p, size_t bytes) {
    GUARD; NEED_INIT; STICKY;
    if (refused_in_capture("cuMemAlloc")) return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
    return alloc(p, bytes);
}
EXPORT int cuMemFree_v2(uint64_t p) {
    GUARD;
    if (refused_in_capture("cuMemFree")) return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
    return release(p);
}
EXPORT int cuMemAllocAsync(uint64_t* p, size_t bytes, void* stream) {
    GUARD; NEED_INIT; STICKY;
    if (stream && static_cast<Stream*>(stream)->capturing) { emu::unsupported("cuMemAllocAsync", "graph allocation nodes"); return CUDA_ERROR_NOT_SUPPORTED; }
    return alloc(p, bytes);
}
EXPORT int cuMemFreeAsync(uint64_t p, void* stream) {
    GUARD;
    if (stream && static_cast<Stream*>(stream)->capturing) { emu::unsupported("cuMemFreeAsync", "graph free nodes"); return CUDA_ERROR_NOT_SUPPORTED; }
    return release(p);
}
EXPORT int cuMemHostAlloc(void** pp, size_t bytes, unsigned) {
    *pp = std::aligned_alloc(4096, (bytes + 4095) & ~(size_t)4095);
    return *pp ? CUDA_SUCCESS : CUDA_ERROR_OUT_OF_MEMORY;
}
EXPORT int cuMemFreeHost(void* p) { std::free(p); return CUDA_SUCCESS; }
EXPORT int cuMemGetInfo_v2(size_t* freeBytes, size_t* total) { GUARD; *total = DeviceBytes; *freeBytes = DeviceBytes - allocated; return CUDA_SUCCESS; }

static int copy(const char* api, void* stream, bool async, uintptr_t dst, bool dstDevice, uintptr_t src, bool srcDevice, size_t bytes) {
    GUARD; STICKY;
    if (!async && refused_in_capture(api)) return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
    if (dstDevice) if (int rc = check_device_range(api, dst, bytes)) return rc;
    if (srcDevice) if (int rc = check_device_range(api, src, bytes)) return rc;
    emu::enqueue(stream, [=] { std::memmove((void*)dst, (const void*)src, bytes); });
    return CUDA_SUCCESS;
}

EXPORT int cuMemcpyHtoD_v2(uint64_t d, const void* s, size_t n) { return copy("cuMemcpyHtoD", nullptr, false, d, true, (uintptr_t)s, false, n); }
EXPORT int cuMemcpyDtoH_v2(void* d, uint64_t s, size_t n) { return copy("cuMemcpyDtoH", nullptr, false, (uintptr_t)d, false, s, true, n); }
EXPORT int cuMemcpyDtoD_v2(uint64_t d, uint64_t s, size_t n) { return copy("cuMemcpyDtoD", nullptr, false, d, true, s, true, n); }
EXPORT int cuMemcpyHtoDAsync_v2(uint64_t d, const void* s, size_t n, void* st) { return copy("cuMemcpyHtoDAsync", st, true, d, true, (uintptr_t)s, false, n); }
EXPORT int cuMemcpyDtoHAsync_v2(void* d, uint64_t s, size_t n, void* st) { return copy("cuMemcpyDtoHAsync", st, true, (uintptr_t)d, false, s, true, n); }
EXPORT int cuMemcpyDtoDAsync_v2(uint64_t d, uint64_t s, size_t n, void* st) { return copy("cuMemcpyDtoDAsync", st, true, d, true, s, true, n); }

static int memset_n(const char* api, void* stream, bool async, uint64_t dst, unsigned value, size_t count, int width) {
    GUARD; STICKY;
    if (!async && refused_in_capture(api)) return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
    if (int rc = check_device_range(api, dst, count * width)) return rc;
    if (width == 4 && dst % 4) return CUDA_ERROR_INVALID_VALUE;
    emu::enqueue(stream, [=] {
        if (width == 1) std::memset((void*)dst, (int)(value & 0xFF), count);
        else for (size_t i = 0; i < count; i++) ((uint32_t*)dst)[i] = value;
    });
    return CUDA_SUCCESS;
}

EXPORT int cuMemsetD8_v2(uint64_t d, unsigned char v, size_t n) { return memset_n("cuMemsetD8", nullptr, false, d, v, n, 1); }
EXPORT int cuMemsetD32_v2(uint64_t d, unsigned v, size_t n) { return memset_n("cuMemsetD32", nullptr, false, d, v, n, 4); }
EXPORT int cuMemsetD8Async(uint64_t d, unsigned char v, size_t n, void* s) { return memset_n("cuMemsetD8Async", s, true, d, v, n, 1); }
EXPORT int cuMemsetD32Async(uint64_t d, unsigned v, size_t n, void* s) { return memset_n("cuMemsetD32Async", s, true, d, v, n, 4); }

EXPORT int cuStreamCreate(void** s, unsigned) { *s = new Stream(); return CUDA_SUCCESS; }
EXPORT int cuStreamDestroy_v2(void* s) {
    GUARD;
    auto* st = static_cast<Stream*>(s);
    if (st->capturing) { capturing.erase(st); delete st->graph; }
    delete st;
    return CUDA_SUCCESS;
}
EXPORT int cuStreamSynchronize(void* s) {
    GUARD;
    if (s && static_cast<Stream*>(s)->capturing) { static_cast<Stream*>(s)->invalidated = true; return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED; }
    if (refused_in_capture("cuStreamSynchronize")) return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
    return sticky;
}

EXPORT int cuEventCreate(void** e, unsigned) { *e = new Event(); return CUDA_SUCCESS; }
EXPORT int cuEventDestroy_v2(void* e) { delete static_cast<Event*>(e); return CUDA_SUCCESS; }
EXPORT int cuEventRecord(void* e, void* s) {
    GUARD; STICKY;
    auto* ev = static_cast<Event*>(e);
    emu::enqueue(s, [ev] { ev->recorded = true; ev->ms = now_ms(); });
    return CUDA_SUCCESS;
}
EXPORT int cuEventSynchronize(void*) { GUARD; if (refused_in_capture("cuEventSynchronize")) return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED; return sticky; }
EXPORT int cuEventElapsedTime(float* ms, void* a, void* b) {
    auto *ea = static_cast<Event*>(a), *eb = static_cast<Event*>(b);
    if (!ea->recorded || !eb->recorded) return CUDA_ERROR_INVALID_HANDLE;
    *ms = (float)(eb->ms - ea->ms);
    return CUDA_SUCCESS;
}

EXPORT int cuModuleLoadData(void** module, const void* image) {
    GUARD; NEED_INIT; STICKY;
    static const char magic[] = "// fastif-cuda-emulator module\n";
    const char* text = static_cast<const char*>(image);
    if (std::strncmp(text, magic, sizeof magic - 1) != 0) {
        emu::unsupported("cuModuleLoadData", "an image the emulator did not build (real PTX or CUBIN cannot run here)");
        return CUDA_ERROR_INVALID_IMAGE;
    }
    std::string path(text + sizeof magic - 1);
    while (!path.empty() && (path.back() == '\n' || path.back() == '\0')) path.pop_back();
    void* dl = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!dl) { emu::unsupported("cuModuleLoadData", std::string("dlopen: ") + dlerror()); return CUDA_ERROR_INVALID_IMAGE; }
    auto find = (FindFn)dlsym(dl, "fastif_emu_find");
    auto launch = (LaunchFn)dlsym(dl, "fastif_emu_launch");
    if (!find || !launch) { dlclose(dl); return CUDA_ERROR_INVALID_IMAGE; }
    *module = new Module{dl, find, launch};
    return CUDA_SUCCESS;
}
EXPORT int cuModuleLoadDataEx(void** module, const void* image, unsigned, int*, void**) { return cuModuleLoadData(module, image); }
EXPORT int cuModuleUnload(void* module) {
    // Functions of this module may still sit in recorded graphs and hold its Module: both stay (a few bytes and one
    // mapped object per kernel source for the life of the process).
    return module ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}
EXPORT int cuModuleGetFunction(void** fn, void* module, const char* name) {
    auto* m = static_cast<Module*>(module);
    const Kernel* k = m->find(name);
    if (!k) return CUDA_ERROR_NOT_FOUND;
    *fn = new Function{m, k};
    return CUDA_SUCCESS;
}
EXPORT int cuFuncGetAttribute(int* v, int attribute, void*) {
    switch (attribute) {
        case 0: *v = 1024; return CUDA_SUCCESS;  // MAX_THREADS_PER_BLOCK
        case 1: *v = 0; return CUDA_SUCCESS;     // SHARED_SIZE_BYTES (unknown here)
        case 4: *v = 32; return CUDA_SUCCESS;    // NUM_REGS (no registers on a CPU: a placeholder, never a measurement)
        default: emu::unsupported("cuFuncGetAttribute", "attribute " + std::to_string(attribute)); return CUDA_ERROR_INVALID_VALUE;
    }
}

EXPORT int cuLaunchKernel(void* fn, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz, unsigned shared,
                          void* stream, void** params, void** extra) {
    GUARD; STICKY;
    auto* f = static_cast<Function*>(fn);
    if (!f) return CUDA_ERROR_INVALID_HANDLE;
    const Kernel* k = f->kernel;
    std::string why;
    if (gx == 0 || gy == 0 || gz == 0 || bx == 0 || by == 0 || bz == 0) why = "a zero grid or block dimension";
    else if ((unsigned long long)bx * by * bz > 1024 || bz > 64) why = "more than 1024 threads per block";
    else if (gy > 65535 || gz > 65535 || gx > 2147483647u) why = "grid dimensions above the device's limits";
    else if (shared > MaxDynamicShared) why = std::to_string(shared) + " bytes of dynamic shared memory (over 48 KiB needs cuFuncSetAttribute)";
    else if (extra) why = "the 'extra' launch parameter form";
    else if (k->nargs > 0 && !params) why = "no kernel parameters for a kernel that takes some";
    if (!why.empty()) {
        emu::unsupported("cuLaunchKernel", std::string(k->name) + ": " + why);
        return CUDA_ERROR_INVALID_VALUE;
    }
    // Parameters are copied at launch, as the driver does: the caller's buffers may be gone when a graph replays it.
    std::vector<uint64_t> storage;
    std::vector<size_t> offsets;
    for (int i = 0; i < k->nargs; i++) {
        offsets.push_back(storage.size());
        size_t words = (k->sizes[i] + 7) / 8;
        storage.resize(storage.size() + words);
        std::memcpy(storage.data() + offsets.back(), params[i], k->sizes[i]);
    }
    Module* m = f->module;
    emu::enqueue(stream, [=]() mutable {
        if (sticky) return;
        std::vector<void*> ptrs;
        for (size_t o : offsets) ptrs.push_back(storage.data() + o);
        unsigned grid[3] = {gx, gy, gz}, block[3] = {bx, by, bz};
        const char* error = nullptr;
        runningKernel = k->name;
        double t0 = profile.on ? now_ms() : 0;
        int rc = m->launch(k, grid, block, shared, ptrs.data(), &error);
        if (profile.on) { auto& e = profile.spent[k->name]; e.first += now_ms() - t0; e.second++; }
        runningKernel = nullptr;
        if (rc) {
            sticky = CUDA_ERROR_LAUNCH_FAILED;
            stickyDetail = error ? error : "kernel failed";
            std::fprintf(stderr, "fastif cuda emulator: %s\n", stickyDetail.c_str());
        }
    });
    return sticky;
}

EXPORT int cuStreamBeginCapture_v2(void* s, int mode) {
    GUARD; STICKY;
    auto* st = static_cast<Stream*>(s);
    if (!st) { emu::unsupported("cuStreamBeginCapture", "capture of the legacy default stream"); return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED; }
    if (st->capturing) return CUDA_ERROR_ILLEGAL_STATE;
    st->capturing = true;
    st->mode = mode;
    st->owner = std::this_thread::get_id();
    st->invalidated = false;
    st->graph = new Graph();
    capturing.insert(st);
    return CUDA_SUCCESS;
}
EXPORT int cuStreamEndCapture(void* s, void** graph) {
    GUARD;
    auto* st = static_cast<Stream*>(s);
    if (!st || !st->capturing) return CUDA_ERROR_ILLEGAL_STATE;
    st->capturing = false;
    capturing.erase(st);
    if (st->invalidated) { delete st->graph; st->graph = nullptr; *graph = nullptr; return CUDA_ERROR_STREAM_CAPTURE_INVALIDATED; }
    *graph = st->graph;
    st->graph = nullptr;
    return CUDA_SUCCESS;
}
EXPORT int cuGraphInstantiateWithFlags(void** exec, void* graph, unsigned long long) {
    if (!graph) return CUDA_ERROR_INVALID_VALUE;
    *exec = new Graph(*static_cast<Graph*>(graph));
    return CUDA_SUCCESS;
}
EXPORT int cuGraphLaunch(void* exec, void* stream) {
    GUARD; STICKY;
    auto* g = static_cast<Graph*>(exec);
    std::vector<std::function<void()>> ops = g->ops;
    emu::enqueue(stream, [ops] { for (auto& op : ops) op(); });
    return sticky;
}
EXPORT int cuGraphExecUpdate_v2(void* exec, void* graph, void* resultInfo) {
    // Topology checks of the real update are not modelled: the new graph's work simply replaces the old.
    if (resultInfo) std::memset(resultInfo, 0, 24);
    static_cast<Graph*>(exec)->ops = static_cast<Graph*>(graph)->ops;
    return CUDA_SUCCESS;
}
EXPORT int cuGraphDestroy(void* g) { delete static_cast<Graph*>(g); return CUDA_SUCCESS; }
EXPORT int cuGraphExecDestroy(void* g) { delete static_cast<Graph*>(g); return CUDA_SUCCESS; }

EXPORT int cuGetErrorName(int error, const char** name) {
#define FASTIF_EMU_NAME(n, value) case value: *name = #n; return CUDA_SUCCESS;
    switch (error) { FASTIF_EMU_RESULTS(FASTIF_EMU_NAME) }
    *name = "CUDA_ERROR_UNKNOWN";
    return CUDA_SUCCESS;
}

EXPORT int cuGetErrorString(int error, const char** text) {
    static std::string launchFailed;
    if (error == CUDA_ERROR_LAUNCH_FAILED) {
        launchFailed = "unspecified launch failure (emulator: " + stickyDetail + ")";
        *text = launchFailed.c_str();
        return CUDA_SUCCESS;
    }
    const char* name;
    cuGetErrorName(error, &name);
    *text = error == CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED ? "operation not permitted when stream is capturing (emulator: see stderr)" : name;
    return CUDA_SUCCESS;
}
