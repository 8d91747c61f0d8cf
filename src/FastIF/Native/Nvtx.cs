using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;

namespace FastIF.Native;

/// <summary>
/// NVTX push/pop ranges, so Nsight Systems and Nsight Compute timelines carry the names <c>fastif profile</c> prints.
/// With no tool attached every call is one test of a static read-only field the JIT folds away. A tool is found the way
/// NVTX3's header-only loader finds it: <c>NVTX_INJECTION64_PATH</c> (set by nsys and ncu for the programs they launch)
/// names a library whose <c>InitializeInjectionNvtx2</c> receives our export table and fills in the function slots it
/// implements (<see cref="NvtxInjection"/>). When that fails, <c>libnvToolsExt.so.1</c> (CUDA ≤ 12), which performs the same
/// handshake itself, is used where present. <c>FASTIF_NVTX=off</c> disables both. <see cref="Status"/> says which, or why none.
/// </summary>
public static class Nvtx
{
    private static readonly NvtxSession? Session;

    /// <summary>What the NVTX binding attached to, or why it attached to nothing.</summary>
    public static string Status { get; }

    static Nvtx()
    {
        Session = NvtxSession.FromEnvironment(out var status);
        Status = status;
    }

    /// <summary>True when a tool receives the ranges.</summary>
    public static bool Enabled => Session != null;

    /// <summary>Opens a range named <paramref name="name"/> on this thread (no-op without a tool).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Push(string name)
    {
        if (Session is { } s) s.Push(name);
    }

    /// <summary>Closes this thread's innermost range (no-op without a tool).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Pop()
    {
        if (Session is { } s) s.Pop();
    }

    /// <summary>A range closed when the returned value is disposed: <c>using var _ = Nvtx.Range("stage I");</c>.</summary>
    public static NvtxRange Range(string name)
    {
        Push(name);
        return new NvtxRange(Session != null);
    }
}

/// <summary>An open NVTX range; disposing it pops the range (when one was pushed).</summary>
public readonly struct NvtxRange(bool pushed) : IDisposable
{
    /// <summary>Pops the range.</summary>
    public void Dispose()
    {
        if (pushed) Nvtx.Pop();
    }
}

/// <summary>Push and pop through a tool's function pointers; names are kept as NUL-terminated UTF-8 for the process's life.</summary>
internal sealed unsafe class NvtxSession
{
    private readonly delegate* unmanaged<byte*, int> _push;
    private readonly delegate* unmanaged<int> _pop;
    private readonly ConcurrentDictionary<string, nint> _names = new();

    /// <summary>Where the pointers came from (for <see cref="Nvtx.Status"/>).</summary>
    public string Source { get; }

    internal NvtxSession(nint push, nint pop, string source)
    {
        _push = (delegate* unmanaged<byte*, int>)push;
        _pop = (delegate* unmanaged<int>)pop;
        Source = source;
    }

    public void Push(string name) => _push((byte*)_names.GetOrAdd(name, Utf8z));

    public void Pop() => _pop();

    private static nint Utf8z(string s)
    {
        var bytes = Encoding.UTF8.GetBytes(s);
        var p = (byte*)NativeMemory.Alloc((nuint)bytes.Length + 1);
        bytes.CopyTo(new Span<byte>(p, bytes.Length));
        p[bytes.Length] = 0;
        return (nint)p;
    }

    /// <summary>The session the environment asks for, or null with the reason.</summary>
    public static NvtxSession? FromEnvironment(out string status)
    {
        var mode = Environment.GetEnvironmentVariable("FASTIF_NVTX");
        if (mode is "off" or "0")
        {
            status = "NVTX off (FASTIF_NVTX=off)";
            return null;
        }
        var path = Environment.GetEnvironmentVariable("NVTX_INJECTION64_PATH");
        if (string.IsNullOrEmpty(path))
        {
            status = "no NVTX tool attached (NVTX_INJECTION64_PATH is not set; nsys and ncu set it for the programs they launch)";
            return null;
        }
        var own = NvtxInjection.Load(path, out var ownReason);
        if (own != null)
        {
            status = own.Source;
            return own;
        }
        var lib = FromLibNvToolsExt(out var libReason);
        status = lib?.Source ?? $"NVTX tool {path} not attached: {ownReason}; {libReason}";
        return lib;
    }

    /// <summary>NVIDIA's shared NVTX v2 library, which loads the tool itself; absent from CUDA 13.</summary>
    public static NvtxSession? FromLibNvToolsExt(out string reason)
    {
        if (!NativeLibrary.TryLoad("libnvToolsExt.so.1", out var h))
        {
            reason = "libnvToolsExt.so.1 not found by the system loader (CUDA 13 ships no such library)";
            return null;
        }
        if (!NativeLibrary.TryGetExport(h, "nvtxRangePushA", out var push) || !NativeLibrary.TryGetExport(h, "nvtxRangePop", out var pop))
        {
            reason = "libnvToolsExt.so.1 lacks nvtxRangePushA or nvtxRangePop";
            return null;
        }
        reason = "";
        return new NvtxSession(push, pop, "NVTX through libnvToolsExt.so.1");
    }
}

