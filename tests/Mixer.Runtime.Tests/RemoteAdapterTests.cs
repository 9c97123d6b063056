using System.Net;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Istio.Mixer.Adapter.Model.V1beta1;
using Istio.Mixer.V1;
using Microsoft.Extensions.Logging.Abstractions;
using Mixer.Runtime.Dispatch;
using Mixer.Sdk;
using Mixer.Sdk.Remote;
using Mixer.Testing;
using Mixer.Testing.SpyConfig;
using StatusCodes = Mixer.Sdk.Adapters.StatusCodes;
using Wire = Istio.Mixer.Template;

namespace Mixer.Runtime.Tests;

/// <summary>
/// Out-of-process adapters through the runtime: Istio 1.0's adapter/handler/instance YAML, a real
/// gRPC adapter (<see cref="SpyAdapterServer"/>) on loopback, and what it receives and answers.
/// </summary>
public sealed class RemoteAdapterTests : IAsyncLifetime
{
    private const string AllTemplates = "[checknothing, listentry, authorization, apikey, quota, metric, logentry, tracespan, reportnothing]";

    private readonly ConfigDir _dir = new ConfigDir().WithDefaultAttributes();
    private SpyAdapterServer _spy = null!;
    private MixerRuntime? _runtime;

    public async Task InitializeAsync() => _spy = await SpyAdapterServer.StartAsync();

    public async Task DisposeAsync()
    {
        if (_runtime is not null)
        {
            await _runtime.DisposeAsync();
        }

        await _spy.DisposeAsync();
        _dir.Dispose();
    }

    private static string Adapter(string templates = AllTemplates, bool sessionBased = false, string? config = null, string name = "spy") => $$"""
        apiVersion: config.istio.io/v1alpha2
        kind: adapter
        metadata: {name: {{name}}, namespace: istio-system}
        spec:
          description: a test adapter
          session_based: {{(sessionBased ? "true" : "false")}}
          templates: {{templates}}
          config: "{{config ?? string.Empty}}"
        ---

        """;

    private string Handler(string paramsYaml = "{file_path: out.txt, level: 3}", string connectionExtra = "", string adapter = "spy") => $$"""
        apiVersion: config.istio.io/v1alpha2
        kind: handler
        metadata: {name: h1, namespace: istio-system}
        spec:
          adapter: {{adapter}}
          connection:
            address: "{{_spy.Address}}"{{connectionExtra}}
          params: {{paramsYaml}}
        ---

        """;

    private static string MetricTemplate => $$"""
        apiVersion: config.istio.io/v1alpha2
        kind: template
        metadata: {name: metric, namespace: istio-system}
        spec:
          descriptor: "{{Convert.ToBase64String(new Google.Protobuf.Reflection.FileDescriptorSet { File = { Google.Protobuf.Reflection.FileDescriptorProto.Parser.ParseFrom(Wire.Metric.TemplateHandlerServiceReflection.Descriptor.SerializedData) } }.ToByteArray())}}"
        ---

        """;

