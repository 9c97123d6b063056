using System.Diagnostics;
using Mixer.Lang;
using Mixer.Lang.Tests.Reference;
using Mixer.Sdk;

namespace Mixer.Benchmarks;

/// <summary>
/// <c>--quick</c>: a few seconds of Stopwatch loops (best of several rounds) over the same
/// expressions as <see cref="ExpressionBenchmarks"/>, for a fast look while changing the compiler.
/// The figures to quote come from BenchmarkDotNet.
/// </summary>
internal static class QuickCheck
{
    public static void Run()
    {
        var compiler = new ExpressionCompiler(BenchmarkManifest.Istio);
        for (var salt = 1; salt <= 3; salt++)
        {
            var texts = CompileBenchmarks.Texts(salt);
            var sw = Stopwatch.StartNew();
            var all = texts.Select(compiler.Compile).ToList();
            var ready = sw.Elapsed.TotalMilliseconds;
            SpinWait.SpinUntil(() => all.TrueForAll(e => e.IsCompiled));
            Console.WriteLine($"compile 1,000 distinct (tiered): usable after {ready:F0} ms, all IL after {sw.Elapsed.TotalMilliseconds:F0} ms");
        }

        if (Environment.GetEnvironmentVariable("QUICK_PARTS") is not null)
        {
            var texts = CompileBenchmarks.Texts(7);
            var bag0 = BenchmarkManifest.RequestBag();
            var sw = Stopwatch.StartNew();
            var trees = texts.Select(t => { compiler.TryCheck(t, out var tree, out _); return Mixer.Lang.Compilation.Folder.Fold(tree); }).ToArray();
            var check = sw.Elapsed.TotalMilliseconds;
            sw.Restart();
            var delegates = trees.Select(Mixer.Lang.Compilation.Emitter.Emit).ToArray();
            var emit = sw.Elapsed.TotalMilliseconds;
            sw.Restart();
            foreach (var d in delegates)
            {
                ((Mixer.Lang.Compilation.Evaluator<bool>)d)(bag0, out _, out _);
            }

            Console.WriteLine($"check+fold {check:F0} ms, emit+Compile() {emit:F0} ms, first calls {sw.Elapsed.TotalMilliseconds:F0} ms");
        }

        // The first pass lets tiered compilation settle; the second is printed.
        Measure(print: false);
        Measure(print: true);
    }

    private static void Measure(bool print)
    {
        var bag = BenchmarkManifest.RequestBag();
        if (print && Environment.GetEnvironmentVariable("QUICK_PARTS") is not null)
        {
            var h = AttributeName.Of("source.namespace");
            var pb = (ProtoBag)bag;
            Console.WriteLine($"bag.TryGet hit {Best(() => bag.TryGet(h, out _)):F1} ns, direct {Best(() => pb.TryGet(h, out _)):F1} ns");
            var hm = AttributeName.Of("source.user");
            Console.WriteLine($"bag.TryGet miss {Best(() => bag.TryGet(hm, out _)):F1} ns");
            var hh = AttributeName.Of("request.headers");
            Console.WriteLine($"bag.TryGetMapValue {Best(() => bag.TryGetMapValue(hh, "x-user", out _)):F1} ns");
            foreach (var t in new[] { "true", "source.namespace == \"prod\"", "request.headers[\"x-user\"] == \"admin\"", "source.namespace" })
            {
                var e = new ExpressionCompiler(BenchmarkManifest.Istio, CompilationMode.Immediate).Compile(t);
                var isBool = e.ResultType == Mixer.Sdk.ValueType.Bool;
                Console.WriteLine($"{t}: {Best(() => isBool ? e.TryEvaluateBool(bag, out _, out _) : e.TryEvaluateString(bag, out _, out _)):F1} ns");
            }
        }

        foreach (var (name, text) in ExpressionBenchmarks.Expressions)
        {
            var compiled = new ExpressionCompiler(BenchmarkManifest.Istio, CompilationMode.Immediate).Compile(text);
            var walker = TreeWalker.For(text, BenchmarkManifest.Istio);
            var w = Best(() => walker.Evaluate(bag));
            var c = Best(() => compiled.Evaluate(bag));
            var isBool = compiled.ResultType == Mixer.Sdk.ValueType.Bool;
            var t = Best(() => isBool ? compiled.TryEvaluateBool(bag, out _, out _) : compiled.TryEvaluateString(bag, out _, out _));
            if (print)
            {
                Console.WriteLine($"{name}: walker {w,7:F1} ns  compiled {c,6:F1} ns ({w / c,4:F1}x)  typed {t,6:F1} ns ({w / t,4:F1}x)");
            }
        }
    }

    private static double Best<T>(Func<T> f)
    {
        const int N = 200_000;
        var best = double.MaxValue;
        for (var round = 0; round < 7; round++)
        {
            var sw = Stopwatch.StartNew();
            for (var i = 0; i < N; i++)
            {
                f();
            }

            best = Math.Min(best, sw.Elapsed.TotalNanoseconds / N);
        }

        return best;
    }
}
