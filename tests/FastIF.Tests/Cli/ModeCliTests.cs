using System.Diagnostics;
using FastIF.Imaging;

namespace FastIF.Tests.Cli;

/// <summary>Every sampling mode end to end from the CLI on random tiny snapshots (small sizes and few steps for CI).</summary>
[Collection("console")]
public class ModeCliTests : IClassFixture<ModeCliTests.Models>
{
    /// <summary>Tiny stage-I and stage-II snapshots, embeddings, an image, a mask and a map, made once.</summary>
    public sealed class Models : IDisposable
    {
        public string Dir { get; } = Path.Combine(Path.GetTempPath(), $"fastif-modes-{Guid.NewGuid():N}");
        public string One => Path.Combine(Dir, "one");
        public string Two => Path.Combine(Dir, "two");
        public string E1 => Path.Combine(Dir, "e1.safetensors");
        public string E2 => Path.Combine(Dir, "e2.safetensors");
        public string Image => Path.Combine(Dir, "image.png");
        public string Mask => MaskFor(32);
        public string Map => MapFor(32);
        public string MapTensor => MapTensorFor(32);

        /// <summary>A centred square mask, a left-to-right strength ramp (PNG and tensor), at a stage-I size (16 or 32):
        /// masks and maps must match the image's size.</summary>
        public string MaskFor(int size) => Path.Combine(Dir, $"mask-{size}.png");
        public string MapFor(int size) => Path.Combine(Dir, $"map-{size}.png");
        public string MapTensorFor(int size) => Path.Combine(Dir, $"map-{size}.safetensors");

        public Models()
        {
            Directory.CreateDirectory(Dir);
            Check(CliRunner.Run("weights", "random", "--preset", "tiny", "--out", One, "--snapshot", "--dtype", "fp32"));
            Check(CliRunner.Run("weights", "random", "--preset", "tiny-ii", "--out", Two, "--snapshot", "--dtype", "fp32"));
            Check(CliRunner.Run("embeds", "random", "--out", E1, "--tokens", "8"));
            Check(CliRunner.Run("embeds", "random", "--out", E2, "--tokens", "8", "--seed", "1"));
            var rgb = new byte[32 * 32 * 3];
            for (int i = 0; i < rgb.Length; i++) rgb[i] = (byte)(i * 7 % 256);
            Png.WriteRgb8(Image, 32, 32, rgb);
            foreach (int n in new[] { 16, 32 })
            {
                var mask = new byte[n * n * 3];
                var map = new byte[n * n * 3];
                for (int p = 0; p < n * n; p++)
                {
                    int x = p % n, y = p / n;
                    for (int c = 0; c < 3; c++)
                    {
                        mask[3 * p + c] = (byte)(x >= n / 4 && x < 3 * n / 4 && y >= n / 4 && y < 3 * n / 4 ? 255 : 0);
                        map[3 * p + c] = (byte)(x * 256 / n);
                    }
                }
                Png.WriteRgb8(MaskFor(n), n, n, mask);
                Png.WriteRgb8(MapFor(n), n, n, map);
                FastIF.Weights.SafetensorsWriter.Save(MapTensorFor(n), [("map", new FastIF.Tensors.Shape(n, n), Enumerable.Range(0, n * n).Select(p => p % n / (n - 1f)).ToArray())]);
            }
        }

        private static void Check((int Code, string Out, string Err) r) => Assert.True(r.Code == 0, r.Err);

        public void Dispose() => Directory.Delete(Dir, true);
    }

    private readonly Models _m;

    public ModeCliTests(Models m) => _m = m;

    private static (int Code, string Out, string Err) Run(params string[] args) => CliRunner.Run(args);

    public static TheoryData<string, string> Modes() => new()
    {
        { "generate", "" },
        { "edit", "--image {image} --strength 0.5" },
        { "inpaint", "--image {image} --mask {mask}" },
        { "inpaint", "--image {image} --mask {mask} --repaint" },
        { "inpaint", "--image {image} --mask {mask} --repaint --jump-length 1 --jump-count 2" },
        { "anagram", "--embeds {e2} --views identity,rot180" },
        { "hybrid", "--embeds {e2} --kernel 9 --sigma 1.5" },
        { "diffdiff", "--image {image} --map {map}" },
        { "diffdiff", "--image {image} --map {map} --soft" },
        { "diffdiff", "--image {image} --map {maptensor}" },
        { "edit", "--image {image} --i-start 1" },
        { "edit#2", "--image {image} --i-start 0,1" },
        { "noise", "--image {image} --t 400" },
        { "denoise", "--image {image} --t 400 --stride 200" },
        { "denoise", "--image {image} --t 400 --method one-step" },
        { "denoise", "--image {image} --t 400 --method gaussian --kernel 5 --sigma 1" },
        { "upscale", "--low-res {image}" },
        { "anagram@2", "--embeds {e2} --views identity,flip_h --low-res {image}" },
        { "hybrid", "--embeds {e2} --embeds {e1}" },
        { "hybrid", "--embeds {e2} --split gray-color" },
        { "anagram", "--embeds {e2} --constrain-image {image} --constrain-mask {mask}" },
        { "hybrid", "--embeds {e2} --constrain-image {image} --constrain-map {map}" },
    };