    private const string Instances = """
        apiVersion: config.istio.io/v1alpha2
        kind: instance
        metadata: {name: cn, namespace: istio-system}
        spec:
          template: checknothing
          params: {}
        ---
        apiVersion: config.istio.io/v1alpha2
        kind: instance
        metadata: {name: le, namespace: istio-system}
        spec:
          template: listentry
          params:
            value: source.name | "nobody"
        ---
        apiVersion: config.istio.io/v1alpha2
        kind: instance
        metadata: {name: az, namespace: istio-system}
        spec:
          template: authorization
          params:
            subject:
              user: source.user | "anonymous"
              groups: '"admins"'
              properties:
                ns: source.namespace | "ns0"
            action:
              namespace: destination.namespace | "default"
              service: destination.service | "svc"
              method: request.method | "GET"
              path: request.path | "/"
              properties:
                size: request.size | 0
        ---
        apiVersion: config.istio.io/v1alpha2
        kind: instance
        metadata: {name: ak, namespace: istio-system}
        spec:
          template: apikey
          params:
            api: '"pets"'
            api_version: '"v1"'
            api_operation: request.method | "GET"
            api_key: request.api_key | "none"
            timestamp: request.time
        ---
        apiVersion: config.istio.io/v1alpha2
        kind: instance
        metadata: {name: requestcount, namespace: istio-system}
        spec:
          template: quota
          params:
            dimensions:
              path: request.path | "/"
        ---
        apiVersion: config.istio.io/v1alpha2
        kind: instance
        metadata: {name: m, namespace: istio-system}
        spec:
          template: metric
          params:
            value: request.size | 0
            dimensions:
              code: response.code | 200
              ip: source.ip | ip("0.0.0.0")
              latency: response.duration | "0ms"
            monitored_resource_type: '"UNSPECIFIED"'
        ---
        apiVersion: config.istio.io/v1alpha2
        kind: instance
        metadata: {name: log, namespace: istio-system}
        spec:
          template: logentry
          params:
            severity: '"Warning"'
            timestamp: request.time
            variables:
              path: request.path | "/"
        ---
        apiVersion: config.istio.io/v1alpha2
        kind: instance
        metadata: {name: span, namespace: istio-system}
        spec:
          template: tracespan
          params:
            trace_id: request.headers["x-b3-traceid"] | "t1"
            span_id: '"s1"'
            span_name: request.path | "/"
            start_time: request.time
            end_time: response.time
            http_status_code: response.code | 0
            client_span: "true"
            span_tags:
              method: request.method | "GET"
        ---
        apiVersion: config.istio.io/v1alpha2
        kind: instance
        metadata: {name: rn, namespace: istio-system}
        spec:
          template: reportnothing
          params: {}
        ---

        """;

    private static string Rule(string name, string instances, string handler = "h1") => $$"""
        apiVersion: config.istio.io/v1alpha2
        kind: rule
        metadata: {name: {{name}}, namespace: istio-system}
        spec:
          actions:
          - handler: {{handler}}
            instances: {{instances}}
        ---

        """;

    private static readonly DateTimeOffset s_time = new(2018, 7, 31, 12, 0, 0, TimeSpan.Zero);

    private static DictionaryBag Bag()
    {
        var bag = new DictionaryBag();
        bag.Set("source.name", AttributeValue.String("productpage"));
        bag.Set("source.user", AttributeValue.String("spiffe://cluster.local/ns/default/sa/productpage"));
        bag.Set("request.path", AttributeValue.String("/reviews"));
        bag.Set("request.method", AttributeValue.String("POST"));
        bag.Set("request.size", AttributeValue.Int64(512));
        bag.Set("request.api_key", AttributeValue.String("k-123"));
        bag.Set("request.time", AttributeValue.Timestamp(s_time));
        bag.Set("response.time", AttributeValue.Timestamp(s_time.AddMilliseconds(15)));
        bag.Set("response.code", AttributeValue.Int64(201));
        bag.Set("response.duration", AttributeValue.Duration(TimeSpan.FromMilliseconds(15)));
        bag.Set("source.ip", AttributeValue.IpAddress(IPAddress.Parse("10.1.2.3")));
        return bag;
    }

    private readonly CountingRemoteMetrics _metrics = new();

    private async Task<MixerRuntime> StartAsync(string yaml, bool expectErrors = false)
    {
        _dir.Write("config.yaml", Instances + yaml);
        _runtime = await MixerRuntime.StartAsync(
            new RuntimeOptions { ConfigStoreUrl = "fs://" + _dir.Path, HandlerDeadline = TimeSpan.FromSeconds(2), RemoteMetrics = _metrics },
            [],
            NullLoggerFactory.Instance,
            CancellationToken.None);
        if (!expectErrors)
        {
            _runtime.Errors.ShouldBeEmpty(string.Join("\n", _runtime.Errors));
        }

        return _runtime;
    }

    private async Task ReloadAsync(string yaml)
    {
        var applied = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        _runtime!.Applied += g => applied.TrySetResult(g);
        _dir.Write("config.yaml", Instances + yaml);
        await applied.Task.WaitAsync(TimeSpan.FromSeconds(15));
    }

