using System.Collections.Concurrent;
using System.Text.Json;
using Istio.Mixer.V1;
using Microsoft.Extensions.Logging.Abstractions;
using Mixer.Sdk;
using Mixer.Runtime.Dispatch;
using Mixer.Sdk.Adapters;
using Mixer.Sdk.Templates;
using Mixer.Testing;

namespace Mixer.Runtime.Tests;

/// <summary>
/// In-process dispatch of every template Mixer knows: each instance kind written in Istio 1.0's
/// YAML reaches an adapter's handler as its typed SDK instance, with every field evaluated from the
/// request's attributes.
/// </summary>
public sealed class TemplateDispatchTests : IAsyncDisposable
{
    private readonly ConfigDir _dir = new ConfigDir().WithDefaultAttributes();
    private readonly RecordingAdapter _adapter = new();
    private MixerRuntime? _runtime;

    public async ValueTask DisposeAsync()
    {
        if (_runtime is not null)
        {
            await _runtime.DisposeAsync();
        }

        _dir.Dispose();
    }

    private const string Config = """
        apiVersion: config.istio.io/v1alpha2
        kind: handler
        metadata: {name: recorder, namespace: istio-system}
        spec:
          compiledAdapter: recorder
        ---
        apiVersion: config.istio.io/v1alpha2
        kind: checknothing
        metadata: {name: nothing, namespace: istio-system}
        spec: {}
        ---
        apiVersion: config.istio.io/v1alpha2
        kind: listentry
        metadata: {name: sourceip, namespace: istio-system}
        spec:
          value: source.ip | ip("0.0.0.0")
        ---
        apiVersion: config.istio.io/v1alpha2
        kind: authorization
        metadata: {name: authz, namespace: istio-system}
        spec:
          subject:
            user: source.principal | ""
            groups: '"admins,ops"'
            properties:
              app: source.labels["app"] | ""
          action:
            namespace: destination.namespace | "default"
            service: destination.service.host | ""
            method: request.method | ""
            path: request.path | ""
            properties:
              version: destination.labels["version"] | ""
        ---
        apiVersion: config.istio.io/v1alpha2
        kind: apikey
        metadata: {name: key, namespace: istio-system}
        spec:
          api: api.service | "ratings"
          apiVersion: '"v1"'
          apiOperation: request.method | ""
          apiKey: request.headers["x-api-key"] | ""
          timestamp: request.time
        ---
        apiVersion: config.istio.io/v1alpha2
        kind: quota
        metadata: {name: requestcount, namespace: istio-system}
        spec:
          dimensions:
            source: source.labels["app"] | "unknown"
            code: response.code | 200
        ---
        apiVersion: config.istio.io/v1alpha2
        kind: metric
        metadata: {name: requestsize, namespace: istio-system}
        spec:
          value: request.size | 0
          dimensions:
            path: request.path | ""
          monitoredResourceType: '"UNSPECIFIED"'
          monitoredResourceDimensions:
            cluster: '"east"'
        ---
        apiVersion: config.istio.io/v1alpha2
        kind: logentry
        metadata: {name: accesslog, namespace: istio-system}
        spec:
          severity: '"Warning"'
          timestamp: request.time
          variables:
            path: request.path | ""
            latency: response.duration | "0ms"
          monitoredResourceType: '"global"'
        ---
        apiVersion: config.istio.io/v1alpha2
        kind: tracespan
        metadata: {name: span, namespace: istio-system}
        spec:
          traceId: request.headers["x-b3-traceid"] | ""
          spanId: request.headers["x-b3-spanid"] | ""
          parentSpanId: request.headers["x-b3-parentspanid"] | ""
          spanName: request.path | "/"
          startTime: request.time
          endTime: response.time
          clientSpan: (context.reporter.kind | "inbound") == "outbound"
          rewriteClientSpanId: "false"
          httpStatusCode: response.code | 0
          spanTags:
            method: request.method | ""
        ---
        apiVersion: config.istio.io/v1alpha2
        kind: reportnothing
        metadata: {name: reported, namespace: istio-system}
        spec: {}
        ---
        apiVersion: config.istio.io/v1alpha2
        kind: rule
        metadata: {name: checks, namespace: istio-system}
        spec:
          actions:
          - handler: recorder
            instances: [nothing, sourceip, authz, key, requestcount]
        ---
        apiVersion: config.istio.io/v1alpha2
        kind: rule
        metadata: {name: reports, namespace: istio-system}
        spec:
          actions:
          - handler: recorder
            instances: [requestsize, accesslog, span, reported]
        """;

    private static readonly DateTimeOffset s_requestTime = new(2018, 7, 31, 10, 0, 0, TimeSpan.Zero);

