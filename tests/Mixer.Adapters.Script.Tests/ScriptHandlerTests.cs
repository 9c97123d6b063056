using Mixer.Adapters.Tests;
using Mixer.Sdk;
using Mixer.Sdk.Adapters;
using Mixer.Sdk.Templates;

namespace Mixer.Adapters.Script.Tests;

/// <summary>Check and report scripts over typed instances: what an operator's script sees and what the caller gets back.</summary>
public sealed class ScriptHandlerTests
{
    private readonly ScriptAdapter _adapter = new();

    [Fact]
    public async Task ListEntryScript_DeniesAndAllows_OnTheTypedValue()
    {
        var h = await Scripts.HandlerAsync(_adapter, [("listentry", """
            if (instance.Value.StartsWith("bad", StringComparison.Ordinal))
            {
                return Deny($"{instance.Value} is blocked");
            }

            return Ok();
            """)]);

        var denied = await h.HandleListEntryAsync(new ListEntryInstance { Name = "e.listentry.istio-system", Value = "bad-actor" }, default);
        var allowed = await h.HandleListEntryAsync(new ListEntryInstance { Name = "e.listentry.istio-system", Value = "friend" }, default);

        denied.StatusCode.ShouldBe(StatusCodes.PermissionDenied);
        denied.Message.ShouldBe("bad-actor is blocked");
        allowed.IsOk.ShouldBeTrue();
        allowed.ValidDuration.ShouldBe(TimeSpan.FromSeconds(5));
        allowed.ValidUseCount.ShouldBe(1000);
    }

    [Fact]
    public async Task ExpressionScript_IsTheResult_AndParamsSetTheValidity()
    {
        var h = await Scripts.HandlerAsync(_adapter, [
            ("checknothing", """instance.Name.EndsWith(".istio-system") ? Ok() : Deny(StatusCodes.Unauthenticated, "outside")"""),
            ("validDuration", "30s"),
            ("validUseCount", 7)]);

        var ok = await h.HandleCheckNothingAsync(new CheckNothingInstance { Name = "a.checknothing.istio-system" }, default);
        var no = await h.HandleCheckNothingAsync(new CheckNothingInstance { Name = "a.checknothing.default" }, default);

        ok.IsOk.ShouldBeTrue();
        ok.ValidDuration.ShouldBe(TimeSpan.FromSeconds(30));
        ok.ValidUseCount.ShouldBe(7);
        no.StatusCode.ShouldBe(StatusCodes.Unauthenticated);
        no.Message.ShouldBe("outside");
    }

    [Fact]
    public async Task AuthorizationAndApiKeyScripts_SeeTheirTypedFields_InOneHandler()
    {
        var h = await Scripts.HandlerAsync(_adapter, [
            ("authorization", """
                var admins = new HashSet<string> { "alice" };
                return instance.Action.Method == "GET" || admins.Contains(instance.Subject.User)
                    ? Ok()
                    : Deny($"{instance.Subject.User} may not {instance.Action.Method} {instance.Action.Path}");
                """),
            ("apikey", """instance.ApiKey.Length == 32 && instance.ApiKey.All(char.IsAsciiHexDigit) ? Ok() : Deny(StatusCodes.Unauthenticated, "bad key for " + instance.Api)""")]);

        AuthorizationInstance Auth(string user, string method) => new()
        {
            Name = "a.authorization.istio-system",
            Subject = new AuthorizationSubject { User = user },
            Action = new AuthorizationAction { Method = method, Path = "/reviews" },
        };

        (await h.HandleAuthorizationAsync(Auth("bob", "GET"), default)).IsOk.ShouldBeTrue();
        (await h.HandleAuthorizationAsync(Auth("alice", "DELETE"), default)).IsOk.ShouldBeTrue();
        var bob = await h.HandleAuthorizationAsync(Auth("bob", "DELETE"), default);
        bob.StatusCode.ShouldBe(StatusCodes.PermissionDenied);
        bob.Message.ShouldBe("bob may not DELETE /reviews");

        (await h.HandleApiKeyAsync(new ApiKeyInstance { Name = "k", Api = "pets", ApiKey = new string('a', 32) }, default)).IsOk.ShouldBeTrue();
        var bad = await h.HandleApiKeyAsync(new ApiKeyInstance { Name = "k", Api = "pets", ApiKey = "nope" }, default);
        bad.StatusCode.ShouldBe(StatusCodes.Unauthenticated);
        bad.Message.ShouldBe("bad key for pets");
    }