    private static ReportBatch Batch(int count)
    {
        var request = new ReportRequest { RepeatedAttributesSemantics = ReportRequest.Types.RepeatedAttributesSemantics.IndependentEncoding };
        for (var i = 0; i < count; i++)
        {
            request.Attributes.Add(new TestAttributes()
                .Int64("request.size", 100 + i)
                .Int64("response.code", 200)
                .String("request.path", "/p" + i)
                .Ip("source.ip", "10.0.0." + (i + 1))
                .Timestamp("request.time", s_time)
                .Timestamp("response.time", s_time.AddSeconds(1))
                .Build());
        }

        ReportBatch.TryCreate(request, out var batch, out var error).ShouldBeTrue(error);
        return batch;
    }

    [Fact]
    public async Task Check_EveryCheckTemplate_GoesToTheAdapter_AsItsInstanceMsg()
    {
        var runtime = await StartAsync(Adapter() + Handler() + Rule("gate", "[cn, le, az, ak]"));

        var outcome = await runtime.CheckAsync(Bag(), CancellationToken.None);

        outcome.StatusCode.ShouldBe(0, outcome.StatusMessage);
        outcome.ValidDuration.ShouldBe(TimeSpan.FromSeconds(5));
        outcome.ValidUseCount.ShouldBe(50);
        _spy.Received<Wire.CheckNothing.HandleCheckNothingRequest>().ShouldHaveSingleItem().Instance.Name.ShouldBe("cn.instance.istio-system");
        _spy.Received<Wire.ListEntry.HandleListEntryRequest>().ShouldHaveSingleItem().Instance.Value.ShouldBe("productpage");
        var az = _spy.Received<Wire.Authorization.HandleAuthorizationRequest>().ShouldHaveSingleItem().Instance;
        az.Subject.User.ShouldBe("spiffe://cluster.local/ns/default/sa/productpage");
        az.Subject.Groups.ShouldBe("admins");
        az.Subject.Properties["ns"].StringValue.ShouldBe("ns0");
        az.Action.Method.ShouldBe("POST");
        az.Action.Path.ShouldBe("/reviews");
        az.Action.Properties["size"].Int64Value.ShouldBe(512);
        var ak = _spy.Received<Wire.ApiKey.HandleApiKeyRequest>().ShouldHaveSingleItem();
        ak.Instance.ApiKey.ShouldBe("k-123");
        ak.Instance.ApiVersion.ShouldBe("v1");
        ak.Instance.Timestamp.Value.ToDateTimeOffset().ShouldBe(s_time);

        // No descriptor in the adapter resource: the params go as a Struct, in every request.
        ak.AdapterConfig.TypeUrl.ShouldBe("type.googleapis.com/google.protobuf.Struct");
        var config = ak.AdapterConfig.Unpack<Struct>();
        config.Fields["filePath"].StringValue.ShouldBe("out.txt");
        config.Fields["level"].NumberValue.ShouldBe(3);
        ak.DedupId.ShouldNotBeNullOrEmpty();
    }

    [Fact]
    public async Task Check_AdapterDenies_TheStatusNamesTheHandler_AndItsValidityIsKept()
    {
        _spy.Behaviour.CheckCode = StatusCodes.PermissionDenied;
        _spy.Behaviour.CheckMessage = "not on the list";
        _spy.Behaviour.ValidDuration = TimeSpan.FromSeconds(3);
        _spy.Behaviour.ValidUseCount = 4;
        var runtime = await StartAsync(Adapter() + Handler() + Rule("gate", "[le]"));

        var outcome = await runtime.CheckAsync(Bag(), CancellationToken.None);

        outcome.StatusCode.ShouldBe(StatusCodes.PermissionDenied);
        outcome.StatusMessage.ShouldBe("h1.handler.istio-system:not on the list");
        outcome.ValidDuration.ShouldBe(TimeSpan.FromSeconds(3));
        outcome.ValidUseCount.ShouldBe(4);
    }

    [Fact]
    public async Task Quota_GoesToTheAdapter_KeyedByInstanceName_WithTheDeduplicationId()
    {
        _spy.Behaviour.QuotaGrant = 3;
        var runtime = await StartAsync(Adapter() + Handler() + Rule("q", "[requestcount]"));

        var outcome = await runtime.QuotaAsync(Bag(), new QuotaArgs("requestcount", 10, true, "dedup-7requestcount"), CancellationToken.None);

        outcome.GrantedAmount.ShouldBe(3);
        outcome.ValidDuration.ShouldBe(TimeSpan.FromSeconds(7));
        var sent = _spy.Received<Wire.Quota.HandleQuotaRequest>().ShouldHaveSingleItem();
        sent.DedupId.ShouldBe("dedup-7requestcount");
        sent.Instance.Dimensions["path"].StringValue.ShouldBe("/reviews");
        var ask = sent.QuotaRequest.Quotas["requestcount.instance.istio-system"];
        ask.Amount.ShouldBe(10);
        ask.BestEffort.ShouldBeTrue();
    }

