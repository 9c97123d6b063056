using System.Diagnostics;
using System.Runtime.Loader;
using System.Text.Json;
using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.Logging.Abstractions;
using Mixer.Adapters.Script;
using Mixer.Sdk.Adapters;
using Mixer.Sdk.Templates;

namespace Mixer.Benchmarks;

/// <summary>
/// What a script handler costs per call against a compiled-in handler with the same logic (the
/// baseline, measured in the same run): a one-line check, and a check with a loop (where the
/// inserted budget checks run on every iteration).
/// </summary>
[MemoryDiagnoser]
public class ScriptCallBenchmarks
{
    internal const string OneLine = """instance.Value.StartsWith("bad", StringComparison.Ordinal) ? Deny("blocked") : Ok()""";

    internal const string Loop = """
        var digits = 0;
        foreach (var c in instance.Value)
        {
            if (char.IsAsciiDigit(c)) digits++;
        }

        return digits > 8 ? Deny("too many digits") : Ok();
        """;

    private readonly ListEntryInstance _instance = new() { Name = "user.listentry.istio-system", Value = "user-1234567-from-somewhere-far" };
    private IListEntryHandler _compiledOneLine = null!;
    private IListEntryHandler _compiledLoop = null!;
    private IListEntryHandler _scriptOneLine = null!;
    private IListEntryHandler _scriptLoop = null!;

    [GlobalSetup]
    public void Setup()
    {
        _compiledOneLine = new CompiledInOneLine();
        _compiledLoop = new CompiledInLoop();
        var adapter = new ScriptAdapter();
        _scriptOneLine = ScriptFigures.Build(adapter, OneLine);
        _scriptLoop = ScriptFigures.Build(adapter, Loop);
    }

    [Benchmark(Baseline = true)]
    public int CompiledInOneLineCheck() => Status(_compiledOneLine.HandleListEntryAsync(_instance, default));

    [Benchmark]
    public int ScriptOneLineCheck() => Status(_scriptOneLine.HandleListEntryAsync(_instance, default));

    [Benchmark]
    public int CompiledInLoopCheck() => Status(_compiledLoop.HandleListEntryAsync(_instance, default));

    [Benchmark]
    public int ScriptLoopCheck() => Status(_scriptLoop.HandleListEntryAsync(_instance, default));

    // Every handler here answers synchronously.
    internal static int Status(ValueTask<CheckResult> call) =>
        call.IsCompletedSuccessfully ? call.Result.StatusCode : throw new InvalidOperationException("expected a synchronous answer");

    /// <summary>The same logic as <see cref="OneLine"/>, written as an adapter author would.</summary>
    internal sealed class CompiledInOneLine : IListEntryHandler
    {
        private static readonly TimeSpan Valid = TimeSpan.FromSeconds(5);

        public ValueTask<CheckResult> HandleListEntryAsync(ListEntryInstance instance, CancellationToken cancellationToken) =>
            ValueTask.FromResult(instance.Value.StartsWith("bad", StringComparison.Ordinal)
                ? CheckResult.Deny(StatusCodes.PermissionDenied, "blocked", Valid, 1000)
                : CheckResult.Ok(Valid, 1000));

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    /// <summary>The same logic as <see cref="Loop"/>, written as an adapter author would.</summary>
    internal sealed class CompiledInLoop : IListEntryHandler
    {
        private static readonly TimeSpan Valid = TimeSpan.FromSeconds(5);

        public ValueTask<CheckResult> HandleListEntryAsync(ListEntryInstance instance, CancellationToken cancellationToken)
        {
            var digits = 0;
            foreach (var c in instance.Value)
            {
                if (char.IsAsciiDigit(c))
                {
                    digits++;
                }
            }

            return ValueTask.FromResult(digits > 8 ? CheckResult.Deny(StatusCodes.PermissionDenied, "too many digits", Valid, 1000) : CheckResult.Ok(Valid, 1000));
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}

/// <summary>
/// <c>--script</c>: compile time per script, call cost against a compiled-in handler (best of
/// several Stopwatch rounds, same run), and memory across config generations of distinct scripts,
/// with the cache unloading what no handler uses against a cache that keeps everything.
/// </summary>
internal static class ScriptFigures
{
    public static IListEntryHandler Build(ScriptAdapter adapter, string source)
    {
        var json = JsonSerializer.SerializeToElement(new Dictionary<string, string> { ["listentry"] = source });
        var problems = adapter.Validate(json);
        if (problems.Count > 0)
        {
            throw new InvalidOperationException(string.Join("; ", problems.Select(p => $"{p.Field}: {p.Reason}")));
        }

        return (IListEntryHandler)adapter.BuildAsync(
            new HandlerContext { HandlerName = "bench.script.istio-system", Params = json, Instances = new Dictionary<string, string>(), Logger = NullLogger.Instance },
            default).AsTask().GetAwaiter().GetResult();
    }

