using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Mixer.Testing;

namespace Mixer.Proxy.Tests;

/// <summary>
/// client -> mixer-proxy -> the echo backend, with the real mixs on loopback enforcing Istio 1.0
/// denier, listchecker and memquota config, and a stdio handler writing every report to a file.
/// Each listener names its own destination service, so each test has its own rules and cache.
/// </summary>
public sealed class SidecarFixture : IAsyncLifetime
{
    private const string ReportLog = """
        apiVersion: config.istio.io/v1alpha2
        kind: stdio
        metadata:
          name: tofile
          namespace: istio-system
        spec:
          logStream: FILE
          outputPath: "{PATH}"
          outputAsJson: true
        ---
        apiVersion: config.istio.io/v1alpha2
        kind: logentry
        metadata:
          name: proxylog
          namespace: istio-system
        spec:
          severity: '"Info"'
          timestamp: request.time | context.time | timestamp("2017-01-01T00:00:00Z")
          monitored_resource_type: '"UNSPECIFIED"'
          variables:
            service: destination.service | ""
            path: request.path | ""
            code: response.code | 0
            event: connection.event | ""
            received: connection.received.bytes_total | 0
            sent: connection.sent.bytes_total | 0
            receivedDelta: connection.received.bytes | 0
            size: request.size | 0
            responseSize: response.size | 0
            reporter: context.reporter.kind | ""
            cachehit: request.headers["x-test"] | ""
        ---
        apiVersion: config.istio.io/v1alpha2
        kind: rule
        metadata:
          name: proxylog
          namespace: istio-system
        spec:
          match: destination.service == "report.svc" || destination.service == "tcp.svc" || destination.service == "tcpcontinue.svc"
          actions:
          - handler: tofile.stdio
            instances: [proxylog.logentry]
        """;

    public ConfigDir Config { get; } = new ConfigDir().WithDefaultAttributes();

    public MixsProcess Mixs { get; private set; } = null!;

    public EchoBackend Backend { get; private set; } = null!;

    public TcpEcho TcpBackend { get; } = new();

    internal RunningProxy Proxy { get; private set; } = null!;

    public string ReportFile => Path.Combine(Config.Path, "reports.log");

    public HttpClient Http { get; } = new() { Timeout = TimeSpan.FromSeconds(20) };

    public string Url(string listener, string path = "/") => $"http://{Proxy.Endpoint(listener)}{path}";

    public async Task InitializeAsync()
    {
        Config.Write("denier.yaml", PolicyConfig.Denier)
            .Write("lists.yaml", PolicyConfig.Lists)
            .Write("quota.yaml", PolicyConfig.Quota)
            .Write("headers.yaml", PolicyConfig.Headers)
            .Write("reportlog.yaml", ReportLog.Replace("{PATH}", ReportFile, StringComparison.Ordinal));
        var mixs = MixsProcess.StartAsync(Config.Path);
        Backend = await EchoBackend.StartAsync();
        Mixs = await mixs;
        var app = Backend.Address;
        var yaml = $$"""
            mixer: {{Mixs.GrpcAddress}}
            policy: FAIL_OPEN
            admin: 127.0.0.1:0
            # A loaded 2-core machine can take over a second for mixs's first calls: do not fail open in tests.
            checkTimeoutMs: 10000
            workload:
              name: productpage-v1
              namespace: default
              service: productpage.default.svc.cluster.local
              labels: {app: productpage, version: v1}
            reportBatch: {maxEntries: 1000, maxDelayMs: 300}
            # A connection that stays open is reported every 200 ms here (Istio's report_interval, 10 s by default).
            tcpReportIntervalMs: 200
            listeners:
            - {name: denied, listen: "127.0.0.1:0", upstream: "{{app}}", service: denied.svc}
            - {name: cache, listen: "127.0.0.1:0", upstream: "{{app}}", service: cache.svc}
            - {name: whitelist-in, listen: "127.0.0.1:0", upstream: "{{app}}", service: whitelist.svc}
            - {name: whitelist-out, direction: outbound, listen: "127.0.0.1:0", upstream: "{{app}}", service: whitelist.svc}
            - {name: quota, listen: "127.0.0.1:0", upstream: "{{app}}", service: quota.svc}
            - {name: headers, listen: "127.0.0.1:0", upstream: "{{app}}", service: headers.svc}
            - {name: report, listen: "127.0.0.1:0", upstream: "{{app}}", service: report.svc}
            - {name: tcp, protocol: tcp, listen: "127.0.0.1:0", upstream: "{{TcpBackend.Address}}", service: tcp.svc}
            - {name: tcp-continue, protocol: tcp, listen: "127.0.0.1:0", upstream: "{{TcpBackend.Address}}", service: tcpcontinue.svc}
            quotaSpecs:
            - name: request-count
              rules:
              - match:
                - clause:
                    request.path: {prefix: /api}
                quotas:
                - {quota: requestcount, charge: 1}
            quotaSpecBindings:
            - quotaSpecs: [{name: request-count}]
              services: [{service: quota.svc}]
            """;
        Proxy = await ProxyHost.StartAsync(ProxyConfig.FromYaml(yaml));
    }