    [Fact]
    public async Task Quota_AdapterAnswersForAnotherQuota_GrantsNothing()
    {
        _spy.Behaviour.QuotaWrongKey = true;
        var runtime = await StartAsync(Adapter() + Handler() + Rule("q", "[requestcount]"));

        var outcome = await runtime.QuotaAsync(Bag(), new QuotaArgs("requestcount", 10, false, "d"), CancellationToken.None);

        outcome.GrantedAmount.ShouldBe(0);
    }

    [Fact]
    public async Task Report_EachTemplate_IsOneCallCarryingTheWholeBatch()
    {
        var runtime = await StartAsync(MetricTemplate + Adapter() + Handler() + Rule("telemetry", "[m, log, span, rn]"));

        var outcome = await runtime.ReportAsync(Batch(3), CancellationToken.None);

        outcome.Errors.ShouldBeEmpty();
        var metric = _spy.Received<Wire.Metric.HandleMetricRequest>().ShouldHaveSingleItem();
        metric.Instances.Count.ShouldBe(3);
        metric.Instances[0].Name.ShouldBe("m.instance.istio-system");
        metric.Instances[0].Value.Int64Value.ShouldBe(100);
        metric.Instances[2].Value.Int64Value.ShouldBe(102);
        metric.Instances[1].Dimensions["code"].Int64Value.ShouldBe(200);
        metric.Instances[1].Dimensions["ip"].IpAddressValue.Value.ToByteArray().ShouldBe(IPAddress.Parse("10.0.0.2").GetAddressBytes());
        metric.Instances[1].Dimensions["latency"].DurationValue.Value.ToTimeSpan().ShouldBe(TimeSpan.Zero);
        metric.Instances[0].MonitoredResourceType.ShouldBe("UNSPECIFIED");
        var log = _spy.Received<Wire.LogEntry.HandleLogEntryRequest>().ShouldHaveSingleItem();
        log.Instances.Select(i => i.Variables["path"].StringValue).ShouldBe(["/p0", "/p1", "/p2"]);
        log.Instances[0].Severity.ShouldBe("Warning");
        log.Instances[0].Timestamp.Value.ToDateTimeOffset().ShouldBe(s_time);
        var span = _spy.Received<Wire.TraceSpan.HandleTraceSpanRequest>().ShouldHaveSingleItem().Instances[1];
        span.TraceId.ShouldBe("t1");
        span.SpanName.ShouldBe("/p1");
        span.HttpStatusCode.ShouldBe(200);
        span.ClientSpan.ShouldBeTrue();
        span.EndTime.Value.ToDateTimeOffset().ShouldBe(s_time.AddSeconds(1));
        span.SpanTags["method"].StringValue.ShouldBe("GET");
        _spy.Received<Wire.ReportNothing.HandleReportNothingRequest>().ShouldHaveSingleItem().Instances.Count.ShouldBe(3);
    }

