// Device side of FastIF's CUDA emulator: what a kernels/*.cu file needs to compile as host C++ (g++), and the block
// scheduler that runs it. The emulator's NVRTC stand-in (emu_nvrtc.cpp) force-includes this header, compiles the source
// into a shared object and the emulated driver (emu_driver.cpp) launches through fastif_emu_launch below.
//
// Execution model: blocks run one after another; the threads of a block are fibers on one OS thread, each
// running until it finishes or waits at __syncthreads or a warp shuffle. So the barrier semantics are exact (a barrier
// some threads never reach is reported as a deadlock, not hung on), shared memory is shared, and a shuffle sees the
// values its lanes held at the shuffle. Odd-numbered blocks run their threads in reverse order, so a read of shared
// memory that lacks a barrier gives a wrong answer in one order or the other instead of passing by luck.
#pragma once
#define FASTIF_EMULATION 1
#include "emu_common.h"
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sys/mman.h>
#include <type_traits>
#include <utility>

#ifndef FASTIF_EMU_LIST_KERNELS  // the emulator's NVRTC lists kernels by this keyword in a first pass
#define __global__
#endif
#define __device__
#define __host__
#define __forceinline__ inline
#define __noinline__
#define __constant__
#define __shared__ static
#define __launch_bounds__(...)
#define __align__(n) alignas(n)

struct uint3 { unsigned int x, y, z; };
typedef uint3 dim3;

inline uint3 threadIdx, blockIdx, blockDim, gridDim;

using std::max;
using std::min;

// Fibers switch by a hand-written stack switch (x86-64 SysV: the callee-saved registers, no signal mask): a launch
// starts a fiber per thread per block, and swapcontext's system call per switch made that the whole cost.
#if !defined(__x86_64__)
#error "FastIF's CUDA emulator switches fibers with x86-64 code: port fastif_emu_switch to this architecture"
#endif
extern "C" void fastif_emu_switch(void** save, void* next);
asm(R"(
    .text
    .globl fastif_emu_switch
    .hidden fastif_emu_switch
    .type fastif_emu_switch, @function
fastif_emu_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size fastif_emu_switch, .-fastif_emu_switch
)");

