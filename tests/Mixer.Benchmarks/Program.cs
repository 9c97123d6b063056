using BenchmarkDotNet.Running;

// Runs the suites named on the command line (BenchmarkDotNet's --filter); see README.md.
if (args is ["--quick"])
{
    Mixer.Benchmarks.QuickCheck.Run();
    return;
}

if (args is ["--report-loop", var config, var seconds])
{
    // For a profiler (perf record): mixs's Report path over one config, in a loop, nothing else.
    Mixer.Benchmarks.ReportBenchmarks.Loop(config, TimeSpan.FromSeconds(int.Parse(seconds, System.Globalization.CultureInfo.InvariantCulture)));
    return;
}

if (args is ["--script"])
{
    Mixer.Benchmarks.ScriptFigures.Run();
    return;
}

BenchmarkSwitcher.FromAssembly(typeof(Mixer.Benchmarks.ReportBenchmarks).Assembly).Run(args);