    [Fact]
    public async Task Params_WithTheAdapterDescriptor_AreSentAsItsParamsMessage_ByteForByte()
    {
        const string paramsYaml = """

            file_path: /var/log/out.txt
            max_entries: 1000
            ratio: 0.25
            enabled: true
            mode: AUTO
            names: [a, b]
            limits: {reads: 10, writes: 20}
            primary: {host: db1, port: 5432, tags: [main]}
            backends:
            - {host: db2, port: 5433}
            - {host: db3}
            flush_interval: 1m30s
            not_before: "2018-07-31T12:00:00Z"
            secret: aGVsbG8=
            weights: [1, -2, 3]
            shards: 7
            offset: -9
        """;
        var runtime = await StartAsync(Adapter(config: SpyAdapterServer.ParamsDescriptorBase64) + Handler(paramsYaml.Replace("\n", "\n    ", StringComparison.Ordinal)) + Rule("gate", "[cn]"));

        (await runtime.CheckAsync(Bag(), CancellationToken.None)).StatusCode.ShouldBe(0);

        var sent = _spy.Received<Wire.CheckNothing.HandleCheckNothingRequest>().ShouldHaveSingleItem().AdapterConfig;
        sent.TypeUrl.ShouldBe("type.googleapis.com/adapter.spy.config.Params");
        var expected = new Params
        {
            FilePath = "/var/log/out.txt",
            MaxEntries = 1000,
            Ratio = 0.25,
            Enabled = true,
            Mode = Params.Types.Mode.Auto,
            Names = { "a", "b" },
            Limits = { ["reads"] = 10, ["writes"] = 20 },
            Primary = new Params.Types.Backend { Host = "db1", Port = 5432, Tags = { "main" } },
            Backends = { new Params.Types.Backend { Host = "db2", Port = 5433 }, new Params.Types.Backend { Host = "db3" } },
            FlushInterval = Duration.FromTimeSpan(TimeSpan.FromSeconds(90)),
            NotBefore = Timestamp.FromDateTimeOffset(s_time),
            Secret = ByteString.CopyFromUtf8("hello"),
            Weights = { 1, -2, 3 },
            Shards = 7,
            Offset = -9,
        };
        Params.Parser.ParseFrom(sent.Value).ShouldBe(expected);
        sent.Value.ToByteArray().ShouldBe(expected.ToByteArray());
    }

    [Fact]
    public async Task Params_ThatDoNotFitTheDescriptor_AreConfigErrorsWithFileLineAndField()
    {
        const string paramsYaml = """

            file_path: out.txt
            max_entries: lots
            mode: SOMETIMES
            colour: blue
        """;
        var runtime = await StartAsync(Adapter(config: SpyAdapterServer.ParamsDescriptorBase64) + Handler(paramsYaml.Replace("\n", "\n    ", StringComparison.Ordinal)) + Rule("gate", "[cn]"), expectErrors: true);

        var errors = runtime.Errors.Select(e => e.ToString()).ToList();
        errors.ShouldContain(e => e.Contains("config.yaml:") && e.Contains("params.maxEntries: must be an integer, not 'lots'"), string.Join("\n", errors));
        errors.ShouldContain(e => e.Contains("params.mode: 'SOMETIMES' is not a value of adapter.spy.config.Params.Mode; use one of OFF, ON, AUTO"));
        errors.ShouldContain(e => e.Contains("params.colour: unknown field of adapter.spy.config.Params"));
        var line = runtime.Errors.First(e => e.Field == "params.maxEntries").Position.Line;
        File.ReadAllLines(Path.Combine(_dir.Path, "config.yaml"))[line - 1].ShouldContain("max_entries: lots");

        // The handler did not load, so its rule's action is gone and Check does not reach the adapter.
        (await runtime.CheckAsync(Bag(), CancellationToken.None)).StatusCode.ShouldBe(0);
        _spy.HandleCalls.ShouldBe(0);
    }

    [Fact]
    public async Task AdapterDown_ConfigStillLoads_CheckFailsNamingIt_AndRecoversWhenItComesUp()
    {
        await _spy.StopListeningAsync();
        var runtime = await StartAsync(Adapter() + Handler() + Rule("gate", "[cn]"));

        var down = await runtime.CheckAsync(Bag(), CancellationToken.None);

        down.StatusCode.ShouldBe(StatusCodes.Unavailable);
        down.StatusMessage.ShouldContain("h1.handler.istio-system");
        down.StatusMessage.ShouldContain("adapter 'spy'");
        down.StatusMessage.ShouldContain(_spy.Address);
        down.ValidUseCount.ShouldBe(0, "a failure must not be cached by the proxy");
        down.ValidDuration.ShouldBe(TimeSpan.Zero);
        var report = await runtime.ReportAsync(Batch(1), CancellationToken.None);
        report.Errors.ShouldBeEmpty("no report rule sends to the adapter");

        await _spy.StartListeningAsync();
        await Eventually.UntilAsync(async () => (await runtime.CheckAsync(Bag(), CancellationToken.None)).StatusCode == 0, "Check succeeds once the adapter is up");
    }