    [Fact]
    public async Task MetricScript_CountsIntoDeclaredCounters_AndLogs()
    {
        var metrics = new RecordingMetrics();
        var logger = new RecordingLogger();
        var h = await Scripts.HandlerAsync(
            _adapter,
            [
                ("counters", new object[] { new { name = "mixer_script_server_errors_total", help = "5xx responses" }, new { name = "mixer_script_bytes_total" } }),
                ("metric", """
                    var code = instance.Dimensions["response_code"].AsInt64;
                    if (code >= 500)
                    {
                        Count("mixer_script_server_errors_total");
                        Log($"{instance.Dimensions["destination"]} answered {code}");
                    }

                    Count("mixer_script_bytes_total", instance.Value.AsInt64);
                    """),
            ],
            metrics,
            logger);

        MetricInstance Metric(long code, long bytes) => new()
        {
            Name = "bytes.metric.istio-system",
            Value = AttributeValue.Int64(bytes),
            Dimensions = new Dictionary<string, AttributeValue> { ["response_code"] = AttributeValue.Int64(code), ["destination"] = AttributeValue.String("ratings") },
        };

        await h.HandleMetricAsync([Metric(200, 100), Metric(503, 20), Metric(500, 1)], default);

        metrics["mixer_script_server_errors_total"].ShouldBe(2);
        metrics["mixer_script_bytes_total"].ShouldBe(121);
        logger.Lines.Select(l => l.Text).ShouldContain("policy.script.istio-system metric script: ratings answered 503");
    }

    [Fact]
    public async Task ReportScripts_RunOncePerInstance_ForEachReportTemplate()
    {
        var metrics = new RecordingMetrics();
        var h = await Scripts.HandlerAsync(
            _adapter,
            [
                ("counters", new object[] { new { name = "errors_total" }, new { name = "spans_total" }, new { name = "reports_total" } }),
                ("logentry", """if (instance.Severity == "Error") Count("errors_total");"""),
                ("tracespan", """Count("spans_total", instance.ClientSpan ? 1 : 0)"""),
                ("reportnothing", """Count("reports_total")"""),
            ],
            metrics);

        LogEntryInstance Log(string severity) => new() { Name = "l", Variables = new Dictionary<string, AttributeValue>(), Severity = severity };
        await h.HandleLogEntryAsync([Log("Error"), Log("Info"), Log("Error")], default);
        await h.HandleTraceSpanAsync([new TraceSpanInstance { Name = "t", ClientSpan = true }, new TraceSpanInstance { Name = "t" }], default);
        await h.HandleReportNothingAsync([new ReportNothingInstance { Name = "r" }, new ReportNothingInstance { Name = "r" }], default);

        metrics["errors_total"].ShouldBe(2);
        metrics["spans_total"].ShouldBe(1);
        metrics["reports_total"].ShouldBe(2);
    }

