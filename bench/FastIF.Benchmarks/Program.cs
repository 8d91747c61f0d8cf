using BenchmarkDotNet.Running;

// dotnet run --project bench/FastIF.Benchmarks -c Release -- [--filter *Conv*] (BenchmarkDotNet's own arguments)
BenchmarkSwitcher.FromAssembly(typeof(FastIF.Benchmarks.CpuOpBenchmarks).Assembly).Run(args);
