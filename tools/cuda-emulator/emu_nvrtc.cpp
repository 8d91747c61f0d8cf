// NVRTC stand-in of FastIF's CUDA emulator: "compiles" a kernel source by building it with the host C++ compiler
// (g++, or $CXX) into a shared object, with emu_device.h force-included, and hands back an image that names that
// object. emu_driver.cpp's cuModuleLoadData loads it. Objects are cached by a hash of everything that goes into them.
#include "emu_common.h"
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

// The device header and the shared contract, embedded so the library needs no source tree at run time.
asm(".section .rodata\n.global fastif_emu_device_h\nfastif_emu_device_h:\n.incbin \"" EMU_DIR "/emu_device.h\"\n.byte 0\n"
    ".global fastif_emu_common_h\nfastif_emu_common_h:\n.incbin \"" EMU_DIR "/emu_common.h\"\n.byte 0\n.previous\n");
extern "C" const char fastif_emu_device_h[];
extern "C" const char fastif_emu_common_h[];

namespace {

struct Program {
    std::string source, name, log, image;
    std::vector<std::pair<std::string, std::string>> headers;
};

std::string fnv_hex(const std::string& s) {
    unsigned long long h = 1469598103934665603ull;
    for (unsigned char c : s) { h ^= c; h *= 1099511628211ull; }
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", h);
    return buf;
}

bool write_file(const std::string& path, const std::string& text) {
    FILE* f = std::fopen(path.c_str(), "wb");
    if (!f) return false;
    bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
    return std::fclose(f) == 0 && ok;
}

std::string read_file(const std::string& path) {
    FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) return "";
    std::string s;
    char buf[65536];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) s.append(buf, n);
    std::fclose(f);
    return s;
}

// Runs a shell command, appending its output to log; true on exit status 0.
bool run(const std::string& cmd, std::string& log) {
    FILE* p = popen((cmd + " 2>&1").c_str(), "r");
    if (!p) { log += "cannot run: " + cmd + "\n"; return false; }
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) log.append(buf, n);
    return pclose(p) == 0;
}

std::string cache_root() {
    if (const char* d = std::getenv("FASTIF_EMULATOR_CACHE")) return d;
    const char* home = std::getenv("HOME");
    return std::string(home && *home ? home : "/tmp") + "/.cache/fastif/emulator";
}

void mkdirs(const std::string& path) {
    for (size_t i = 1; i <= path.size(); i++)
        if (i == path.size() || path[i] == '/') mkdir(path.substr(0, i).c_str(), 0755);
}

const char* compiler() {
    const char* cxx = std::getenv("CXX");
    return cxx && *cxx ? cxx : "g++";
}

// "extern __shared__ T name[];" has no host C++ equivalent: it becomes a pointer to the launch's dynamic shared memory.
std::string rewrite_dynamic_shared(const std::string& src) {
    static const std::regex re(R"(extern\s+__shared__\s+(?:__align__\(\d+\)\s+)?([A-Za-z_][\w\s]*?)\s+([A-Za-z_]\w*)\s*\[\s*\]\s*;)");
    return std::regex_replace(src, re, "$1* $2 = ($1*)fastif_emu_dynamic_shared();");
}

int compile(Program& p) {
    std::string flags = "-std=c++17 -O2 -g -fPIC -shared -w -ffp-contract=off -fno-strict-aliasing";
    std::string key = std::string(fastif_emu_device_h) + fastif_emu_common_h + p.source + p.name + flags + compiler();
    for (auto& [n, t] : p.headers) key += n + '\0' + t + '\0';
    std::string dir = cache_root() + "/" + fnv_hex(key);
    std::string so = dir + "/module.so";
    struct stat st;
    if (stat(so.c_str(), &st) == 0) { p.image = so; return 0; }

    // One work folder per compile: threads of one process may build the same source at once, as with real NVRTC.
    static std::atomic<unsigned> compiles{0};
    std::string work = dir + ".tmp" + std::to_string(getpid()) + "." + std::to_string(compiles++);
    mkdirs(work);
    bool ok = write_file(work + "/emu_device.h", fastif_emu_device_h) && write_file(work + "/emu_common.h", fastif_emu_common_h);
    for (auto& [n, t] : p.headers) ok = ok && write_file(work + "/" + n, t);
    std::string src = rewrite_dynamic_shared(p.source);
    ok = ok && write_file(work + "/kernel.cpp", src);
    if (!ok) { p.log = "fastif cuda emulator: cannot write to " + work + "\n"; return 6; }

    // The kernel names: every extern "C" __global__ function, found in the preprocessed source (they come from macros).
    std::string pre;
    std::string base = std::string(compiler()) + " -x c++ -std=c++17 -I" + work;
    if (!run(base + " -E -P -DFASTIF_EMU_LIST_KERNELS -include emu_device.h " + work + "/kernel.cpp -o " + work + "/kernel.i", pre)) {
        p.log = pre;
        return 6;
    }
    std::string text = read_file(work + "/kernel.i");
    std::set<std::string> names;
    static const std::regex kre(R"(extern\s+"C"\s+__global__\s+void\s+([A-Za-z_]\w*)\s*\()");
    for (std::sregex_iterator it(text.begin(), text.end(), kre), e; it != e; ++it) names.insert((*it)[1]);
    std::ostringstream reg;
    reg << "\nstatic const fastif_emu::Kernel fastif_emu_table[] = {\n";
    for (auto& n : names) reg << "    fastif_emu::make_kernel(\"" << n << "\", &" << n << "),\n";
    reg << "    {}};\nextern \"C\" const fastif_emu::Kernel* fastif_emu_kernels(int* count) { *count = " << names.size()
        << "; return fastif_emu_table; }\n";
    write_file(work + "/kernel.cpp", src + reg.str());

    std::string log;
    bool built = run(base + " " + flags + " -include emu_device.h " + work + "/kernel.cpp -o " + work + "/module.so", log);
    p.log = log;
    if (!built) return 6;
    // Publish atomically: a concurrent process compiling the same source must never load a half-written object.
    if (rename(work.c_str(), dir.c_str()) != 0) {
        std::string discard;
        run("rm -rf '" + work + "'", discard);
    }
    p.image = so;
    return 0;
}

