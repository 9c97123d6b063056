using BenchmarkDotNet.Attributes;
using Mixer.Lang;
using Mixer.Lang.Tests;
using Mixer.Lang.Tests.Reference;
using Mixer.Sdk;
using ValueType = Mixer.Sdk.ValueType;

namespace Mixer.Benchmarks;

/// <summary>
/// The three expressions over a wire bag (ProtoBag, as the server sees requests):
/// compiled delegate against the tree-walking evaluator (the baseline) in the same run.
/// </summary>
[MemoryDiagnoser]
public class ExpressionBenchmarks
{
    private const string A = "request.headers[\"x-user\"] == \"admin\" && source.namespace == \"prod\"";
    private const string B = "match(request.path, \"/api/*\") || destination.service.host == \"reviews.default.svc.cluster.local\"";

    // Nine attributes the request does not carry, then one it does.
    private const string C = "source.user | source.principal | request.auth.principal | request.api_key | request.auth.presenter | "
        + "request.auth.audiences | origin.user | destination.principal | request.reason | source.uid";

    /// <summary>The three expressions, by the names the results use.</summary>
    public static readonly (string Name, string Text)[] Expressions = [("a", A), ("b", B), ("c", C)];

    private CompiledExpression _compiled = null!;
    private TreeWalker _walker = null!;
    private IAttributeBag _bag = null!;

    [Params("a", "b", "c")]
    public string Expression { get; set; } = "a";

    [GlobalSetup]
    public void Setup()
    {
        var text = Expressions.Single(e => e.Name == Expression).Text;
        var manifest = BenchmarkManifest.Istio;
        _compiled = new ExpressionCompiler(manifest, CompilationMode.Immediate).Compile(text);
        _walker = TreeWalker.For(text, manifest);
        _bag = BenchmarkManifest.RequestBag();

        // Both must agree before either is timed.
        var x = _compiled.Evaluate(_bag);
        var y = _walker.Evaluate(_bag);
        if (!x.Succeeded || !x.Value.Equals(y.Value))
        {
            throw new InvalidOperationException($"compiled {x} and tree walker {y} disagree on {text}");
        }
    }

    [Benchmark(Baseline = true)]
    public EvalResult TreeWalking() => _walker.Evaluate(_bag);

    [Benchmark]
    public EvalResult Compiled() => _compiled.Evaluate(_bag);

    [Benchmark]
    public bool CompiledTyped()
    {
        // The shape the runtime uses for rule matches and string fields: no AttributeValue wrapping.
        if (_compiled.ResultType == ValueType.Bool)
        {
            _compiled.TryEvaluateBool(_bag, out var b, out _);
            return b;
        }

        return _compiled.TryEvaluateString(_bag, out var s, out _) && s.Length > 0;
    }
}

/// <summary>Compiling 1,000 distinct rule-like expressions (the issue asks for under 1 s in total).</summary>
[MemoryDiagnoser]
public class CompileBenchmarks
{
    private string[] _texts = [];
    private ExpressionCompiler _compiler = null!;
    private ExpressionCompiler _immediate = null!;

    [GlobalSetup]
    public void Setup()
    {
        _compiler = new ExpressionCompiler(BenchmarkManifest.Istio);
        _immediate = new ExpressionCompiler(BenchmarkManifest.Istio, CompilationMode.Immediate);
        _texts = Texts(0);
    }

    /// <summary>1,000 distinct rule-like expressions; <paramref name="salt"/> makes another distinct set.</summary>
    public static string[] Texts(int salt) =>
        Enumerable.Range(salt * 1000, 1000).Select(i => (i % 4) switch
        {
            0 => $"request.headers[\"x-user-{i}\"] == \"admin{i}\" && source.namespace == \"ns{i}\"",
            1 => $"match(request.path, \"/api/v{i}/*\") || destination.service.host == \"svc{i}.default.svc.cluster.local\"",
            2 => $"(request.size | {i}) + {i} == response.size | 0",
            _ => $"conditional(response.code >= {i}, source.labels[\"app\"] | \"app{i}\", destination.workload.name | \"unknown\") == \"x{i}\"",
        }).ToArray();

