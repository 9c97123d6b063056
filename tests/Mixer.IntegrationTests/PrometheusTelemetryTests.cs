using Istio.Mixer.V1;
using Mixer.Testing;

namespace Mixer.IntegrationTests;

/// <summary>
/// One mixs with a prometheus handler on its own port, scraped by a real Prometheus (the Debian
/// package) that the fixture starts with a generated config; the tests read the numbers back
/// with PromQL through Prometheus's HTTP API, as a dashboard would.
/// </summary>
public sealed class PrometheusFixture : IAsyncLifetime
{
    public const string Metrics = """
        apiVersion: config.istio.io/v1alpha2
        kind: metric
        metadata: {name: requestcount, namespace: istio-system}
        spec:
          value: "1"
          dimensions:
            destination_service: destination.service.host | "unknown"
            response_code: response.code | 200
            test_run: request.headers["x-test-run"] | "none"
          monitored_resource_type: '"UNSPECIFIED"'
        ---
        apiVersion: config.istio.io/v1alpha2
        kind: metric
        metadata: {name: requestduration, namespace: istio-system}
        spec:
          value: response.duration | "0ms"
          dimensions:
            destination_service: destination.service.host | "unknown"
            test_run: request.headers["x-test-run"] | "none"
        ---
        apiVersion: config.istio.io/v1alpha2
        kind: metric
        metadata: {name: requestsize, namespace: istio-system}
        spec:
          value: request.size | 0
          dimensions:
            test_run: request.headers["x-test-run"] | "none"
        ---
        apiVersion: config.istio.io/v1alpha2
        kind: metric
        metadata: {name: lastresponsesize, namespace: istio-system}
        spec:
          value: response.size | 0
          dimensions:
            test_run: request.headers["x-test-run"] | "none"
        ---
        apiVersion: config.istio.io/v1alpha2
        kind: prometheus
        metadata: {name: handler, namespace: istio-system}
        spec:
          metrics:
          - name: requests_total
            instance_name: requestcount.metric.istio-system
            kind: COUNTER
            label_names: [destination_service, response_code, test_run]
          - name: request_duration_seconds
            instance_name: requestduration.metric.istio-system
            kind: DISTRIBUTION
            label_names: [destination_service, test_run]
            buckets: {explicit_buckets: {bounds: [0.01, 0.1, 1]}}
          - name: request_bytes
            instance_name: requestsize.metric.istio-system
            kind: DISTRIBUTION
            label_names: [test_run]
            buckets: {linearBuckets: {numFiniteBuckets: 3, width: 100, offset: 100}}
          - name: last_response_bytes
            namespace: mesh
            instance_name: lastresponsesize.metric.istio-system
            kind: GAUGE
            label_names: [test_run]
        ---
        apiVersion: config.istio.io/v1alpha2
        kind: rule
        metadata: {name: promhttp, namespace: istio-system}
        spec:
          match: context.protocol == "http" || context.protocol == "grpc"
          actions:
          - handler: handler.prometheus
            instances: [requestcount.metric, requestduration.metric, requestsize.metric, lastresponsesize.metric]
        """;

    public ConfigDir Config { get; } = new ConfigDir().WithDefaultAttributes();

    public MixsProcess Mixs { get; private set; } = null!;

    public PrometheusServer Prometheus { get; private set; } = null!;

    public int AdapterPort { get; private set; }

    public async Task InitializeAsync()
    {
        Config.Write("metrics.yaml", Metrics);
        AdapterPort = LoopbackPort.Free();
        Mixs = await MixsProcess.StartAsync(Config.Path, "--prometheusAdapterPort", AdapterPort.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Prometheus = await PrometheusServer.StartAsync([$"127.0.0.1:{AdapterPort}"]);
    }

    public async Task DisposeAsync()
    {
        await Prometheus.DisposeAsync();
        await Mixs.DisposeAsync();
        Config.Dispose();
    }
}

public sealed class PrometheusTelemetryTests(PrometheusFixture fixture) : IClassFixture<PrometheusFixture>
{
    private static CompressedAttributes Request(string run, string service, long code, TimeSpan duration, long size = 0, string protocol = "http") =>
        new TestAttributes()
            .String("context.protocol", protocol)
            .String("destination.service.host", service)
            .Int64("response.code", code)
            .Duration("response.duration", duration)
            .Int64("request.size", size)
            .Int64("response.size", size * 2)
            .Map("request.headers", ("x-test-run", run))
            .Build();