    [Theory]
    [MemberData(nameof(Modes))]
    public void ModeWritesAPng(string mode, string extra) => RunMode(_m, mode, extra, "cpu", sizeOne: 32, batch: 2);

    /// <summary>
    /// Runs one row of <see cref="Modes"/> from the CLI on <paramref name="backend"/> and checks the PNG's size: stage-II
    /// modes (<c>@2</c>) run at twice <paramref name="sizeOne"/>, <c>#N</c> expects N rows.
    /// </summary>
    internal static void RunMode(Models m, string mode, string extra, string backend, int sizeOne, int batch, params string[] more)
    {
        bool stageTwo = mode is "upscale" or "anagram@2";
        int rows = mode.Contains('#') ? int.Parse(mode.Split('#')[1]) : 1;
        mode = mode.Split('@', '#')[0];
        var outPng = Path.Combine(m.Dir, $"{mode}-{Guid.NewGuid():N}.png");
        int size = stageTwo ? 2 * sizeOne : sizeOne;
        var args = new List<string> { mode, "--model", stageTwo ? m.Two : m.One, "--embeds", m.E1, "--steps", "2",
            "--size", size.ToString(), "--batch", batch.ToString(), "--out", outPng, "--backend", backend };
        args.AddRange(extra.Replace("{image}", m.Image).Replace("{mask}", m.MaskFor(sizeOne)).Replace("{maptensor}", m.MapTensorFor(sizeOne))
            .Replace("{map}", m.MapFor(sizeOne)).Replace("{e2}", m.E2).Replace("{e1}", m.E1)
            .Split(' ', StringSplitOptions.RemoveEmptyEntries));
        args.AddRange(more);
        var (code, output, err) = CliRunner.Run([.. args]);
        Assert.True(code == 0, err);
        Assert.Contains($"{mode}: wrote", output);
        // With stderr piped or in a file (as under a test host or a GPU visit's logs), progress is one line per step.
        if (Console.IsErrorRedirected) Assert.DoesNotContain("\r", err);
        var img = Png.Read(outPng);
        Assert.Equal((batch * size, rows * size), (img.Width, img.Height));
    }

    [Theory]
    [InlineData("inpaint", "--image {image} --mask {map}", "binary")]
    [InlineData("anagram", "--embeds {e2} --views identity,spin", "unknown view")]
    [InlineData("generate", "--steps 0", "--steps 0")]
    [InlineData("generate", "--timesteps fast28", "fast28")]
    [InlineData("generate", "--size 30", "--size")]
    [InlineData("edit", "--image {image} --strength 1.5", "strength")]
    [InlineData("edit", "--image {image} --strength 0.5,x", "--strength")]
    [InlineData("upscale", "--low-res {image}", "stage-I")]
    [InlineData("hybrid", "", "2 --embeds")]
    [InlineData("edit", "--image {image} --i-start 5", "--i-start")]
    public void BadRequestsFailWithOneLineAndNoOutput(string mode, string extra, string expected)
    {
        var outPng = Path.Combine(_m.Dir, $"bad-{Guid.NewGuid():N}.png");
        var args = new List<string> { mode, "--model", _m.One, "--embeds", _m.E1, "--out", outPng };
        if (!extra.Contains("--steps")) args.AddRange(["--steps", "2"]);
        if (!extra.Contains("--size")) args.AddRange(["--size", "32"]);
        args.AddRange(extra.Replace("{image}", _m.Image).Replace("{map}", _m.Map).Replace("{e2}", _m.E2).Split(' ', StringSplitOptions.RemoveEmptyEntries));
        var (code, _, err) = Run([.. args]);
        Assert.Equal(2, code);
        Assert.Contains(expected, err);
        Assert.StartsWith("error: ", err.Split('\n').Last(l => l.Length > 0).TrimStart('\r'));
        Assert.False(File.Exists(outPng));
    }

    /// <summary>Same seed, 1 or 2 processors: the CPU backend's work split never changes a value, so outputs are bit-identical.</summary>
    [Fact]
    public void SameSeedIsBitIdenticalAcrossThreadCounts()
    {
        var cli = Path.Combine(AppContext.BaseDirectory, "FastIF.Cli.dll");
        byte[] RunWith(int processors)
        {
            var outPng = Path.Combine(_m.Dir, $"det-{processors}.png");
            var psi = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true };
            foreach (var a in new[] { cli, "generate", "--model", _m.One, "--embeds", _m.E1, "--steps", "2", "--size", "32", "--seed", "5", "--out", outPng })
                psi.ArgumentList.Add(a);
            psi.Environment["DOTNET_PROCESSOR_COUNT"] = processors.ToString();
            using var p = Process.Start(psi)!;
            string err = p.StandardError.ReadToEnd();
            p.StandardOutput.ReadToEnd();
            p.WaitForExit();
            Assert.True(p.ExitCode == 0, err);
            return Png.Read(outPng).ToRgba8();
        }
        Assert.Equal(RunWith(1), RunWith(2));
    }
}