    [Benchmark(Baseline = true, OperationsPerInvoke = 1000)]
    public int CheckOnly()
    {
        var n = 0;
        foreach (var t in _texts)
        {
            n += _compiler.TryGetType(t, out _, out _) ? 1 : 0;
        }

        return n;
    }

    /// <summary>Tiered (the default): usable at once, IL compiled on a background thread.</summary>
    [Benchmark(OperationsPerInvoke = 1000)]
    public int Compile() => CompileAll(_compiler);

    /// <summary>Straight to IL before Compile returns: the whole cost on the caller's thread.</summary>
    [Benchmark(OperationsPerInvoke = 1000)]
    public int CompileToIL() => CompileAll(_immediate);

    private int CompileAll(ExpressionCompiler compiler)
    {
        var n = 0;
        foreach (var t in _texts)
        {
            n += compiler.Compile(t).ResultType == ValueType.Bool ? 1 : 0;
        }

        return n;
    }
}

internal static class BenchmarkManifest
{
    public static readonly AttributeManifest Istio = new(new Dictionary<string, ValueType>
    {
        ["request.headers"] = ValueType.StringMap, ["request.path"] = ValueType.String, ["request.host"] = ValueType.String,
        ["request.method"] = ValueType.String, ["request.size"] = ValueType.Int64, ["request.time"] = ValueType.Timestamp,
        ["request.useragent"] = ValueType.String, ["request.id"] = ValueType.String, ["request.reason"] = ValueType.String,
        ["request.auth.principal"] = ValueType.String, ["request.auth.presenter"] = ValueType.String,
        ["request.auth.audiences"] = ValueType.String, ["request.api_key"] = ValueType.String,
        ["response.code"] = ValueType.Int64, ["response.size"] = ValueType.Int64, ["response.duration"] = ValueType.Duration,
        ["source.uid"] = ValueType.String, ["source.user"] = ValueType.String, ["source.principal"] = ValueType.String,
        ["source.namespace"] = ValueType.String, ["source.labels"] = ValueType.StringMap, ["source.ip"] = ValueType.IpAddress,
        ["origin.user"] = ValueType.String, ["destination.principal"] = ValueType.String, ["destination.uid"] = ValueType.String,
        ["destination.service.host"] = ValueType.String, ["destination.workload.name"] = ValueType.String,
        ["destination.namespace"] = ValueType.String, ["context.protocol"] = ValueType.String, ["connection.mtls"] = ValueType.Bool,
    });

    /// <summary>A typical inbound HTTP request as a proxy encodes it: global-dictionary words only.</summary>
    public static IAttributeBag RequestBag()
    {
        var headers = new StringMapValue(new Dictionary<string, string>
        {
            [":authority"] = "reviews:9080", [":path"] = "/api/v1/reviews", ["x-user"] = "admin", ["user-agent"] = "curl/7.58",
        });
        return WireBags.From(new Dictionary<string, AttributeValue>
        {
            ["request.path"] = AttributeValue.String("/api/v1/reviews"),
            ["request.host"] = AttributeValue.String("reviews:9080"),
            ["request.method"] = AttributeValue.String("GET"),
            ["request.useragent"] = AttributeValue.String("curl/7.58"),
            ["request.id"] = AttributeValue.String("7f1c9a7e-2b7d-4d38-9c1b-3f0b2a1d5e6f"),
            ["source.uid"] = AttributeValue.String("kubernetes://productpage-v1-6b746f74dc-9stvr.default"),
            ["source.namespace"] = AttributeValue.String("prod"),
            ["destination.uid"] = AttributeValue.String("kubernetes://reviews-v2-7ff5966b99-4d2nh.default"),
            ["destination.service.host"] = AttributeValue.String("reviews.default.svc.cluster.local"),
            ["destination.namespace"] = AttributeValue.String("default"),
            ["context.protocol"] = AttributeValue.String("http"),
            ["request.size"] = AttributeValue.Int64(0),
            ["response.code"] = AttributeValue.Int64(200),
            ["connection.mtls"] = AttributeValue.Bool(true),
            ["request.headers"] = AttributeValue.StringMap(headers),
        });
    }
}