    [Fact]
    public async Task AdapterDown_RetriesOnce_ThenLaterCallsTryOnlyOnce_AndAreCountedByCode()
    {
        await _spy.StopListeningAsync();
        var runtime = await StartAsync(Adapter() + Handler() + Rule("gate", "[cn]"));

        (await runtime.CheckAsync(Bag(), CancellationToken.None)).StatusMessage.ShouldContain("after 4 attempts");
        var retried = _metrics.Retries;
        var second = await runtime.CheckAsync(Bag(), CancellationToken.None);

        retried.ShouldBe(3);
        _metrics.Retries.ShouldBe(3, "within a second of running out of retries, a call tries once");
        second.StatusCode.ShouldBe(StatusCodes.Unavailable);
        second.StatusMessage.ShouldNotContain("attempts");
        _metrics.Calls.ShouldBe(["h1.handler.istio-system/spy/checknothing/UNAVAILABLE", "h1.handler.istio-system/spy/checknothing/UNAVAILABLE"]);
    }

    [Fact]
    public async Task AdapterDown_Report_FailsNamingIt()
    {
        await _spy.StopListeningAsync();
        var runtime = await StartAsync(Adapter() + Handler() + Rule("telemetry", "[m]"));

        var outcome = await runtime.ReportAsync(Batch(2), CancellationToken.None);

        outcome.Errors.ShouldHaveSingleItem().ShouldContain($"h1.handler.istio-system: adapter 'spy' at {_spy.Address} is unavailable");
    }

    [Fact]
    public async Task AdapterSlow_CheckFailsAtTheConnectionTimeout()
    {
        _spy.Behaviour.Delay = TimeSpan.FromSeconds(5);
        var runtime = await StartAsync(Adapter() + Handler(connectionExtra: "\n    timeout: 300ms") + Rule("gate", "[cn]"));

        var outcome = await runtime.CheckAsync(Bag(), CancellationToken.None);

        outcome.StatusCode.ShouldBe(StatusCodes.Unavailable);
        outcome.StatusMessage.ShouldContain("gave no answer within 300 ms");
        outcome.StatusMessage.ShouldContain("h1.handler.istio-system");
    }

    [Fact]
    public async Task Unavailable_IsRetried_WithinTheDeadline()
    {
        _spy.Behaviour.UnavailableBeforeSuccess = 2;
        var runtime = await StartAsync(Adapter() + Handler() + Rule("gate", "[cn]"));

        var outcome = await runtime.CheckAsync(Bag(), CancellationToken.None);

        outcome.StatusCode.ShouldBe(0, outcome.StatusMessage);
        _spy.HandleCalls.ShouldBe(3);
    }

    [Fact]
    public async Task SessionBased_OpensASessionWhenBuilt_SendsItsId_AndClosesItWhenTheHandlerGoes()
    {
        var runtime = await StartAsync(Adapter(sessionBased: true) + Handler() + Rule("telemetry", "[m]"));

        var validate = _spy.Received<ValidateRequest>().ShouldHaveSingleItem();
        validate.AdapterConfig.Unpack<Struct>().Fields["filePath"].StringValue.ShouldBe("out.txt");
        var create = _spy.Received<CreateSessionRequest>().ShouldHaveSingleItem();
        var type = create.InferredTypes["m.instance.istio-system"].Unpack<Wire.Metric.Type>();
        type.Value.ShouldBe(Istio.Policy.V1beta1.ValueType.Int64);
        type.Dimensions["ip"].ShouldBe(Istio.Policy.V1beta1.ValueType.IpAddress);
        type.Dimensions["latency"].ShouldBe(Istio.Policy.V1beta1.ValueType.Duration);
        _spy.OpenedSessions.ShouldBe(["session-1"]);

        (await runtime.ReportAsync(Batch(1), CancellationToken.None)).Errors.ShouldBeEmpty();
        _spy.Received<Wire.Metric.HandleMetricRequest>().ShouldHaveSingleItem().AdapterConfig.ShouldBeNull("Istio sends a session-based adapter its config at CreateSession only");
        _spy.SessionHeaders.ShouldBe(["session-1"]);

        await ReloadAsync(Adapter(sessionBased: true));
        await Eventually.UntilAsync(() => _spy.ClosedSessions.Contains("session-1"), "the removed handler's session is closed");
    }

