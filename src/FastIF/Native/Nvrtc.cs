using System.Runtime.InteropServices;
using System.Text;

namespace FastIF.Native;

/// <summary>What one NVRTC compilation produced.</summary>
/// <param name="Ptx">The PTX text as bytes (without the trailing NUL); empty when NVRTC produced none.</param>
/// <param name="Cubin">The CUBIN, when compiled for a real architecture (sm_XX); otherwise null.</param>
/// <param name="Log">The compiler log (warnings), possibly empty.</param>
public sealed record NvrtcOutput(byte[] Ptx, byte[]? Cubin, string Log);

/// <summary>Owns an <c>nvrtcProgram</c>; destroyed with <c>nvrtcDestroyProgram</c>.</summary>
public sealed class NvrtcProgramHandle : SafeHandle
{
    internal NvrtcProgramHandle(nint handle) : base(0, true) => SetHandle(handle);

    /// <inheritdoc/>
    public override bool IsInvalid => handle == 0;

    /// <inheritdoc/>
    protected override unsafe bool ReleaseHandle()
    {
        nint h = handle;
        return NvrtcApi.nvrtcDestroyProgram(&h) == 0;
    }
}

/// <summary>Safe entry points to NVRTC: version, supported architectures, compile.</summary>
public static unsafe class Nvrtc
{
    /// <summary>The NVRTC version as (major, minor).</summary>
    public static (int Major, int Minor) Version
    {
        get
        {
            int major, minor;
            NvrtcApi.Check(NvrtcApi.nvrtcVersion(&major, &minor), "nvrtcVersion", "querying the NVRTC version");
            return (major, minor);
        }
    }

    /// <summary>The real architectures (e.g. 80, 90) this NVRTC can emit CUBIN for.</summary>
    public static IReadOnlyList<int> SupportedArchs()
    {
        int count;
        NvrtcApi.Check(NvrtcApi.nvrtcGetNumSupportedArchs(&count), "nvrtcGetNumSupportedArchs", "listing architectures");
        var archs = new int[count];
        fixed (int* p = archs)
            NvrtcApi.Check(NvrtcApi.nvrtcGetSupportedArchs(p), "nvrtcGetSupportedArchs", "listing architectures");
        return archs;
    }

    /// <summary>
    /// Compiles one CUDA C++ source. <paramref name="headers"/> maps include names to their text (passed through
    /// nvrtcCreateProgram, so nothing is read from disk). Throws <see cref="NvrtcException"/> carrying the log on failure.
    /// </summary>
    public static NvrtcOutput Compile(string source, string name, IReadOnlyDictionary<string, string> headers, IReadOnlyList<string> options)
    {
        var strings = new List<nint>();
        nint Utf8(string s)
        {
            var p = Marshal.StringToCoTaskMemUTF8(s);
            strings.Add(p);
            return p;
        }
        try
        {
            var headerNames = headers.Keys.ToArray();
            var headerText = stackalloc byte*[Math.Max(1, headerNames.Length)];
            var headerIncl = stackalloc byte*[Math.Max(1, headerNames.Length)];
            for (int i = 0; i < headerNames.Length; i++)
            {
                headerText[i] = (byte*)Utf8(headers[headerNames[i]]);
                headerIncl[i] = (byte*)Utf8(headerNames[i]);
            }
            nint prog;
            NvrtcApi.Check(NvrtcApi.nvrtcCreateProgram(&prog, (byte*)Utf8(source), (byte*)Utf8(name), headerNames.Length,
                headerNames.Length == 0 ? null : headerText, headerNames.Length == 0 ? null : headerIncl),
                "nvrtcCreateProgram", $"creating program '{name}'");
            using var handle = new NvrtcProgramHandle(prog);

            var opts = stackalloc byte*[Math.Max(1, options.Count)];
            for (int i = 0; i < options.Count; i++) opts[i] = (byte*)Utf8(options[i]);
            int rc = NvrtcApi.nvrtcCompileProgram(prog, options.Count, opts);
            string log = GetLog(prog);
            NvrtcApi.Check(rc, "nvrtcCompileProgram", $"compiling '{name}' with {string.Join(" ", options)}", log);

            nuint ptxSize;
            NvrtcApi.Check(NvrtcApi.nvrtcGetPTXSize(prog, &ptxSize), "nvrtcGetPTXSize", $"'{name}'");
            var ptx = new byte[(int)ptxSize];
            if (ptxSize > 0)
                fixed (byte* p = ptx) NvrtcApi.Check(NvrtcApi.nvrtcGetPTX(prog, p), "nvrtcGetPTX", $"'{name}'");

            byte[]? cubin = null;
            nuint cubinSize;
            if (NvrtcApi.nvrtcGetCUBINSize(prog, &cubinSize) == 0 && cubinSize > 0)
            {
                cubin = new byte[(int)cubinSize];
                fixed (byte* p = cubin) NvrtcApi.Check(NvrtcApi.nvrtcGetCUBIN(prog, p), "nvrtcGetCUBIN", $"'{name}'");
            }
            int ptxLen = Array.IndexOf(ptx, (byte)0);
            return new NvrtcOutput(ptxLen >= 0 ? ptx[..ptxLen] : ptx, cubin, log);
        }
        finally
        {
            foreach (var p in strings) Marshal.FreeCoTaskMem(p);
        }
    }

    private static string GetLog(nint prog)
    {
        nuint size;
        if (NvrtcApi.nvrtcGetProgramLogSize(prog, &size) != 0 || size <= 1) return "";
        var buf = new byte[(int)size];
        fixed (byte* p = buf)
            if (NvrtcApi.nvrtcGetProgramLog(prog, p) != 0) return "";
        return Encoding.UTF8.GetString(buf, 0, (int)size - 1).Trim();
    }
}