namespace fastif_emu {

constexpr int MaxThreads = 1024;
constexpr size_t StackBytes = 256 << 10;

enum class FiberState { Ready, Running, WaitBlock, WaitWarp, Done };

struct Fiber {
    void* sp;
    uint3 tid;
    int linear;
    FiberState state;
    unsigned long long waitGen;
    unsigned collectives;  // warp collectives (shuffles, mma) this thread has entered
};

// One block's fibers and barriers. Exited threads no longer count towards a barrier (as on sm_70 and later).
struct Block {
    Fiber fibers[MaxThreads];
    int n = 0, current = 0, pos = 0;  // the running fiber, and its position in the block's scheduling order
    bool reverse = false;
    void* schedSp;
    int alive = 0, arrived = 0;
    unsigned long long gen = 0;
    int warpAlive[MaxThreads / 32], warpArrived[MaxThreads / 32];
    unsigned long long warpGen[MaxThreads / 32];
    unsigned long long slots[2][MaxThreads];
    unsigned frags[2][MaxThreads][6];  // mma.sync operands, double-buffered like the shuffle slots
    char error[768];
};

inline Block B;
inline char* stacks;
inline unsigned char* dynamicShared;
inline void* kernelFn;
inline void (*kernelCall)(void*, void**);
inline void** kernelArgs;
inline const char* kernelName;

inline Fiber& me() { return B.fibers[B.current]; }

[[noreturn]] inline void fail_here(const char* what) {
    Fiber& f = me();
    std::snprintf(B.error, sizeof B.error, "%s in kernel %s, block (%u,%u,%u), thread (%u,%u,%u)", what, kernelName,
                  blockIdx.x, blockIdx.y, blockIdx.z, f.tid.x, f.tid.y, f.tid.z);
    f.state = FiberState::Done;
    fastif_emu_switch(&f.sp, B.schedSp);  // never resumed: the scheduler sees the error and stops the launch
    std::abort();
}

inline bool runnable(const Fiber& f) {
    switch (f.state) {
        case FiberState::Ready: return true;
        case FiberState::WaitBlock: return B.gen != f.waitGen;
        case FiberState::WaitWarp: return B.warpGen[f.linear / 32] != f.waitGen;
        default: return false;
    }
}

// Hands the CPU from fiber f to the next fiber (in the block's order, wrapping) that can run, or back to the scheduler
// when none can: the block is finished, or deadlocked. Going fiber to fiber, not through the scheduler, halves the
// switches of a barrier-heavy kernel.
inline void pass_on(Fiber& f) {
    int n = B.n;
    for (int k = 1; k < n; k++) {
        int q = B.pos + k;
        if (q >= n) q -= n;
        int i = B.reverse ? n - 1 - q : q;
        Fiber& g = B.fibers[i];
        if (!runnable(g)) continue;
        g.state = FiberState::Running;
        threadIdx = g.tid;
        B.current = i;
        B.pos = q;
        fastif_emu_switch(&f.sp, g.sp);
        return;
    }
    fastif_emu_switch(&f.sp, B.schedSp);
}

inline void release_if_complete(int warp) {
    if (B.arrived > 0 && B.arrived == B.alive) { B.arrived = 0; B.gen++; }
    if (B.warpArrived[warp] > 0 && B.warpArrived[warp] == B.warpAlive[warp]) { B.warpArrived[warp] = 0; B.warpGen[warp]++; }
}

inline void sync_block() {
    Fiber& f = me();
    f.waitGen = B.gen;
    B.arrived++;
    if (B.arrived == B.alive) { B.arrived = 0; B.gen++; return; }
    f.state = FiberState::WaitBlock;
    pass_on(f);
}

inline void sync_warp() {
    Fiber& f = me();
    int w = f.linear / 32;
    f.waitGen = B.warpGen[w];
    B.warpArrived[w]++;
    if (B.warpArrived[w] == B.warpAlive[w]) { B.warpArrived[w] = 0; B.warpGen[w]++; return; }
    f.state = FiberState::WaitWarp;
    pass_on(f);
}

// Warp collectives (shuffles, mma.sync) take one warp barrier each: a thread enters one by taking its round's buffer
// (rounds alternate between two), writes its part, waits at the barrier and reads the others'. A thread can only come
// back to a buffer after the barrier of the round in between, which every lane reaches only once it has read that buffer.
inline int enter_collective(Fiber& f) { return f.collectives++ & 1; }

// A lane read in a collective must have entered it (it may have finished and exited since, legitimately).
inline void require_entered(int src, const Fiber& f, const char* what) {
    if (src >= B.n || B.fibers[src].collectives < f.collectives) fail_here(what);
}

template <class T>
inline T shuffle_from(T v, int srcLane) {
    static_assert(sizeof(T) <= 8, "shuffle of a type wider than 8 bytes");
    Fiber& f = me();
    int base = f.linear & ~31;
    unsigned long long bits = 0;
    std::memcpy(&bits, &v, sizeof(T));
    unsigned long long* slots = B.slots[enter_collective(f)];
    slots[f.linear] = bits;
    sync_warp();
    int src = base + srcLane;
    require_entered(src, f, "warp shuffle reads a lane that exited before it or does not exist");
    T r;
    bits = slots[src];
    std::memcpy(&r, &bits, sizeof(T));
    return r;
}

// PTX mma.sync.m16n8k16 (row.col, fp32 accumulate, fp16 or bf16 inputs) as a warp collective, with the fragment
// layouts of the PTX ISA (g = lane / 4, t = lane % 4): A registers {(g, 2t..2t+1), (g+8, 2t..), (g, 2t+8..), (g+8,
// 2t+8..)}, B registers {(2t..2t+1, g), (2t+8.., g)}, C {(g, 2t), (g, 2t+1), (g+8, 2t), (g+8, 2t+1)}; the lower half of
// a register holds the lower column (A) or row (B). Sums run in k order in fp32 (the hardware's order is unspecified).
inline void mma_m16n8k16(float* c, const unsigned* a, unsigned b0, unsigned b1, bool bf16) {
    Fiber& f = me();
    int base = f.linear & ~31, lane = f.linear & 31;
    unsigned (*frag)[6] = B.frags[enter_collective(f)];
    for (int r = 0; r < 4; r++) frag[f.linear][r] = a[r];
    frag[f.linear][4] = b0;
    frag[f.linear][5] = b1;
    sync_warp();
    for (int src = base; src < base + 32; src++) require_entered(src, f, "mma.sync with a lane that exited before it or does not exist");
    auto value = [&](unsigned reg, int half) {
        uint16_t h = (uint16_t)(reg >> (16 * half));
        return bf16 ? emu::bf16_to_float(h) : emu::half_to_float(h);
    };
    auto A = [&](int r, int k) {  // element (r, k) of the 16x16 A tile
        int reg = (r >= 8 ? 1 : 0) + (k >= 8 ? 2 : 0);
        return value(frag[base + (r & 7) * 4 + (k & 7) / 2][reg], k & 1);
    };
    auto Bk = [&](int k, int n) {  // element (k, n) of the 16x8 B tile
        return value(frag[base + n * 4 + (k & 7) / 2][k >= 8 ? 5 : 4], k & 1);
    };
    int g = lane >> 2, t = lane & 3;
    const int rows[4] = {g, g, g + 8, g + 8}, cols[4] = {2 * t, 2 * t + 1, 2 * t, 2 * t + 1};
    float out[4];
    for (int i = 0; i < 4; i++) {
        float acc = c[i];
        for (int k = 0; k < 16; k++) acc += A(rows[i], k) * Bk(k, cols[i]);
        out[i] = acc;
    }
    for (int i = 0; i < 4; i++) c[i] = out[i];
}

inline void fiber_main() {
    kernelCall(kernelFn, kernelArgs);
    Fiber& f = me();
    f.state = FiberState::Done;
    B.alive--;
    B.warpAlive[f.linear / 32]--;
    release_if_complete(f.linear / 32);
    pass_on(f);  // a finished fiber is never resumed
    std::abort();
}

// A fresh fiber's stack, as fastif_emu_switch leaves one: six saved registers, then fiber_main as the return address
// (with a null return address above it, so fiber_main starts with the stack aligned as after a call).
// Stack tops are staggered by a few cache lines: tops that all sat at multiples of StackBytes would share cache sets,
// and every switch would miss.
inline void* fresh_stack(int i) {
    void** sp = (void**)(stacks + (size_t)(i + 1) * StackBytes - (size_t)(i % 61) * 192);
    *--sp = nullptr;
    *--sp = (void*)&fiber_main;
    for (int r = 0; r < 6; r++) *--sp = nullptr;
    return sp;
}

// Runs one block; false (with B.error set) on a trap, a fault the kernel reported, or a barrier deadlock.
inline bool run_block(bool reverse) {
    B.alive = B.n;
    B.arrived = 0;
    for (int w = 0; w < (B.n + 31) / 32; w++) {
        B.warpAlive[w] = std::min(32, B.n - 32 * w);
        B.warpArrived[w] = 0;
    }
    for (int i = 0; i < B.n; i++) {
        Fiber& f = B.fibers[i];
        f.sp = fresh_stack(i);
        f.collectives = 0;
        f.state = FiberState::Ready;
    }
    B.reverse = reverse;
    B.pos = 0;
    B.current = reverse ? B.n - 1 : 0;
    B.fibers[B.current].state = FiberState::Running;
    threadIdx = B.fibers[B.current].tid;
    fastif_emu_switch(&B.schedSp, B.fibers[B.current].sp);  // back when no fiber can run any more
    if (B.error[0]) return false;
    if (B.alive == 0) return true;
    int atBlock = 0, atWarp = 0;
    for (int i = 0; i < B.n; i++) {
        atBlock += B.fibers[i].state == FiberState::WaitBlock;
        atWarp += B.fibers[i].state == FiberState::WaitWarp;
    }
    std::snprintf(B.error, sizeof B.error,
                  "barrier deadlock in kernel %s, block (%u,%u,%u): %d threads wait at __syncthreads, %d at a warp shuffle, "
                  "%d have exited",
                  kernelName, blockIdx.x, blockIdx.y, blockIdx.z, atBlock, atWarp, B.n - B.alive);
    return false;
}

struct Kernel {
    const char* name;
    void* fn;
    void (*call)(void*, void**);
    int nargs;
    size_t sizes[32];
};

template <class... A, size_t... I>
void call_with(void* fn, void** args, std::index_sequence<I...>) {
    reinterpret_cast<void (*)(A...)>(fn)(*static_cast<std::remove_cv_t<A>*>(args[I])...);
}

template <class... A>
Kernel make_kernel(const char* name, void (*fn)(A...)) {
    static_assert(sizeof...(A) <= 32, "more than 32 kernel parameters");
    Kernel k{name, reinterpret_cast<void*>(fn), [](void* f, void** a) { call_with<A...>(f, a, std::index_sequence_for<A...>{}); },
             (int)sizeof...(A), {}};
    size_t sizes[] = {sizeof(A)..., 0};
    for (size_t i = 0; i < sizeof...(A); i++) k.sizes[i] = sizes[i];
    return k;
}

}  // namespace fastif_emu