    [Fact]
    public async Task SessionBased_AdapterDownAtBuild_OpensTheSessionOnFirstUse()
    {
        await _spy.StopListeningAsync();
        var runtime = await StartAsync(Adapter(sessionBased: true) + Handler() + Rule("gate", "[cn]"));
        _spy.OpenedSessions.ShouldBeEmpty();

        await _spy.StartListeningAsync();
        await Eventually.UntilAsync(async () => (await runtime.CheckAsync(Bag(), CancellationToken.None)).StatusCode == 0, "Check succeeds once the adapter is up");

        _spy.OpenedSessions.ShouldBe(["session-1"]);
        _spy.SessionHeaders.Last().ShouldBe("session-1");
    }

    [Fact]
    public async Task SessionBased_AdapterRejectsTheConfig_IsAConfigErrorOfTheHandler()
    {
        _spy.Behaviour.ValidateCode = StatusCodes.InvalidArgument;
        var runtime = await StartAsync(Adapter(sessionBased: true) + Handler() + Rule("gate", "[cn]"), expectErrors: true);

        var error = runtime.Errors.ShouldHaveSingleItem();
        error.Resource!.Value.Kind.ShouldBe("handler");
        error.Position.File.ShouldEndWith("config.yaml");
        error.Reason.ShouldContain("rejected the handler's config: InvalidArgument: spy does not like this config");
    }

    [Fact]
    public async Task BadConfig_EveryMistakeIsReportedWithFileLineAndField()
    {
        var yaml = Adapter(templates: "[metric, nosuchtemplate]", name: "broken")
            + Adapter(templates: "[metric]", config: "not base64!", name: "undecodable")
            + Adapter(templates: "[metric]", name: "metriconly")
            + """
            apiVersion: config.istio.io/v1alpha2
            kind: handler
            metadata: {name: noconn, namespace: istio-system}
            spec:
              adapter: metriconly
              params: {}
            ---
            apiVersion: config.istio.io/v1alpha2
            kind: handler
            metadata: {name: nosuch, namespace: istio-system}
            spec:
              adapter: doesnotexist
              connection: {address: "127.0.0.1:1"}
            ---
            apiVersion: config.istio.io/v1alpha2
            kind: handler
            metadata: {name: badaddr, namespace: istio-system}
            spec:
              adapter: metriconly
              connection: {address: "http://127.0.0.1"}
            ---
            apiVersion: config.istio.io/v1alpha2
            kind: handler
            metadata: {name: good, namespace: istio-system}
            spec:
              adapter: metriconly
              connection: {address: "127.0.0.1:1"}
            ---

            """
            + Rule("wrongtemplate", "[cn]", handler: "good");
        var runtime = await StartAsync(yaml, expectErrors: true);

        var errors = runtime.Errors.Select(e => e.ToString()).ToList();
        var all = string.Join("\n", errors);
        errors.ShouldContain(e => e.Contains("adapter istio-system/broken: templates[1]: template 'nosuchtemplate' not found"), all);
        errors.ShouldContain(e => e.Contains("adapter istio-system/undecodable: config: is not base64 text"), all);
        errors.ShouldContain(e => e.Contains("handler istio-system/noconn: connection.address: missing"), all);
        errors.ShouldContain(e => e.Contains("handler istio-system/nosuch: connection: no adapter resource 'doesnotexist'"), all);
        errors.ShouldContain(e => e.Contains("handler istio-system/badaddr: connection.address: 'http://127.0.0.1' is not host:port"), all);
        errors.ShouldContain(e => e.Contains("rule istio-system/wrongtemplate: actions[0].instances[0]: instance 'cn.instance.istio-system' is a checknothing, which handler 'good.handler.istio-system' (metriconly) does not support; it supports metric"), all);
        runtime.Errors.ShouldAllBe(e => e.Position.Line > 0);
    }