    private static ReportRequest Report(IEnumerable<CompressedAttributes> sets)
    {
        var request = new ReportRequest();
        request.Attributes.AddRange(sets);
        return request;
    }

    private static double Sum(IReadOnlyList<(IReadOnlyDictionary<string, string> Labels, double Value)> r) => r.Sum(x => x.Value);

    [Fact]
    public async Task Reports_ScrapedByPrometheus_GiveTheExpectedSumsLabelSetsAndHistogramCounts()
    {
        var run = Guid.NewGuid().ToString("N");
        var sets = new List<CompressedAttributes>();
        sets.AddRange(Enumerable.Range(0, 7).Select(_ => Request(run, "reviews", 200, TimeSpan.FromMilliseconds(5), size: 50)));
        sets.AddRange(Enumerable.Range(0, 3).Select(_ => Request(run, "reviews", 503, TimeSpan.FromMilliseconds(50), size: 150)));
        sets.AddRange(Enumerable.Range(0, 2).Select(_ => Request(run, "ratings", 200, TimeSpan.FromMilliseconds(500), size: 350)));
        sets.Add(Request(run, "tcp-only", 200, TimeSpan.Zero, protocol: "tcp"));

        await fixture.Mixs.Client.ReportAsync(Report(sets));

        var byLabels = await fixture.Prometheus.WaitForAsync(
            $"sum by (destination_service, response_code) (istio_requests_total{{test_run=\"{run}\"}})", r => Sum(r) == 12);
        byLabels.Select(x => $"{x.Labels["destination_service"]}/{x.Labels["response_code"]}={x.Value}").Order(StringComparer.Ordinal)
            .ShouldBe(["ratings/200=2", "reviews/200=7", "reviews/503=3"]);

        var buckets = await fixture.Prometheus.QueryAsync($"sum by (le) (istio_request_duration_seconds_bucket{{test_run=\"{run}\"}})");
        buckets.ToDictionary(b => b.Labels["le"], b => b.Value).ShouldBe(new Dictionary<string, double> { ["0.01"] = 7, ["0.1"] = 10, ["1"] = 12, ["+Inf"] = 12 }, ignoreOrder: true);
        Sum(await fixture.Prometheus.QueryAsync($"sum(istio_request_duration_seconds_count{{test_run=\"{run}\"}})")).ShouldBe(12);
        Sum(await fixture.Prometheus.QueryAsync($"sum(istio_request_duration_seconds_sum{{test_run=\"{run}\"}})")).ShouldBe((7 * 0.005) + (3 * 0.05) + (2 * 0.5), 1e-9);

        // Linear buckets: offset 100, width 100, 3 finite buckets -> le 100, 200, 300, 400.
        var sizes = await fixture.Prometheus.QueryAsync($"istio_request_bytes_bucket{{test_run=\"{run}\"}}");
        sizes.ToDictionary(b => b.Labels["le"], b => b.Value).ShouldBe(new Dictionary<string, double> { ["100"] = 7, ["200"] = 10, ["300"] = 10, ["400"] = 12, ["+Inf"] = 12 }, ignoreOrder: true);

        // A gauge keeps the last value; a namespace replaces the istio_ prefix.
        Sum(await fixture.Prometheus.QueryAsync($"mesh_last_response_bytes{{test_run=\"{run}\"}}")).ShouldBe(700);
    }

    [Fact]
    public async Task Reports_100000AttributeSetsUnderConcurrentLoad_AreCountedExactly()
    {
        var run = Guid.NewGuid().ToString("N");
        var report = Report(Enumerable.Range(0, 100).Select(i => Request(run, "exact", i % 10 == 0 ? 503 : 200, TimeSpan.FromMilliseconds(i % 7))));
        var next = -1;
        var workers = Enumerable.Range(0, 8).Select(async _ =>
        {
            while (Interlocked.Increment(ref next) < 1000)
            {
                await fixture.Mixs.Client.ReportAsync(report);
            }
        });
        await Task.WhenAll(workers);

        var total = await fixture.Prometheus.WaitForAsync($"sum(istio_requests_total{{test_run=\"{run}\"}})", r => Sum(r) >= 100_000);
        Sum(total).ShouldBe(100_000);
        Sum(await fixture.Prometheus.QueryAsync($"sum(istio_requests_total{{test_run=\"{run}\",response_code=\"503\"}})")).ShouldBe(10_000);
        Sum(await fixture.Prometheus.QueryAsync($"sum(istio_request_duration_seconds_count{{test_run=\"{run}\"}})")).ShouldBe(100_000);
    }

