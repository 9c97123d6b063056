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

if (args is ["--report-body", var file])
{
    // The benchmark's 1,000-set sidecar report as an h2load body (gRPC-framed), for load scripts.
    var payload = Google.Protobuf.MessageExtensions.ToByteArray(Mixer.Benchmarks.SidecarReport.Build(Mixer.Benchmarks.ReportBenchmarks.Sets));
    var frame = new byte[5 + payload.Length];
    System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), (uint)payload.Length);
    payload.CopyTo(frame, 5);
    File.WriteAllBytes(file, frame);
    return;
}

if (args is ["--script"])
{
    Mixer.Benchmarks.ScriptFigures.Run();
    return;
}

BenchmarkSwitcher.FromAssembly(typeof(Mixer.Benchmarks.ReportBenchmarks).Assembly).Run(args);