std::string image_text(const Program& p) { return "// fastif-cuda-emulator module\n" + p.image + "\n"; }

}  // namespace

#define EXPORT extern "C" __attribute__((visibility("default")))

EXPORT const char* nvrtcGetErrorString(int result) {
    switch (result) {
        case 0: return "NVRTC_SUCCESS";
        case 1: return "NVRTC_ERROR_OUT_OF_MEMORY";
        case 3: return "NVRTC_ERROR_INVALID_INPUT";
        case 4: return "NVRTC_ERROR_INVALID_PROGRAM";
        case 5: return "NVRTC_ERROR_INVALID_OPTION";
        case 6: return "NVRTC_ERROR_COMPILATION";
        default: return "NVRTC_ERROR_INTERNAL_ERROR";
    }
}

EXPORT int nvrtcVersion(int* major, int* minor) { *major = 12; *minor = 9; return 0; }

EXPORT int nvrtcGetNumSupportedArchs(int* count) { *count = 2; return 0; }

EXPORT int nvrtcGetSupportedArchs(int* archs) { archs[0] = 80; archs[1] = 90; return 0; }

EXPORT int nvrtcCreateProgram(void** prog, const char* src, const char* name, int numHeaders, const char* const* headers,
                              const char* const* includeNames) {
    if (!prog || !src) return 3;
    auto* p = new Program{src, name ? name : "default_program", "", "", {}};
    for (int i = 0; i < numHeaders; i++) p->headers.emplace_back(includeNames[i], headers[i]);
    *prog = p;
    return 0;
}

EXPORT int nvrtcDestroyProgram(void** prog) {
    if (!prog || !*prog) return 4;
    delete static_cast<Program*>(*prog);
    *prog = nullptr;
    return 0;
}

EXPORT int nvrtcCompileProgram(void* prog, int numOptions, const char* const* options) {
    if (!prog) return 4;
    auto* p = static_cast<Program*>(prog);
    for (int i = 0; i < numOptions; i++) {
        std::string o = options[i];
        bool known = o.rfind("--gpu-architecture=", 0) == 0 || o.rfind("-arch=", 0) == 0 || o.rfind("--std=", 0) == 0 ||
                     o.rfind("-std=", 0) == 0 || o == "-lineinfo" || o == "--generate-line-info" || o.rfind("-D", 0) == 0;
        if (!known) {
            emu::unsupported("nvrtcCompileProgram", "option " + o);
            p->log = "fastif cuda emulator: unsupported NVRTC option " + o + "\n";
            return 5;
        }
    }
    return compile(*p);
}

EXPORT int nvrtcGetPTXSize(void* prog, size_t* size) {
    auto* p = static_cast<Program*>(prog);
    if (!p || p->image.empty()) return 4;
    *size = image_text(*p).size() + 1;
    return 0;
}

EXPORT int nvrtcGetPTX(void* prog, char* out) {
    auto* p = static_cast<Program*>(prog);
    if (!p || p->image.empty()) return 4;
    std::string t = image_text(*p);
    std::memcpy(out, t.c_str(), t.size() + 1);
    return 0;
}

EXPORT int nvrtcGetCUBINSize(void* prog, size_t* size) { return nvrtcGetPTXSize(prog, size); }

EXPORT int nvrtcGetCUBIN(void* prog, char* out) { return nvrtcGetPTX(prog, out); }

EXPORT int nvrtcGetProgramLogSize(void* prog, size_t* size) {
    auto* p = static_cast<Program*>(prog);
    if (!p) return 4;
    *size = p->log.size() + 1;
    return 0;
}

EXPORT int nvrtcGetProgramLog(void* prog, char* out) {
    auto* p = static_cast<Program*>(prog);
    if (!p) return 4;
    std::memcpy(out, p->log.c_str(), p->log.size() + 1);
    return 0;
}