    [Fact]
    public async Task AdapterEndpoint_IsItsOwn_NotMixsMonitoringRegistry()
    {
        using var http = new HttpClient();
        var adapter = await http.GetStringAsync(new Uri($"http://127.0.0.1:{fixture.AdapterPort}/metrics"));
        var monitoring = await http.GetStringAsync(new Uri(fixture.Mixs.MonitoringUrl + "/metrics"));

        adapter.ShouldContain("# TYPE istio_requests_total counter");
        adapter.ShouldNotContain("grpc_server_handled_total");
        monitoring.ShouldContain("grpc_server_handled_total");
        monitoring.ShouldNotContain("istio_requests_total");
    }
}

/// <summary>The default config (mixer/config: Istio 1.0's Helm telemetry, unchanged) served by mixs.</summary>
public sealed class DefaultTelemetryConfigTests
{
    [Fact]
    public async Task DefaultConfig_HttpAndTcpReports_AreExportedAsIstiosStandardMetrics()
    {
        var port = LoopbackPort.Free();
        await using var mixs = await MixsProcess.StartAsync(ConfigDir.RepositoryFile("mixer/config"), "--prometheusAdapterPort", port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        mixs.Output.ShouldContain(", 0 errors", customMessage: mixs.Output);

        var report = new ReportRequest();
        report.Attributes.Add(new TestAttributes()
            .String("context.protocol", "http")
            .String("context.reporter.kind", "inbound")
            .String("destination.service.host", "reviews.default.svc.cluster.local")
            .String("source.workload.name", "productpage-v1")
            .Map("source.labels", ("app", "productpage"), ("version", "v1"))
            .Bool("connection.mtls", true)
            .Int64("response.code", 200)
            .Int64("request.size", 512)
            .Duration("response.duration", TimeSpan.FromMilliseconds(30))
            .Build());
        report.Attributes.Add(new TestAttributes()
            .String("context.protocol", "tcp")
            .String("destination.service.name", "mongodb")
            .Int64("connection.sent.bytes", 1234)
            .Int64("connection.received.bytes", 99)
            .Build());
        await mixs.Client.ReportAsync(report);

        using var http = new HttpClient();
        var text = await http.GetStringAsync(new Uri($"http://127.0.0.1:{port}/metrics"));
        text.ShouldContain("istio_requests_total{reporter=\"destination\",source_app=\"productpage\",source_principal=\"unknown\",source_workload=\"productpage-v1\","
            + "source_workload_namespace=\"unknown\",source_version=\"v1\",destination_app=\"unknown\",destination_principal=\"unknown\",destination_workload=\"unknown\","
            + "destination_workload_namespace=\"unknown\",destination_version=\"unknown\",destination_service=\"reviews.default.svc.cluster.local\","
            + "destination_service_name=\"unknown\",destination_service_namespace=\"unknown\",request_protocol=\"http\",response_code=\"200\","
            + "connection_security_policy=\"mutual_tls\"} 1");
        text.ShouldMatch("istio_request_duration_seconds_bucket\\{[^}]*le=\"0.05\"\\} 1");
        text.ShouldMatch("istio_request_bytes_bucket\\{[^}]*le=\"1000\"\\} 1");
        text.ShouldMatch("istio_tcp_sent_bytes_total\\{[^}]*destination_service=\"mongodb\"[^}]*\\} 1234");
        text.ShouldMatch("istio_tcp_received_bytes_total\\{[^}]*\\} 99");
    }

    [Fact]
    public async Task AdapterPortTaken_IsAConfigErrorNamingIt_AndMixsKeepsServing()
    {
        using var squatter = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        squatter.Start();
        var port = ((System.Net.IPEndPoint)squatter.LocalEndpoint).Port;

        await using var mixs = await MixsProcess.StartAsync(ConfigDir.RepositoryFile("mixer/config"), "--prometheusAdapterPort", port.ToString(System.Globalization.CultureInfo.InvariantCulture));

        await mixs.WaitForOutputAsync($"the prometheus adapter could not build this handler: cannot serve /metrics on 127.0.0.1:{port}");
        (await mixs.Client.CheckAsync(new TestAttributes().String("destination.service.host", "reviews").Check())).Precondition.Status.Code.ShouldBe(0);
        await mixs.Client.ReportAsync(new ReportRequest { Attributes = { new TestAttributes().String("context.protocol", "http").Build() } });
    }
}
