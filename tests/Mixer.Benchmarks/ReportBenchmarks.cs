using System.Buffers;
using BenchmarkDotNet.Attributes;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Istio.Mixer.V1;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Mixer.Runtime;
using Mixer.Server.Api;
using Mixer.Hosting;

namespace Mixer.Benchmarks;

/// <summary>
/// One Report of 1,000 delta-encoded sets as the sidecar sends them, through mixs's own Report
/// path (hand decoder, every set checked, the real runtime dispatching them) against
/// Google.Protobuf parsing the same bytes into a <see cref="ReportRequest"/> (the baseline), in
/// the same run. Means are per set (OperationsPerInvoke), so is Allocated: times 1,000 per Report.
/// <c>policy-20</c> has no rule that acts on Report (the sidecar load's config); <c>telemetry-10</c>
/// has ten metrics through the prometheus adapter (report-load.sh's).
/// </summary>
[MemoryDiagnoser]
public class ReportBenchmarks
{
    /// <summary>Sets per Report: the sidecar's batch size.</summary>
    public const int Sets = 1000;

    private byte[] _bytes = [];
    private MixerRuntime _runtime = null!;
    private MixerService _service = null!;
    private readonly BenchCallContext _context = new();

    [Params("policy-20", "telemetry-10")]
    public string Config { get; set; } = "policy-20";

    [GlobalSetup]
    public void Setup()
    {
        _bytes = SidecarReport.Build(Sets).ToByteArray();
        _runtime = MixerRuntime.StartAsync(
            new RuntimeOptions
            {
                ConfigStoreUrl = "fs://" + Path.Combine(SidecarReport.RepoRoot, "tests", "load", Config),
                AdapterSettings = new Dictionary<string, string>(StringComparer.Ordinal)
                {
                    [Adapters.Prometheus.PrometheusAdapter.PortSetting] = "0",
                },
            },
            BuiltInAdapters.Create(),
            NullLoggerFactory.Instance,
            CancellationToken.None).GetAwaiter().GetResult();
        if (_runtime.Errors.Count > 0)
        {
            throw new InvalidOperationException($"{Config}: {string.Join("; ", _runtime.Errors)}");
        }

        _service = new MixerService(_runtime, new CheckCache(0, TimeProvider.System), NullLogger<MixerService>.Instance);

        // Both must accept the request before either is timed.
        if (ReportRequest.Parser.ParseFrom(_bytes).Attributes.Count != Sets)
        {
            throw new InvalidOperationException("the baseline did not read every set");
        }

        MixsReport();
    }

    /// <summary>Runs <see cref="MixsReport"/> for <paramref name="duration"/> and prints ns per set and bytes allocated per Report.</summary>
    public static void Loop(string config, TimeSpan duration)
    {
        var b = new ReportBenchmarks { Config = config };
        b.Setup();
        var reports = 0L;
        var allocated = GC.GetAllocatedBytesForCurrentThread();
        var sw = System.Diagnostics.Stopwatch.StartNew();
        while (sw.Elapsed < duration)
        {
            b.MixsReport();
            reports++;
        }

        var perSet = sw.Elapsed.TotalNanoseconds / (reports * Sets);
        allocated = GC.GetAllocatedBytesForCurrentThread() - allocated;
        Console.WriteLine($"{config}: {reports} reports of {Sets} sets, {perSet:F0} ns per set, {allocated / reports} B allocated per Report");
        b.Cleanup();
    }

    [GlobalCleanup]
    public void Cleanup() => _runtime.DisposeAsync().AsTask().GetAwaiter().GetResult();

    [Benchmark(Baseline = true, OperationsPerInvoke = Sets)]
    public ReportRequest GoogleProtobufParse() => ReportRequest.Parser.ParseFrom(_bytes);

    [Benchmark(OperationsPerInvoke = Sets)]
    public ReportResponse MixsReport()
    {
        var call = ReportCall.Read(new BenchDeserializationContext(_bytes));
        return _service.Report(call, _context).GetAwaiter().GetResult();
    }