    private static CompressedAttributes Request() => new TestAttributes()
        .Ip("source.ip", "10.1.2.3")
        .String("source.principal", "cluster.local/ns/default/sa/productpage")
        .Map("source.labels", ("app", "productpage"))
        .String("destination.namespace", "default")
        .String("destination.service.host", "ratings.default.svc.cluster.local")
        .Map("destination.labels", ("version", "v2"))
        .String("request.method", "GET")
        .String("request.path", "/ratings/7")
        .Int64("request.size", 321)
        .Map("request.headers", ("x-api-key", "k-123"), ("x-b3-traceid", "t1"), ("x-b3-spanid", "s2"), ("x-b3-parentspanid", "p3"))
        .Timestamp("request.time", s_requestTime)
        .Timestamp("response.time", s_requestTime.AddMilliseconds(40))
        .Duration("response.duration", TimeSpan.FromMilliseconds(40))
        .Int64("response.code", 503)
        .String("context.reporter.kind", "outbound")
        .Build();

    private async Task<MixerRuntime> StartAsync()
    {
        _dir.Write("config.yaml", Config);
        _runtime = await MixerRuntime.StartAsync(
            new RuntimeOptions { ConfigStoreUrl = "fs://" + _dir.Path, HandlerDeadline = TimeSpan.FromSeconds(5) },
            [_adapter],
            NullLoggerFactory.Instance,
            CancellationToken.None);
        _runtime.Errors.ShouldBeEmpty(string.Join("\n", _runtime.Errors));
        return _runtime;
    }

    private static IAttributeBag Bag() =>
        ProtoBag.TryCreate(Request(), (uint)GlobalDictionary.Count, null, null, out var bag, out var error) ? bag : throw new InvalidOperationException(error);

    [Fact]
    public async Task Check_EveryCheckTemplate_ReachesItsHandlerTypedAndEvaluated()
    {
        var runtime = await StartAsync();

        var outcome = await runtime.CheckAsync(Bag(), CancellationToken.None);

        outcome.StatusCode.ShouldBe(StatusCodes.Ok);
        _adapter.Instances.OfType<CheckNothingInstance>().ShouldHaveSingleItem().Name.ShouldBe("nothing.checknothing.istio-system");
        _adapter.Instances.OfType<ListEntryInstance>().ShouldHaveSingleItem().Value.ShouldBe("10.1.2.3");

        var authz = _adapter.Instances.OfType<AuthorizationInstance>().ShouldHaveSingleItem();
        authz.Name.ShouldBe("authz.authorization.istio-system");
        authz.Subject.User.ShouldBe("cluster.local/ns/default/sa/productpage");
        authz.Subject.Groups.ShouldBe("admins,ops");
        authz.Subject.Properties["app"].AsString.ShouldBe("productpage");
        authz.Action.Namespace.ShouldBe("default");
        authz.Action.Service.ShouldBe("ratings.default.svc.cluster.local");
        authz.Action.Method.ShouldBe("GET");
        authz.Action.Path.ShouldBe("/ratings/7");
        authz.Action.Properties["version"].AsString.ShouldBe("v2");

        var key = _adapter.Instances.OfType<ApiKeyInstance>().ShouldHaveSingleItem();
        key.Api.ShouldBe("ratings");
        key.ApiVersion.ShouldBe("v1");
        key.ApiOperation.ShouldBe("GET");
        key.ApiKey.ShouldBe("k-123");
        key.Timestamp.ShouldBe(AttributeValue.Timestamp(s_requestTime.ToUnixTimeSeconds(), 0));
    }

    [Fact]
    public async Task Quota_QuotaTemplate_ReachesItsHandlerWithDimensionsAndTheRequestedAmount()
    {
        var runtime = await StartAsync();

        var outcome = await runtime.QuotaAsync(Bag(), new QuotaArgs("requestcount", 3, BestEffort: true, "dedup-9"), CancellationToken.None);

        outcome.GrantedAmount.ShouldBe(3);
        var (instance, request) = _adapter.Quotas.ShouldHaveSingleItem();
        instance.Name.ShouldBe("requestcount.quota.istio-system");
        instance.Dimensions["source"].AsString.ShouldBe("productpage");
        instance.Dimensions["code"].AsInt64.ShouldBe(503);
        request.ShouldBe(new QuotaRequest(3, true, "dedup-9"));
    }