    public async Task DisposeAsync()
    {
        Http.Dispose();
        await Proxy.DisposeAsync();
        await Backend.DisposeAsync();
        TcpBackend.Dispose();
        await Mixs.DisposeAsync();
        Config.Dispose();
    }
}

/// <summary>What a client of the sidecar sees, and what reaches Mixer.</summary>
public sealed class SidecarTests(SidecarFixture fixture) : IClassFixture<SidecarFixture>
{
    private HttpClient Http => fixture.Http;

    private async Task<HttpResponseMessage> GetAsync(string listener, string path = "/", params (string Name, string Value)[] headers)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, fixture.Url(listener, path));
        foreach (var (n, v) in headers)
        {
            request.Headers.TryAddWithoutValidation(n, v);
        }

        return await Http.SendAsync(request);
    }

    private static async Task<Echo> EchoOf(HttpResponseMessage response) =>
        JsonSerializer.Deserialize<Echo>(await response.Content.ReadAsStringAsync())!;

    [Fact]
    public async Task Request_DeniedByDenierRule_Gets403WithIstiosStatusBody()
    {
        using var response = await GetAsync("denied", "/", ("clnt", "abc"));

        response.StatusCode.ShouldBe(HttpStatusCode.Forbidden);
        (await response.Content.ReadAsStringAsync()).ShouldBe("PERMISSION_DENIED:denyall.denier.istio-system:Not allowed");
        response.Headers.Contains("x-backend").ShouldBeFalse();
    }

    [Fact]
    public async Task Request_NotMatchingDenierRule_ReachesTheBackend()
    {
        using var response = await GetAsync("denied", "/hello?x=1", ("clnt", "xyz"));

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        var echo = await EchoOf(response);
        echo.Path.ShouldBe("/hello?x=1");
        echo.Headers.ShouldContainKey("x-request-id");
    }

    [Fact]
    public async Task RepeatedIdenticalRequest_IsAnsweredFromTheCheckCache_MixsSeesNoSecondCheck()
    {
        using (var warm = await GetAsync("cache", "/one"))
        {
            warm.StatusCode.ShouldBe(HttpStatusCode.OK);
        }

        var before = await ScrapedMetrics.MixsChecksAsync(fixture.Mixs.MonitoringUrl);
        for (var i = 0; i < 5; i++)
        {
            using var again = await GetAsync("cache", "/one");
            again.StatusCode.ShouldBe(HttpStatusCode.OK);
        }

        (await ScrapedMetrics.MixsChecksAsync(fixture.Mixs.MonitoringUrl)).ShouldBe(before);
    }

    [Fact]
    public async Task CachedAllow_RequestDifferingInAReferencedHeaderValue_IsCheckedAgainAndDenied()
    {
        // The denier rule reads request.headers["clnt"]: an allowed answer for "xyz" must not serve "abc"
        // (Istio 1.0.6's server-side cache did exactly that).
        using (var allowed = await GetAsync("denied", "/", ("clnt", "xyz")))
        {
            allowed.StatusCode.ShouldBe(HttpStatusCode.OK);
        }

        using var denied = await GetAsync("denied", "/", ("clnt", "abc"));

        denied.StatusCode.ShouldBe(HttpStatusCode.Forbidden);
    }

    [Fact]
    public async Task InboundRequest_SourceVersionNotWhitelisted_Gets404FromTheListchecker()
    {
        using var response = await GetAsync("whitelist-in");

        response.StatusCode.ShouldBe(HttpStatusCode.NotFound);
        (await response.Content.ReadAsStringAsync()).ShouldStartWith("NOT_FOUND:versions.listchecker.istio-system:");
    }

    [Fact]
    public async Task OutboundRequest_FromAWhitelistedVersion_IsAllowed()
    {
        // Outbound, the workload (labels version=v1) is the source the listchecker looks at.
        using var response = await GetAsync("whitelist-out");

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
    }

    [Fact]
    public async Task Requests_BeyondTheMemquotaLimit_Get429_AndMostAreDecidedWithoutMixs()
    {
        // memquota: 3 per 2 s for quota.svc; the QuotaSpec charges 1 per request under /api.
        var before = await ScrapedMetrics.MixsChecksAsync(fixture.Mixs.MonitoringUrl);
        var codes = new List<int>();
        string? body = null;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        for (var i = 0; i < 8; i++)
        {
            using var response = await GetAsync("quota", "/api/items");
            codes.Add((int)response.StatusCode);
            if (response.StatusCode == HttpStatusCode.TooManyRequests)
            {
                body = await response.Content.ReadAsStringAsync();
            }
        }

        if (clock.Elapsed < TimeSpan.FromSeconds(1.5))
        {
            codes.ShouldBe([200, 200, 200, 429, 429, 429, 429, 429]);
        }
        else
        {
            // A very slow machine: the 2 s window may have moved on during the loop.
            codes.Take(3).ShouldAllBe(c => c == 200);
            codes.Skip(3).Count(c => c == 200).ShouldBeLessThanOrEqualTo(3);
            codes.ShouldContain(429);
        }

        body.ShouldBe("RESOURCE_EXHAUSTED:Quota is exhausted for: requestcount");
        (await ScrapedMetrics.MixsChecksAsync(fixture.Mixs.MonitoringUrl) - before).ShouldBeLessThan(6);

        // A path the QuotaSpec does not match charges nothing.
        using var free = await GetAsync("quota", "/health");
        free.StatusCode.ShouldBe(HttpStatusCode.OK);
    }

    [Fact]
    public async Task RouteDirective_HeaderOperationsFromMixer_AreAppliedToRequestAndResponse()
    {
        using var response = await GetAsync("headers", "/", ("user", "alice"), ("x-internal", "secret"));

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        var echo = await EchoOf(response);
        echo.Headers.GetValueOrDefault("x-user").ShouldBe("alice", customMessage: string.Join(", ", echo.Headers));
        echo.Headers.ShouldNotContainKey("x-internal");
        response.Headers.GetValues("x-served-by").ShouldContain("mixer");
    }

    [Fact]
    public async Task Reports_OfManyRequests_ArriveAtMixsBatched_WithTheirAttributes()
    {
        // Let what earlier tests queued go out first, so the count below is this test's alone.
        await fixture.Proxy.Mixer!.Reports.WhenIdleAsync().WaitAsync(TimeSpan.FromSeconds(10));
        var before = await ScrapedMetrics.MixsReportsAsync(fixture.Mixs.MonitoringUrl);
        for (var i = 0; i < 10; i++)
        {
            using var response = await GetAsync("report", $"/r/{i}");
            response.StatusCode.ShouldBe(HttpStatusCode.OK);
        }

        await fixture.Proxy.Mixer!.Reports.WhenIdleAsync().WaitAsync(TimeSpan.FromSeconds(10));
        var lines = await WaitForLinesAsync(l => l.Contains("\"service\":\"report.svc\"", StringComparison.Ordinal), 10);

        (await ScrapedMetrics.MixsReportsAsync(fixture.Mixs.MonitoringUrl) - before).ShouldBeLessThanOrEqualTo(2);
        for (var i = 0; i < 10; i++)
        {
            lines.ShouldContain(l => l.Contains($"\"path\":\"/r/{i}\"", StringComparison.Ordinal) && l.Contains("\"code\":200", StringComparison.Ordinal));
        }

        lines.ShouldAllBe(l => l.Contains("\"reporter\":\"inbound\"", StringComparison.Ordinal));
    }

    [Fact]
    public async Task TcpConnection_PassesBytesThrough_AndIsReportedOpenAndClosedWithByteCounts()
    {
        var address = fixture.Proxy.Endpoint("tcp");
        using (var client = new TcpClient())
        {
            await client.ConnectAsync(address.Address, address.Port);
            var stream = client.GetStream();
            var payload = "hello through the sidecar"u8.ToArray();
            await stream.WriteAsync(payload);
            var back = new byte[payload.Length];
            await stream.ReadExactlyAsync(back).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
            back.ShouldBe(payload);
        }

        var lines = await WaitForLinesAsync(l => l.Contains("\"service\":\"tcp.svc\"", StringComparison.Ordinal) && l.Contains("\"event\":\"close\"", StringComparison.Ordinal), 1);
        fixture.Proxy.Mixer!.Reports.SentSets.ShouldBeGreaterThan(0);
        lines.ShouldContain(l => l.Contains("\"received\":25", StringComparison.Ordinal) && l.Contains("\"sent\":25", StringComparison.Ordinal));
        (await ReportLinesAsync()).ShouldContain(l => l.Contains("\"service\":\"tcp.svc\"", StringComparison.Ordinal) && l.Contains("\"event\":\"open\"", StringComparison.Ordinal));
    }

    [Fact]
    public async Task TcpConnection_StayingOpen_IsReportedContinueWithTheBytesSoFar_AndEveryByteIsCountedOnce()
    {
        static bool Ours(string l) => l.Contains("\"service\":\"tcpcontinue.svc\"", StringComparison.Ordinal);
        var address = fixture.Proxy.Endpoint("tcp-continue");
        using (var client = new TcpClient())
        {
            await client.ConnectAsync(address.Address, address.Port);
            var stream = client.GetStream();
            await EchoAsync(stream, new byte[10]);

            // While the connection lives: a continue report carrying the 10 bytes received so far.
            var continued = await WaitForLinesAsync(l => Ours(l) && Text(l, "event") == "continue" && Number(l, "received") == 10, 1);
            continued.ShouldAllBe(l => Number(l, "sent") == 10);
            await EchoAsync(stream, new byte[5]);
        }

        var closed = (await WaitForLinesAsync(l => Ours(l) && Text(l, "event") == "close", 1)).ShouldHaveSingleItem();
        Number(closed, "received").ShouldBe(15);
        Number(closed, "sent").ShouldBe(15);

        // connection.received.bytes is the bytes since the report before: over open, continues and close they add up to the total.
        var lines = (await ReportLinesAsync()).Where(Ours).ToList();
        lines.ShouldContain(l => Text(l, "event") == "open");
        lines.Sum(l => Number(l, "receivedDelta")).ShouldBe(15);
    }

    [Fact]
    public async Task Reports_OfARequestAfterOneWithMoreHeaders_CarryOnlyItsOwnHeaders()
    {
        // The sidecar refills the attribute sets the batcher hands back: the second request gets the
        // first one's set, and must not report the header only the first one had.
        using (var first = await GetAsync("report", "/reuse/1", ("x-test", "first-only")))
        {
            first.StatusCode.ShouldBe(HttpStatusCode.OK);
        }

        await fixture.Proxy.Mixer!.Reports.WhenIdleAsync().WaitAsync(TimeSpan.FromSeconds(10));
        using (var second = await GetAsync("report", "/reuse/2"))
        {
            second.StatusCode.ShouldBe(HttpStatusCode.OK);
        }

        await fixture.Proxy.Mixer!.Reports.WhenIdleAsync().WaitAsync(TimeSpan.FromSeconds(10));
        var one = (await WaitForLinesAsync(l => l.Contains("\"path\":\"/reuse/1\"", StringComparison.Ordinal), 1)).ShouldHaveSingleItem();
        var two = (await WaitForLinesAsync(l => l.Contains("\"path\":\"/reuse/2\"", StringComparison.Ordinal), 1)).ShouldHaveSingleItem();
        one.ShouldContain("\"cachehit\":\"first-only\"");
        two.ShouldNotContain("first-only");
        two.ShouldContain("\"code\":200");
    }

    [Theory]
    [InlineData("/chunked-answer")]
    [InlineData("/sized/answer")]
    public async Task ResponseSize_ChunkedOrOfDeclaredLength_IsReportedAsTheBodyBytesSent(string path)
    {
        using var response = await GetAsync("report", path);

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        var sent = (await response.Content.ReadAsByteArrayAsync()).Length;
        (response.Headers.TransferEncodingChunked == true).ShouldBe(path.StartsWith("/chunked", StringComparison.Ordinal));
        var line = (await WaitForLinesAsync(l => l.Contains($"\"path\":\"{path}\"", StringComparison.Ordinal), 1)).ShouldHaveSingleItem();
        Number(line, "responseSize").ShouldBe(sent);
    }

    [Fact]
    public async Task ChunkedRequestBody_IsReportedWithTheBytesForwarded()
    {
        var body = new byte[12_345];
        using var content = new StreamContent(new MemoryStream(body));
        using var request = new HttpRequestMessage(HttpMethod.Post, fixture.Url("report", "/chunked")) { Content = content };
        request.Headers.TransferEncodingChunked = true;

        using var response = await Http.SendAsync(request);

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        JsonSerializer.Deserialize<Echo>(await response.Content.ReadAsStringAsync())!.BodyBytes.ShouldBe(12_345);
        var line = (await WaitForLinesAsync(l => l.Contains("\"path\":\"/chunked\"", StringComparison.Ordinal), 1)).ShouldHaveSingleItem();
        Number(line, "size").ShouldBe(12_345);
    }

    [Fact]
    public async Task CheckOff_RequestTheDenierWouldRefuse_IsForwarded()
    {
        var config = ProxyConfig.FromArgs(["--mixer", fixture.Mixs.GrpcAddress, "--check", "false", "--inbound", $"127.0.0.1:0={fixture.Backend.Address}@denied.svc"]);
        await using var proxy = await ProxyHost.StartAsync(config);
        using var request = new HttpRequestMessage(HttpMethod.Get, $"http://{proxy.Endpoint(config.Listeners[0].Name)}/");
        request.Headers.Add("clnt", "abc");

        using var response = await Http.SendAsync(request);

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        response.Headers.GetValues("x-backend").ShouldBe(["yes"]);
    }

    [Fact]
    public async Task AdminMetrics_CountCheckCacheHitsAndReports()
    {
        using (var r = await GetAsync("cache", "/metrics-test"))
        {
            r.StatusCode.ShouldBe(HttpStatusCode.OK);
        }

        var hits = await ScrapedMetrics.ReadAsync(fixture.Proxy.AdminUrl!, "mixer_proxy_check_cache_hits_total");
        using (var r = await GetAsync("cache", "/metrics-test"))
        {
            r.StatusCode.ShouldBe(HttpStatusCode.OK);
        }

        (await ScrapedMetrics.ReadAsync(fixture.Proxy.AdminUrl!, "mixer_proxy_check_cache_hits_total")).ShouldBe(hits + 1);
        (await ScrapedMetrics.ReadAsync(fixture.Proxy.AdminUrl!, "mixer_proxy_report_sets_dropped_total")).ShouldBe(0);

        // The runtime's own figures sit beside the sidecar's: allocation grows with the requests served.
        (await ScrapedMetrics.ReadAsync(fixture.Proxy.AdminUrl!, "mixer_proxy_allocated_bytes_total")).ShouldBeGreaterThan(0);
        var text = await fixture.Http.GetStringAsync(fixture.Proxy.AdminUrl + "/metrics");
        text.ShouldMatch(@"(?m)^mixer_proxy_gc_collections_total\{generation=""0""\} \d+$");
        text.ShouldMatch(@"(?m)^mixer_proxy_gc_collections_total\{generation=""2""\} \d+$");
        text.ShouldMatch(@"(?m)^mixer_proxy_gc_pause_seconds_total \d+(\.\d+)?$");
    }

    private static long Number(string line, string field)
    {
        using var json = JsonDocument.Parse(line);
        return json.RootElement.GetProperty(field).GetInt64();
    }

    private static string? Text(string line, string field)
    {
        using var json = JsonDocument.Parse(line);
        return json.RootElement.TryGetProperty(field, out var v) ? v.GetString() : null;
    }

    private static async Task EchoAsync(NetworkStream stream, byte[] payload)
    {
        await stream.WriteAsync(payload);
        var back = new byte[payload.Length];
        await stream.ReadExactlyAsync(back).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
    }

    private async Task<string[]> ReportLinesAsync() =>
        File.Exists(fixture.ReportFile) ? await File.ReadAllLinesAsync(fixture.ReportFile) : [];

    private async Task<List<string>> WaitForLinesAsync(Func<string, bool> match, int count)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        List<string> lines;
        do
        {
            lines = [.. (await ReportLinesAsync()).Where(match)];
            if (lines.Count >= count)
            {
                return lines;
            }

            await Task.Delay(100);
        }
        while (DateTime.UtcNow < deadline);

        throw new ShouldAssertException($"expected {count} report lines, found {lines.Count}:\n{string.Join('\n', await ReportLinesAsync())}\nmixs:\n{fixture.Mixs.Output}");
    }
}
