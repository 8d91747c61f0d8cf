using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using FastIF.Native;

namespace FastIF.Tests.Benchmarking;

/// <summary>
/// The NVTX binding: without a tool it reports why and every call is a no-op; the NVTX3 injection handshake is checked from
/// the tool's side, once by a tool written here in C# against the header's contract and once by a real shared library
/// built with the C compiler when there is one.
/// </summary>
public unsafe class NvtxTests
{
    [Fact]
    public void WithoutAToolRangesAreNoOpsAndTheStatusSaysWhy()
    {
        if (!string.IsNullOrEmpty(Environment.GetEnvironmentVariable("NVTX_INJECTION64_PATH")))
            Assert.Skip("an NVTX tool is attached to this test run");
        Assert.False(Nvtx.Enabled);
        Assert.Contains("NVTX_INJECTION64_PATH", Nvtx.Status);
        for (int i = 0; i < 3; i++)
        {
            Nvtx.Push("conv2d 3x3");
            using (Nvtx.Range("nested")) { }
            Nvtx.Pop();
        }
    }

    [Fact]
    public void LibNvToolsExtLoadsOrSaysWhyNot()
    {
        var s = NvtxSession.FromLibNvToolsExt(out var reason);
        if (s == null) Assert.Contains("libnvToolsExt.so.1", reason);
        else Assert.Contains("libnvToolsExt", s.Source);
    }

    // ---- A tool in C#, following nvtxTypes.h: export table 1 = { size_t size; GetModuleFunctionTable }, 3 = version info.

    private static readonly List<string> Pushed = [];
    private static int _pops, _initMode, _coreSize;
    private static nint _versionTable, _reservedTable;

    [UnmanagedCallersOnly]
    private static int ToolPush(byte* message)
    {
        Pushed.Add(Marshal.PtrToStringUTF8((nint)message)!);
        return Pushed.Count - 1;
    }

    [UnmanagedCallersOnly]
    private static int ToolPop() => _pops++;

    [UnmanagedCallersOnly]
    private static int ToolInit(nint getExportTable)
    {
        var get = (delegate* unmanaged<uint, void*>)getExportTable;
        var callbacks = (nint*)get(1);
        _versionTable = (nint)get(3);
        _reservedTable = (nint)get(2);
        if (callbacks == null || (nuint)callbacks[0] != (nuint)(2 * sizeof(nint))) return 0;
        var getModule = (delegate* unmanaged<int, nint**, uint*, int>)callbacks[1];
        nint* table = null;
        uint size = 0;
        if (getModule(1, &table, &size) == 0) return 0;
        _coreSize = (int)size;
        if (getModule(99, &table, &size) != 0) return 0; // an unknown module must be refused
        getModule(1, &table, &size);
        if (_initMode == 0) return 0; // decline
        if (_initMode == 2)
        {
            *(nint*)table[9] = (nint)(delegate* unmanaged<byte*, int>)&ToolPush; // NVTX_CBID_CORE_RangePushA
            *(nint*)table[11] = (nint)(delegate* unmanaged<int>)&ToolPop;        // NVTX_CBID_CORE_RangePop
        }
        return 1;
    }

    [Fact]
    public void TheHandshakeGivesATheToolItsSlotsAndRangesReachIt()
    {
        lock (Pushed)
        {
            Pushed.Clear();
            _pops = 0;
            _initMode = 2;
            var s = NvtxInjection.Initialize(&ToolInit, "test tool", out var reason);
            Assert.True(s != null, reason);
            Assert.Equal(16, _coreSize); // NVTX_CBID_CORE_SIZE
            Assert.Equal(0, _reservedTable);
            Assert.NotEqual(0, _versionTable);
            Assert.Equal(3u, *(uint*)(_versionTable + sizeof(nint))); // NVTX_VERSION
            s!.Push("conv2d 3x3");
            s.Push("attention");
            s.Pop();
            s.Push("conv2d 3x3"); // the cached name is passed again, unchanged
            s.Pop();
            s.Pop();
            Assert.Equal(["conv2d 3x3", "attention", "conv2d 3x3"], Pushed);
            Assert.Equal(3, _pops);
        }
    }

    [Fact]
    public void AToolThatDeclinesOrFillsNothingGivesNoSession()
    {
        lock (Pushed)
        {
            _initMode = 0;
            Assert.Null(NvtxInjection.Initialize(&ToolInit, "test tool", out var declined));
            Assert.Contains("returned 0", declined);
            _initMode = 1;
            Assert.Null(NvtxInjection.Initialize(&ToolInit, "test tool", out var empty));
            Assert.Contains("nvtxRangePushA", empty);
        }
    }

    [Fact]
    public void LoadSaysWhyWhenTheLibraryIsMissing()
    {
        Assert.Null(NvtxInjection.Load("/nonexistent/libfake-nvtx.so", out var reason));
        Assert.Contains("could not load", reason);
    }

    // ---- A real injection library in C (our own few lines), built when a C compiler is present.

    private const string FakeTool = """
        #include <stdint.h>
        #include <string.h>
        typedef const void* (*get_t)(uint32_t);
        typedef int (*getmod_t)(int, void***, unsigned int*);
        static char log_buf[4096];
        static int pops;
        static int push_a(const char* m) { strncat(log_buf, m, sizeof(log_buf) - strlen(log_buf) - 2); strcat(log_buf, ";"); return 0; }
        static int pop(void) { return ++pops; }
        int InitializeInjectionNvtx2(get_t get) {
            const size_t* cb = (const size_t*)get(1);
            if (!cb || cb[0] != 2 * sizeof(void*)) return 0;
            getmod_t getmod = (getmod_t)((void* const*)cb)[1];
            void** table = 0; unsigned int size = 0;
            if (!getmod(1, &table, &size) || size != 16) return 0;
            *(void**)table[9] = (void*)push_a;
            *(void**)table[11] = (void*)pop;
            return 1;
        }
        const char* fake_log(void) { return log_buf; }
        int fake_pops(void) { return pops; }
        """;

    [Fact]
    public void ARealInjectionLibraryAttachesThroughDlopen()
    {
        var dir = Path.Combine(Path.GetTempPath(), $"fastif-nvtx-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        try
        {
            var src = Path.Combine(dir, "fake.c");
            var lib = Path.Combine(dir, "libfake-nvtx.so");
            File.WriteAllText(src, FakeTool);
            Process? cc;
            try { cc = Process.Start(new ProcessStartInfo("cc", $"-shared -fPIC -O1 -o {lib} {src}") { RedirectStandardError = true }); }
            catch (System.ComponentModel.Win32Exception) { cc = null; }
            if (cc == null) { Assert.Skip("no C compiler (cc) to build a fake NVTX tool"); return; }
            var err = cc.StandardError.ReadToEnd();
            cc.WaitForExit();
            if (cc.ExitCode != 0) { Assert.Skip($"cc failed: {err}"); return; }

            var s = NvtxInjection.Load(lib, out var reason);
            Assert.True(s != null, reason);
            s!.Push("groupnorm");
            s.Push("linear");
            s.Pop();
            s.Pop();
            var h = NativeLibrary.Load(lib);
            var log = ((delegate* unmanaged<nint>)NativeLibrary.GetExport(h, "fake_log"))();
            Assert.Equal("groupnorm;linear;", Marshal.PtrToStringUTF8(log));
            Assert.Equal(2, ((delegate* unmanaged<int>)NativeLibrary.GetExport(h, "fake_pops"))());
        }
        finally { Directory.Delete(dir, true); }
    }
}
