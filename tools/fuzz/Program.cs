using FastIF.Fuzz;

// fastif-fuzz [--target NAME|all] [--seconds N per target] [--seed S] [--inputs N per target] [--fixtures DIR] [--torch-sample FILE]
var args2 = args.ToList();
string Arg(string name, string fallback)
{
    int i = args2.IndexOf(name);
    return i >= 0 && i + 1 < args2.Count ? args2[i + 1] : fallback;
}
string which = Arg("--target", "all");
double seconds = double.Parse(Arg("--seconds", "60"), System.Globalization.CultureInfo.InvariantCulture);
int seed = int.Parse(Arg("--seed", Environment.TickCount.ToString()));
long maxInputs = long.Parse(Arg("--inputs", long.MaxValue.ToString()));
var scratch = Path.Combine(Path.GetTempPath(), $"fastif-fuzz-{Environment.ProcessId}");
var crashes = Path.Combine(Environment.CurrentDirectory, "fuzz-crashes");
string? fixtures = Arg("--fixtures", Environment.GetEnvironmentVariable("FASTIF_FIXTURES") ?? Path.GetFullPath(Path.Combine("..", "shared", "fixtures")));
if (!Directory.Exists(fixtures)) fixtures = null;
string? torchSample = Arg("--torch-sample", Path.Combine("tests", "FastIF.Tests", "Weights", "data", "state_dict.bin"));
if (!File.Exists(torchSample)) torchSample = null;
var targets = FuzzTargets.All(scratch, fixtures, torchSample).Where(t => which == "all" || t.Name == which).ToList();
if (targets.Count == 0)
{
    Console.Error.WriteLine($"error: unknown target \"{which}\"; known: all, {string.Join(", ", FuzzTargets.Names)}");
    return 2;
}
Console.WriteLine($"seed {seed}, {seconds} s per target");
Console.WriteLine($"{"target",-20} {"inputs",12} {"accepted",10} {"rejected",12} {"failures",9} {"slowest ms",11} {"max alloc MiB",14}");
int failed = 0;
foreach (var t in targets)
{
    var r = FuzzRunner.Run(t, seed, maxInputs, TimeSpan.FromSeconds(seconds), crashes);
    Console.WriteLine($"{r.Target,-20} {r.Inputs,12} {r.Accepted,10} {r.Rejected,12} {r.Failures.Count,9} {r.SlowestMs,11:F1} {r.MostAllocatedBytes / 1048576.0,14:F1}");
    foreach (var f in r.Failures) Console.WriteLine("  FAIL " + f);
    failed += r.Failures.Count;
}
Directory.Delete(scratch, true);
return failed == 0 ? 0 : 1;
