using BenchmarkDotNet.Running;

// Runs the suites named on the command line (BenchmarkDotNet's --filter); see README.md.
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