    [Fact]
    public async Task Scripts_UseLinqRegexAndIpNetworks()
    {
        var h = await Scripts.HandlerAsync(_adapter, [("listentry", """
            var internalNets = new[] { "10.0.0.0/8", "192.168.0.0/16" }.Select(IPNetwork.Parse).ToList();
            if (IPAddress.TryParse(instance.Value, out var ip))
            {
                return internalNets.Any(n => n.Contains(ip)) ? Ok() : Deny("external address " + ip);
            }

            var m = Match(instance.Value, @"^(?<team>[a-z]+)\.svc$");
            return m.Success && IsMatch(m.Groups["team"].Value, "^(ratings|reviews)$") ? Ok() : Deny("unknown " + instance.Value);
            """)]);

        async Task<int> Code(string value) => (await h.HandleListEntryAsync(new ListEntryInstance { Name = "e", Value = value }, default)).StatusCode;

        (await Code("10.1.2.3")).ShouldBe(0);
        (await Code("8.8.8.8")).ShouldBe(StatusCodes.PermissionDenied);
        (await Code("ratings.svc")).ShouldBe(0);
        (await Code("payments.svc")).ShouldBe(StatusCodes.PermissionDenied);
    }

    [Fact]
    public async Task Exception_InACheckScript_IsAnInternalStatusNamingHandlerAndException()
    {
        var metrics = new RecordingMetrics();
        var h = await Scripts.HandlerAsync(_adapter, [("listentry", """
            var parts = instance.Value.Split('/');
            var team = parts[1];
            return team == "a" ? Ok() : Deny("no");
            """)], metrics);

        var r = await h.HandleListEntryAsync(new ListEntryInstance { Name = "e", Value = "no-slash" }, default);

        r.StatusCode.ShouldBe(StatusCodes.Internal);
        r.Message.ShouldBe("script handler policy.script.istio-system: the listentry script failed: IndexOutOfRangeException: Index was outside the bounds of the array.");
        r.ValidDuration.ShouldBe(TimeSpan.Zero);
        metrics["mixer_script_errors_total"].ShouldBe(1);

        // The handler keeps working for the next call.
        (await h.HandleListEntryAsync(new ListEntryInstance { Name = "e", Value = "x/a" }, default)).IsOk.ShouldBeTrue();
    }

    [Fact]
    public async Task Exception_InAReportScript_IsCountedAndReported_AndTheRestOfTheBatchRuns()
    {
        var metrics = new RecordingMetrics();
        var h = await Scripts.HandlerAsync(
            _adapter,
            [("counters", new object[] { new { name = "seen_total" } }), ("reportnothing", """
                if (instance.Name == "boom") throw new InvalidOperationException("boom");
                Count("seen_total");
                """)],
            metrics);

        var e = await Should.ThrowAsync<Exception>(async () => await h.HandleReportNothingAsync(
            [new ReportNothingInstance { Name = "a" }, new ReportNothingInstance { Name = "boom" }, new ReportNothingInstance { Name = "c" }], default));

        e.Message.ShouldStartWith("reportnothing script failed on 1 of 3 instances; first: script handler policy.script.istio-system: the reportnothing script failed: InvalidOperationException: boom");
        metrics["seen_total"].ShouldBe(2);
        metrics["mixer_script_errors_total"].ShouldBe(1);
    }

    [Fact]
    public async Task DenyWithAnOkCode_IsAnErrorOfTheScript()
    {
        var h = await Scripts.HandlerAsync(_adapter, [("checknothing", "Deny(0, \"not a denial\")")]);

        var r = await h.HandleCheckNothingAsync(new CheckNothingInstance { Name = "c" }, default);

        r.StatusCode.ShouldBe(StatusCodes.Internal);
        r.Message.ShouldContain("a denial needs a google.rpc code 1..16");
    }

    [Fact]
    public async Task RoutedTemplateWithoutScript_FailsTheBuildNamingTheInstance()
    {
        var json = Scripts.Params(("listentry", "Ok()"));
        _adapter.Validate(json).ShouldBeEmpty();

        var e = await Should.ThrowAsync<InvalidOperationException>(async () => await _adapter.BuildAsync(
            new HandlerContext
            {
                HandlerName = "h.script.istio-system",
                Params = json,
                Instances = new Dictionary<string, string> { ["requestcount.metric.istio-system"] = "metric" },
                Logger = Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance,
            },
            default));

        e.Message.ShouldContain("requestcount.metric.istio-system (metric)");
    }
}