    private sealed class BenchDeserializationContext(byte[] bytes) : DeserializationContext
    {
        public override int PayloadLength => bytes.Length;

        public override byte[] PayloadAsNewBuffer() => (byte[])bytes.Clone();

        public override ReadOnlySequence<byte> PayloadAsReadOnlySequence() => new(bytes);
    }

    /// <summary>What the Report handler reads of a call: its cancellation token, nothing else.</summary>
    private sealed class BenchCallContext : ServerCallContext
    {
        protected override string MethodCore => "/istio.mixer.v1.Mixer/Report";

        protected override string HostCore => "127.0.0.1";

        protected override string PeerCore => "ipv4:127.0.0.1:1";

        protected override DateTime DeadlineCore => DateTime.MaxValue;

        protected override Metadata RequestHeadersCore { get; } = [];

        protected override CancellationToken CancellationTokenCore => CancellationToken.None;

        protected override Metadata ResponseTrailersCore { get; } = [];

        protected override Grpc.Core.Status StatusCore { get; set; }

        protected override WriteOptions? WriteOptionsCore { get; set; }

        protected override AuthContext AuthContextCore { get; } = new(null, []);

        protected override ContextPropagationToken CreatePropagationTokenCore(ContextPropagationOptions? options) => throw new NotSupportedException();

        protected override Task WriteResponseHeadersAsyncCore(Metadata responseHeaders) => Task.CompletedTask;
    }
}