// ---- CUDA intrinsics FastIF's kernels use, with their device semantics -------------------------------------------------
inline void __syncthreads() { fastif_emu::sync_block(); }
[[noreturn]] inline void __trap() { fastif_emu::fail_here("__trap()"); }
template <class T> inline T __shfl_xor_sync(unsigned, T v, int laneMask, int width = 32) {
    int lane = fastif_emu::me().linear & 31;
    int src = lane ^ laneMask;
    if ((src / width) != (lane / width)) src = lane;  // outside the lane's segment: its own value
    return fastif_emu::shuffle_from(v, src);
}
template <class T> inline T __shfl_sync(unsigned, T v, int srcLane, int width = 32) {
    int lane = fastif_emu::me().linear & 31;
    return fastif_emu::shuffle_from(v, (lane / width) * width + (srcLane % width));
}
template <class T, class U> inline T atomicAdd(T* p, U v) { T old = *p; *p = old + (T)v; return old; }
template <class T, class U> inline T atomicMin(T* p, U v) { T old = *p; *p = std::min(old, (T)v); return old; }
template <class T, class U> inline T atomicMax(T* p, U v) { T old = *p; *p = std::max(old, (T)v); return old; }
inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fsub_rn(float a, float b) { return a - b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fdiv_rn(float a, float b) { return a / b; }
inline float __fma_rn(float a, float b, float c) { return std::fma(a, b, c); }
inline double __fma_rn(double a, double b, double c) { return std::fma(a, b, c); }
inline double __dadd_rn(double a, double b) { return a + b; }
inline double __dsub_rn(double a, double b) { return a - b; }
inline double __dmul_rn(double a, double b) { return a * b; }
inline double __ddiv_rn(double a, double b) { return a / b; }
inline double __dsqrt_rn(double a) { return std::sqrt(a); }
inline float __double2float_rn(double a) { return (float)a; }
inline unsigned int __umulhi(unsigned int a, unsigned int b) { return (unsigned int)(((unsigned long long)a * b) >> 32); }
inline int __clzll(long long x) { return x == 0 ? 64 : __builtin_clzll((unsigned long long)x); }

// ---- entry points the emulated driver calls (each compiled module has its own copy) ---------------------------------
extern "C" const fastif_emu::Kernel* fastif_emu_kernels(int* count);

extern "C" __attribute__((visibility("default"))) const fastif_emu::Kernel* fastif_emu_find(const char* name) {
    int n;
    const fastif_emu::Kernel* ks = fastif_emu_kernels(&n);
    for (int i = 0; i < n; i++)
        if (std::strcmp(ks[i].name, name) == 0) return &ks[i];
    return nullptr;
}

// Runs the whole grid; returns 0, or 1 with the reason in *error (a static buffer of this module).
extern "C" __attribute__((visibility("default"))) int fastif_emu_launch(const fastif_emu::Kernel* k, const unsigned grid[3],
                                                                        const unsigned block[3], unsigned sharedBytes, void** args,
                                                                        const char** error) {
    using namespace fastif_emu;
    int n = (int)(block[0] * block[1] * block[2]);
    if (!stacks) {
        stacks = (char*)mmap(nullptr, (size_t)MaxThreads * StackBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        dynamicShared = (unsigned char*)std::aligned_alloc(256, 232448);
    }
    kernelFn = k->fn;
    kernelCall = k->call;
    kernelArgs = args;
    kernelName = k->name;
    B.error[0] = 0;
    B.n = n;
    for (int z = 0, i = 0; z < (int)block[2]; z++)
        for (int y = 0; y < (int)block[1]; y++)
            for (int x = 0; x < (int)block[0]; x++, i++) {
                B.fibers[i].tid = {(unsigned)x, (unsigned)y, (unsigned)z};
                B.fibers[i].linear = i;
            }
    blockDim = {block[0], block[1], block[2]};
    gridDim = {grid[0], grid[1], grid[2]};
    unsigned long long serial = 0;
    for (unsigned bz = 0; bz < grid[2]; bz++)
        for (unsigned by = 0; by < grid[1]; by++)
            for (unsigned bx = 0; bx < grid[0]; bx++, serial++) {
                blockIdx = {bx, by, bz};
                std::memset(dynamicShared, 0xFF, sharedBytes);  // uninitialised shared memory reads as NaN
                if (!run_block(serial & 1)) { *error = B.error; return 1; }
            }
    return 0;
}

// Dynamic shared memory: the emulator rewrites "extern __shared__ T name[];" into a pointer to this.
inline unsigned char* fastif_emu_dynamic_shared() { return fastif_emu::dynamicShared; }
