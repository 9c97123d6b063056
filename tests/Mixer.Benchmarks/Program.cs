using BenchmarkDotNet.Running;

// Runs the suites named on the command line (BenchmarkDotNet's --filter); see README.md.
if (args is ["--quick"])
{
    Mixer.Benchmarks.QuickCheck.Run();
    return;
}

if (args is ["--script"])
{
    Mixer.Benchmarks.ScriptFigures.Run();
    return;
}

BenchmarkSwitcher.FromAssembly(typeof(Mixer.Benchmarks.ReportBenchmarks).Assembly).Run(args);