/// <summary>
/// NVTX3's injection handshake, as its header-only loader performs it, in C#: the tool library's
/// <c>InitializeInjectionNvtx2(getExportTable)</c> asks for export table 1 (callbacks: <c>GetModuleFunctionTable</c>) and 3
/// (version info), and for each module (core = 1, ... sync = 6) writes its implementations into the slots the table points
/// to. The tables live in unmanaged memory for the life of the process, since the tool may keep their addresses.
/// </summary>
internal static unsafe class NvtxInjection
{
    // NVTX_CBID_*_SIZE of modules 1..6 (core, cuda, opencl, cudart, core2, sync).
    private static readonly int[] ModuleSizes = [16, 9, 15, 7, 16, 7];
    internal const int CorePushA = 9, CorePop = 11;
    private const uint Version = 3;

    // Set for the duration of an initialization; the export-table callbacks read it.
    private static Tables* _current;

    internal struct Callbacks
    {
        public nuint StructSize;
        public delegate* unmanaged<int, nint**, uint*, int> GetModuleFunctionTable;
    }

    internal struct VersionInfo
    {
        public nuint StructSize;
        public uint Version;
        public uint Reserved0;
        public delegate* unmanaged<uint, void> SetInjectionNvtxVersion;
    }

    internal struct Tables
    {
        public Callbacks Callbacks;
        public VersionInfo VersionInfo;
        public nint** ModuleTables; // [module - 1] -> array of size+1 slot pointers ([0] and [size] null)
        public nint* Slots;          // [module - 1] base offsets laid out one module after another
    }

    /// <summary>Loads the injection library at <paramref name="path"/> and runs the handshake.</summary>
    public static NvtxSession? Load(string path, out string reason)
    {
        if (!NativeLibrary.TryLoad(path, out var h))
        {
            reason = $"could not load {path}";
            return null;
        }
        if (!NativeLibrary.TryGetExport(h, "InitializeInjectionNvtx2", out var init))
        {
            reason = $"{path} exports no InitializeInjectionNvtx2";
            return null;
        }
        return Initialize((delegate* unmanaged<nint, int>)init, $"NVTX3 injection {path}", out reason);
    }

    /// <summary>Hands fresh tables to <paramref name="init"/>; a session when it accepted and filled core push and pop.</summary>
    internal static NvtxSession? Initialize(delegate* unmanaged<nint, int> init, string source, out string reason)
    {
        var t = (Tables*)NativeMemory.AllocZeroed((nuint)sizeof(Tables));
        t->Callbacks = new Callbacks { StructSize = (nuint)sizeof(Callbacks), GetModuleFunctionTable = &GetModuleFunctionTable };
        t->VersionInfo = new VersionInfo { StructSize = (nuint)sizeof(VersionInfo), Version = Version, SetInjectionNvtxVersion = &SetInjectionNvtxVersion };
        t->ModuleTables = (nint**)NativeMemory.AllocZeroed((nuint)(ModuleSizes.Length * sizeof(nint*)));
        t->Slots = (nint*)NativeMemory.AllocZeroed((nuint)(ModuleSizes.Sum() * sizeof(nint)));
        nint* slot = t->Slots;
        for (int m = 0; m < ModuleSizes.Length; m++)
        {
            int size = ModuleSizes[m];
            var table = (nint*)NativeMemory.AllocZeroed((nuint)((size + 1) * sizeof(nint)));
            for (int i = 1; i < size; i++) table[i] = (nint)(slot + i); // [0] (invalid id) and [size] stay null
            t->ModuleTables[m] = table;
            slot += size;
        }
        int ok;
        lock (ModuleSizes)
        {
            _current = t;
            ok = init((nint)(delegate* unmanaged<uint, void*>)&GetExportTable);
        }
        if (ok == 0)
        {
            reason = "the tool's InitializeInjectionNvtx2 returned 0 (it declined)";
            return null;
        }
        nint push = *(nint*)t->ModuleTables[0][CorePushA], pop = *(nint*)t->ModuleTables[0][CorePop];
        if (push == 0 || pop == 0)
        {
            reason = "the tool attached but implements no nvtxRangePushA/nvtxRangePop";
            return null;
        }
        reason = "";
        return new NvtxSession(push, pop, source);
    }

    [UnmanagedCallersOnly]
    private static void* GetExportTable(uint id) => id switch
    {
        1 => &_current->Callbacks,
        3 => &_current->VersionInfo,
        _ => null,
    };

    [UnmanagedCallersOnly]
    private static int GetModuleFunctionTable(int module, nint** outTable, uint* outSize)
    {
        if (module < 1 || module > ModuleSizes.Length) return 0;
        if (outSize != null) *outSize = (uint)ModuleSizes[module - 1];
        if (outTable != null) *outTable = _current->ModuleTables[module - 1];
        return 1;
    }

    [UnmanagedCallersOnly]
    private static void SetInjectionNvtxVersion(uint version) { }
}