    public static void Run()
    {
        var cpu = Stopwatch.StartNew();
        var process = Process.GetCurrentProcess();
        var cpuStart = process.TotalProcessorTime;

        // Compile time: the first script pays for loading Roslyn; then per distinct script.
        var adapter = new ScriptAdapter();
        var sw = Stopwatch.StartNew();
        Build(adapter, ScriptCallBenchmarks.OneLine);
        Console.WriteLine($"first compile (Roslyn cold): {sw.Elapsed.TotalMilliseconds:F0} ms");
        var times = new List<double>();
        for (var i = 0; i < 30; i++)
        {
            sw.Restart();
            Build(adapter, ScriptCallBenchmarks.Loop.Replace("8", (i + 10).ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal));
            times.Add(sw.Elapsed.TotalMilliseconds);
        }

        times.Sort();
        Console.WriteLine($"compile per distinct script (30, warm): median {times[15]:F0} ms, min {times[0]:F0} ms, max {times[^1]:F0} ms");
        sw.Restart();
        Build(adapter, ScriptCallBenchmarks.OneLine);
        Console.WriteLine($"same text again (cache hit, Validate + BuildAsync): {sw.Elapsed.TotalMilliseconds * 1000:F0} us");

        // Call cost, same run.
        var instance = new ListEntryInstance { Name = "user.listentry.istio-system", Value = "user-1234567-from-somewhere-far" };
        IListEntryHandler compiledOne = new ScriptCallBenchmarks.CompiledInOneLine(), compiledLoop = new ScriptCallBenchmarks.CompiledInLoop();
        var scriptOne = Build(adapter, ScriptCallBenchmarks.OneLine);
        var scriptLoop = Build(adapter, ScriptCallBenchmarks.Loop);
        for (var round = 0; round < 2; round++)
        {
            var a = Best(() => compiledOne.HandleListEntryAsync(instance, default));
            var b = Best(() => scriptOne.HandleListEntryAsync(instance, default));
            var c = Best(() => compiledLoop.HandleListEntryAsync(instance, default));
            var d = Best(() => scriptLoop.HandleListEntryAsync(instance, default));
            if (round == 1)
            {
                Console.WriteLine($"one-line check: compiled-in {a:F1} ns, script {b:F1} ns, ratio {b / a:F2}");
                Console.WriteLine($"31-char loop check: compiled-in {c:F1} ns, script {d:F1} ns, ratio {d / c:F2}");
            }
        }

        // Memory across generations: each generation replaces the handler with one running a different script.
        Console.WriteLine(Generations("unloading cache (default)", new ScriptAdapter(), 400));
        Console.WriteLine(Generations("cache that keeps everything", new ScriptAdapter(new ScriptCache(int.MaxValue)), 400));
        Console.WriteLine($"wall {cpu.Elapsed.TotalSeconds:F0} s, CPU {(process.TotalProcessorTime - cpuStart).TotalSeconds:F0} s");
    }

    private static string Generations(string what, ScriptAdapter adapter, int generations)
    {
        Build(adapter, "Ok()");
        var before = Settle();
        var points = new List<string> { $"start: working set {before.WorkingSet / 1048576.0:F0} MiB, {AssemblyLoadContext.All.Count()} load contexts" };
        IListEntryHandler? live = null;
        var sw = Stopwatch.StartNew();
        for (var g = 1; g <= generations; g++)
        {
            var next = Build(adapter, $"instance.Value.Length > {g} ? Ok() : Deny(\"short\")");
            live?.DisposeAsync().AsTask().GetAwaiter().GetResult();
            live = next;
            if (g % 100 == 0)
            {
                var now = Settle();
                points.Add($"after {g}: {now.WorkingSet / 1048576.0:F0} MiB, managed heap {now.Heap / 1048576.0:F1} MiB, {AssemblyLoadContext.All.Count()} load contexts");
            }
        }

        GC.KeepAlive(live);
        return $"{what}, {sw.Elapsed.TotalMilliseconds / generations:F0} ms per generation (compile + build):\n  " + string.Join("\n  ", points);
    }

    private static (long Heap, long WorkingSet) Settle()
    {
        for (var i = 0; i < 5; i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }

        using var p = Process.GetCurrentProcess();
        return (GC.GetTotalMemory(true), p.WorkingSet64);
    }

    private static double Best(Func<ValueTask<CheckResult>> call)
    {
        const int N = 2_000_000;
        var best = double.MaxValue;
        for (var round = 0; round < 5; round++)
        {
            var sw = Stopwatch.StartNew();
            for (var i = 0; i < N; i++)
            {
                _ = ScriptCallBenchmarks.Status(call());
            }

            best = Math.Min(best, sw.Elapsed.TotalNanoseconds / N);
        }

        return best;
    }
}