    [Fact]
    public async Task Report_EveryReportTemplate_ReachesItsHandlerTypedAndEvaluated()
    {
        var runtime = await StartAsync();
        var report = new ReportRequest { GlobalWordCount = (uint)GlobalDictionary.Count };
        report.Attributes.Add(Request());
        ReportBatch.TryCreate(report, out var batch, out var error).ShouldBeTrue(error);

        var outcome = await runtime.ReportAsync(batch, CancellationToken.None);

        outcome.Errors.ShouldBeEmpty();
        var metric = _adapter.Instances.OfType<MetricInstance>().ShouldHaveSingleItem();
        metric.Name.ShouldBe("requestsize.metric.istio-system");
        metric.Value.AsInt64.ShouldBe(321);
        metric.Dimensions["path"].AsString.ShouldBe("/ratings/7");
        metric.MonitoredResourceType.ShouldBe("UNSPECIFIED");
        metric.MonitoredResourceDimensions["cluster"].AsString.ShouldBe("east");

        var log = _adapter.Instances.OfType<LogEntryInstance>().ShouldHaveSingleItem();
        log.Severity.ShouldBe("Warning");
        log.Timestamp.ShouldBe(AttributeValue.Timestamp(s_requestTime.ToUnixTimeSeconds(), 0));
        log.Variables["path"].AsString.ShouldBe("/ratings/7");
        log.Variables["latency"].ShouldBe(AttributeValue.Duration(TimeSpan.FromMilliseconds(40)));
        log.MonitoredResourceType.ShouldBe("global");

        var span = _adapter.Instances.OfType<TraceSpanInstance>().ShouldHaveSingleItem();
        span.TraceId.ShouldBe("t1");
        span.SpanId.ShouldBe("s2");
        span.ParentSpanId.ShouldBe("p3");
        span.SpanName.ShouldBe("/ratings/7");
        span.HttpStatusCode.ShouldBe(503);
        span.ClientSpan.ShouldBeTrue();
        span.RewriteClientSpanId.ShouldBeFalse();
        span.EndTime.ShouldBe(AttributeValue.Timestamp(s_requestTime.ToUnixTimeSeconds(), 40_000_000));
        span.SpanTags["method"].AsString.ShouldBe("GET");

        _adapter.Instances.OfType<ReportNothingInstance>().ShouldHaveSingleItem().Name.ShouldBe("reported.reportnothing.istio-system");
    }

    private sealed class RecordingAdapter : IAdapter
    {
        public ConcurrentQueue<Instance> Instances { get; } = new();

        public ConcurrentQueue<(QuotaInstance Instance, QuotaRequest Request)> Quotas { get; } = new();

        public AdapterInfo Info { get; } = new("recorder", "remembers every instance", [.. Templates.TemplateRegistry.All.Keys]);

        public IReadOnlyList<ConfigProblem> Validate(JsonElement parameters) => [];

        public ValueTask<IHandler> BuildAsync(HandlerContext context, CancellationToken cancellationToken) =>
            ValueTask.FromResult<IHandler>(new Recorder(this));

        private sealed class Recorder(RecordingAdapter adapter) :
            ICheckNothingHandler, IListEntryHandler, IAuthorizationHandler, IApiKeyHandler, IQuotaHandler,
            IMetricHandler, ILogEntryHandler, ITraceSpanHandler, IReportNothingHandler
        {
            private static readonly CheckResult s_ok = CheckResult.Ok(TimeSpan.FromSeconds(5), 10);

            private ValueTask<CheckResult> Check(Instance instance)
            {
                adapter.Instances.Enqueue(instance);
                return ValueTask.FromResult(s_ok);
            }

            private ValueTask Record<T>(IReadOnlyList<T> instances)
                where T : Instance
            {
                foreach (var i in instances)
                {
                    adapter.Instances.Enqueue(i);
                }

                return ValueTask.CompletedTask;
            }

            public ValueTask<CheckResult> HandleCheckNothingAsync(CheckNothingInstance instance, CancellationToken cancellationToken) => Check(instance);

            public ValueTask<CheckResult> HandleListEntryAsync(ListEntryInstance instance, CancellationToken cancellationToken) => Check(instance);

            public ValueTask<CheckResult> HandleAuthorizationAsync(AuthorizationInstance instance, CancellationToken cancellationToken) => Check(instance);

            public ValueTask<CheckResult> HandleApiKeyAsync(ApiKeyInstance instance, CancellationToken cancellationToken) => Check(instance);

            public ValueTask<QuotaResult> HandleQuotaAsync(QuotaInstance instance, QuotaRequest request, CancellationToken cancellationToken)
            {
                adapter.Quotas.Enqueue((instance, request));
                return ValueTask.FromResult(new QuotaResult(request.Amount, TimeSpan.FromSeconds(1)));
            }

            public ValueTask HandleMetricAsync(IReadOnlyList<MetricInstance> instances, CancellationToken cancellationToken) => Record(instances);

            public ValueTask HandleLogEntryAsync(IReadOnlyList<LogEntryInstance> instances, CancellationToken cancellationToken) => Record(instances);

            public ValueTask HandleTraceSpanAsync(IReadOnlyList<TraceSpanInstance> instances, CancellationToken cancellationToken) => Record(instances);

            public ValueTask HandleReportNothingAsync(IReadOnlyList<ReportNothingInstance> instances, CancellationToken cancellationToken) => Record(instances);

            public ValueTask DisposeAsync() => ValueTask.CompletedTask;
        }
    }
}