/// <summary>
/// A ReportRequest as the sidecar builds one: DELTA_ENCODING, names and known values as global
/// words, everything else in one shared <c>default_words</c>. The first set carries about 50
/// attributes; each later one only what changed (request id and times, duration, the request
/// headers with their new x-request-id and trace id, the response headers' date now and then), so
/// the words grow by two per set.
/// </summary>
internal static class SidecarReport
{
    public static string RepoRoot
    {
        get
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Mixer.sln")))
            {
                dir = dir.Parent;
            }

            return dir?.FullName ?? throw new InvalidOperationException("Mixer.sln not found above " + AppContext.BaseDirectory);
        }
    }

    public static ReportRequest Build(int sets)
    {
        var words = new Words();
        var request = new ReportRequest { GlobalWordCount = (uint)GlobalDictionary.Count };
        var start = new DateTime(2026, 12, 1, 22, 0, 0, DateTimeKind.Utc);
        for (var i = 0; i < sets; i++)
        {
            var id = $"{i:x8}-6c1e-4b5e-9a37-{i * 7919:x12}";
            var trace = $"00-{i * 104729:x32}-{i:x16}-01";
            var time = start.AddTicks(i * 400);
            var set = new CompressedAttributes();
            if (i == 0)
            {
                foreach (var (name, value) in FirstSetStrings)
                {
                    set.Strings[words.Of(name)] = words.Of(value);
                }

                foreach (var (name, value) in FirstSetInts)
                {
                    set.Int64S[words.Of(name)] = value;
                }

                set.Bools[words.Of("connection.mtls")] = false;
                set.Bytes[words.Of("source.ip")] = ByteString.CopyFrom(10, 44, 0, 12);
                set.Bytes[words.Of("destination.ip")] = ByteString.CopyFrom(10, 44, 1, 7);
                set.Bytes[words.Of("origin.ip")] = ByteString.CopyFrom(10, 44, 0, 12);
                set.StringMaps[words.Of("source.labels")] = Map(words, ("app", "productpage"), ("version", "v1"));
                set.StringMaps[words.Of("destination.labels")] = Map(words, ("app", "reviews"), ("version", "v2"));
            }

            set.Strings[words.Of("request.id")] = words.Of(id);
            set.Timestamps[words.Of("request.time")] = Timestamp.FromDateTime(time);
            set.Timestamps[words.Of("response.time")] = Timestamp.FromDateTime(time.AddTicks(3_170 + (i % 13)));
            set.Durations[words.Of("response.duration")] = Duration.FromTimeSpan(TimeSpan.FromTicks(3_170 + (i % 13)));
            set.StringMaps[words.Of("request.headers")] = Map(
                words,
                (":authority", "reviews:9080"),
                (":path", "/api/v1/reviews/0"),
                ("user-agent", "python-requests/2.31"),
                ("x-request-id", id),
                ("traceparent", trace));
            if (i == 0 || i % 50 == 0)
            {
                set.StringMaps[words.Of("response.headers")] = Map(
                    words,
                    ("content-type", "application/json"),
                    ("date", time.ToString("R", System.Globalization.CultureInfo.InvariantCulture)),
                    ("server", "istio-envoy"),
                    ("content-length", "23"),
                    ("x-envoy-upstream-service-time", "1"));
            }

            if (i % 3 == 0)
            {
                set.Int64S[words.Of("response.size")] = 23 + (i % 2);
            }

            request.Attributes.Add(set);
        }

        request.DefaultWords.AddRange(words.List);
        return request;
    }

    private static readonly (string, string)[] FirstSetStrings =
    [
        ("source.uid", "kubernetes://productpage-v1-6d8bc58dd7-2l8rk.default"),
        ("source.namespace", "default"),
        ("source.principal", "cluster.local/ns/default/sa/bookinfo-productpage"),
        ("source.name", "productpage-v1-6d8bc58dd7-2l8rk"),
        ("source.workload.name", "productpage-v1"),
        ("source.workload.namespace", "default"),
        ("source.workload.uid", "istio://default/workloads/productpage-v1"),
        ("source.owner", "kubernetes://apis/apps/v1/namespaces/default/deployments/productpage-v1"),
        ("destination.uid", "kubernetes://reviews-v2-7ff5966b99-krkvz.default"),
        ("destination.namespace", "default"),
        ("destination.principal", "cluster.local/ns/default/sa/bookinfo-reviews"),
        ("destination.name", "reviews-v2-7ff5966b99-krkvz"),
        ("destination.workload.name", "reviews-v2"),
        ("destination.workload.namespace", "default"),
        ("destination.workload.uid", "istio://default/workloads/reviews-v2"),
        ("destination.owner", "kubernetes://apis/apps/v1/namespaces/default/deployments/reviews-v2"),
        ("destination.service", "reviews.default.svc.cluster.local"),
        ("destination.service.host", "reviews.default.svc.cluster.local"),
        ("destination.service.name", "reviews"),
        ("destination.service.namespace", "default"),
        ("destination.service.uid", "istio://default/services/reviews"),
        ("request.path", "/api/v1/reviews/0"),
        ("request.host", "reviews:9080"),
        ("request.method", "GET"),
        ("request.scheme", "http"),
        ("request.useragent", "python-requests/2.31"),
        ("request.referer", "http://productpage:9080/productpage"),
        ("context.protocol", "http"),
        ("context.reporter.kind", "inbound"),
        ("context.reporter.uid", "kubernetes://reviews-v2-7ff5966b99-krkvz.default"),
        ("connection.id", "0HN8G3P1E5R4K"),
        ("api.protocol", "http"),
    ];

    private static readonly (string, long)[] FirstSetInts =
    [
        ("request.size", 0),
        ("request.total_size", 212),
        ("response.size", 23),
        ("response.total_size", 180),
        ("response.code", 200),
        ("source.port", 43170),
        ("destination.port", 9080),
    ];

    private static StringMap Map(Words words, params (string Key, string Value)[] entries)
    {
        var map = new StringMap();
        foreach (var (k, v) in entries)
        {
            map.Entries[words.Of(k)] = words.Of(v);
        }

        return map;
    }

    /// <summary>Global words by their index, the rest as default_words (-1 - position).</summary>
    private sealed class Words
    {
        private readonly Dictionary<string, int> _own = new(StringComparer.Ordinal);

        public List<string> List { get; } = [];

        public int Of(string word)
        {
            var global = GlobalDictionary.IndexOf(word);
            if (global >= 0)
            {
                return global;
            }

            if (!_own.TryGetValue(word, out var at))
            {
                at = List.Count;
                _own[word] = at;
                List.Add(word);
            }

            return -1 - at;
        }
    }
}