    [Fact]
    public async Task TemplateResources_AreAccepted_ButMustDescribeACompiledInTemplate()
    {
        var yaml = MetricTemplate + MetricTemplate.Replace("name: metric,", "name: histogram,", StringComparison.Ordinal)
            + """
            apiVersion: config.istio.io/v1alpha2
            kind: template
            metadata: {name: listentry, namespace: istio-system}
            spec:
              descriptor: "not base64!"
            ---
            apiVersion: config.istio.io/v1alpha2
            kind: instance
            metadata: {name: viaresource, namespace: istio-system}
            spec:
              template: metric.istio-system
              params:
                value: request.size | 0
            ---

            """
            + Adapter(templates: "[metric]") + Handler() + Rule("telemetry", "[viaresource]");
        var runtime = await StartAsync(yaml, expectErrors: true);

        var errors = runtime.Errors.Select(e => e.ToString()).ToList();
        errors.Count.ShouldBe(2, string.Join("\n", errors));
        errors.ShouldContain(e => e.Contains("template istio-system/histogram: metadata.name: template 'histogram' is not compiled into this Mixer"));
        errors.ShouldContain(e => e.Contains("template istio-system/listentry: descriptor: is not base64 text"));
        (await runtime.ReportAsync(Batch(1), CancellationToken.None)).Errors.ShouldBeEmpty();
        _spy.Received<Wire.Metric.HandleMetricRequest>().ShouldHaveSingleItem().Instances[0].Name.ShouldBe("viaresource.instance.istio-system");
    }

    [Fact]
    public async Task HandlersOfOneAddress_ShareOneChannel_ClosedWithTheLastOfThem()
    {
        var second = Handler().Replace("name: h1,", "name: h2,", StringComparison.Ordinal);
        var runtime = await StartAsync(Adapter() + Handler() + second + Rule("a", "[cn]") + Rule("b", "[le]", handler: "h2"));

        (await runtime.CheckAsync(Bag(), CancellationToken.None)).StatusCode.ShouldBe(0);
        Mixer.Runtime.Remote.RemoteChannels.OpenCount.ShouldBe(1);

        await runtime.DisposeAsync();
        _runtime = null;
        Mixer.Runtime.Remote.RemoteChannels.OpenCount.ShouldBe(0);
    }

    [Fact]
    public void ParamsCodec_DecodesWhatItEncodes()
    {
        var codec = ParamsCodec.FromAdapterConfig(SpyAdapterServer.ParamsDescriptorBase64, out var error).ShouldNotBeNull(error);
        using var json = System.Text.Json.JsonDocument.Parse("""{"filePath":"x","maxEntries":5,"mode":"ON","limits":{"a":1},"primary":{"host":"h","tags":["t"]},"flushInterval":"1.5s","notBefore":"2018-07-31T12:00:00Z","weights":[4,5],"secret":"aGk="}""");
        var problems = new List<Mixer.Sdk.Adapters.ConfigProblem>();

        var bytes = codec.Encode(json.RootElement, problems);
        var back = codec.Decode(bytes);

        problems.ShouldBeEmpty();
        back.GetProperty("filePath").GetString().ShouldBe("x");
        back.GetProperty("maxEntries").GetInt64().ShouldBe(5);
        back.GetProperty("mode").GetString().ShouldBe("ON");
        back.GetProperty("limits").GetProperty("a").GetInt64().ShouldBe(1);
        back.GetProperty("primary").GetProperty("tags")[0].GetString().ShouldBe("t");
        back.GetProperty("flushInterval").GetString().ShouldBe("1.500s");
        back.GetProperty("notBefore").GetString().ShouldBe("2018-07-31T12:00:00Z");
        back.GetProperty("weights").GetArrayLength().ShouldBe(2);
        back.GetProperty("secret").GetString().ShouldBe("aGk=");
        Params.Parser.ParseFrom(bytes).FlushInterval.ToTimeSpan().ShouldBe(TimeSpan.FromMilliseconds(1500));
    }
}

/// <summary>Remote-call metrics kept in memory, for assertions.</summary>
internal sealed class CountingRemoteMetrics : IRemoteCallMetrics
{
    private int _retries;

    public System.Collections.Concurrent.ConcurrentQueue<string> Calls { get; } = new();

    public int Retries => Volatile.Read(ref _retries);

    public IRemoteTemplateMetrics For(string handler, string adapter, string template) => new Recorder(this, $"{handler}/{adapter}/{template}");

    private sealed class Recorder(CountingRemoteMetrics owner, string series) : IRemoteTemplateMetrics
    {
        public void Record(string code, TimeSpan elapsed) => owner.Calls.Enqueue($"{series}/{code}");

        public void Retried() => Interlocked.Increment(ref owner._retries);
    }
}
