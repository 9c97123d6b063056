using System.Collections.Concurrent;
using System.Text.Json;
using Istio.Mixer.V1;
using Microsoft.Extensions.Logging.Abstractions;
using Mixer.Runtime;
using Mixer.Runtime.Dispatch;
using Mixer.Sdk;
using Mixer.Sdk.Adapters;
using Mixer.Sdk.Templates;
using Mixer.Testing;

namespace Mixer.Runtime.Tests;

/// <summary>
/// An in-process adapter whose handlers do what their params say (answer, deny, throw, hang),
/// and remember what they were given.
/// </summary>
internal sealed class ProbeAdapter : IAdapter
{
    public ConcurrentQueue<(string Handler, string Template, int Count)> Calls { get; } = new();

    public ConcurrentQueue<string> Disposed { get; } = new();

    public AdapterInfo Info { get; } = new("probe", "test adapter", ["checknothing", "metric", "quota", "listentry"]);

    public IReadOnlyList<ConfigProblem> Validate(JsonElement parameters) =>
        parameters.TryGetProperty("mode", out var m) && m.GetString() is "ok" or "deny" or "throw" or "hang"
            ? []
            : [new ConfigProblem("mode", "must be ok, deny, throw or hang")];

    public ValueTask<IHandler> BuildAsync(HandlerContext context, CancellationToken cancellationToken) =>
        ValueTask.FromResult<IHandler>(new Probe(this, context.HandlerName, context.Params.GetProperty("mode").GetString()!));

    private sealed class Probe(ProbeAdapter adapter, string name, string mode) : ICheckNothingHandler, IListEntryHandler, IMetricHandler, IQuotaHandler
    {
        private async ValueTask<CheckResult> Decide(string template, CancellationToken token)
        {
            adapter.Calls.Enqueue((name, template, 1));
            switch (mode)
            {
                case "throw":
                    throw new InvalidOperationException("backend exploded");
                case "hang":
                    await Task.Delay(Timeout.Infinite, token);
                    break;
                case "deny":
                    return CheckResult.Deny(StatusCodes.PermissionDenied, "no", TimeSpan.FromSeconds(3), 7);
            }

            return CheckResult.Ok(TimeSpan.FromSeconds(20), 30);
        }

        public ValueTask<CheckResult> HandleCheckNothingAsync(CheckNothingInstance instance, CancellationToken cancellationToken) => Decide("checknothing", cancellationToken);

        public ValueTask<CheckResult> HandleListEntryAsync(ListEntryInstance instance, CancellationToken cancellationToken) => Decide("listentry", cancellationToken);

        public async ValueTask HandleMetricAsync(IReadOnlyList<MetricInstance> instances, CancellationToken cancellationToken)
        {
            adapter.Calls.Enqueue((name, "metric", instances.Count));
            if (mode == "throw")
            {
                throw new InvalidOperationException("backend exploded");
            }

            if (mode == "hang")
            {
                await Task.Delay(Timeout.Infinite, cancellationToken);
            }
        }

        public async ValueTask<QuotaResult> HandleQuotaAsync(QuotaInstance instance, QuotaRequest request, CancellationToken cancellationToken)
        {
            await Decide("quota", cancellationToken);
            return new QuotaResult(request.Amount, TimeSpan.FromSeconds(1));
        }

        public ValueTask DisposeAsync()
        {
            adapter.Disposed.Enqueue(name);
            return ValueTask.CompletedTask;
        }
    }
}

public sealed class DispatcherTests : IAsyncDisposable
{
    private readonly ConfigDir _dir = new ConfigDir().WithDefaultAttributes();
    private readonly ProbeAdapter _probe = new();
    private MixerRuntime? _runtime;

    public async ValueTask DisposeAsync()
    {
        if (_runtime is not null)
        {
            await _runtime.DisposeAsync();
        }

        _dir.Dispose();
    }

    private static string Handler(string name, string mode) => $$"""
        apiVersion: config.istio.io/v1alpha2
        kind: handler
        metadata: {name: {{name}}, namespace: istio-system}
        spec:
          compiledAdapter: probe
          params: {mode: {{mode}}}
        ---

        """;

    private static string Rule(string name, string handler, string instance, string match = "") => $$"""
        apiVersion: config.istio.io/v1alpha2
        kind: rule
        metadata: {name: {{name}}, namespace: istio-system}
        spec:
          match: {{match}}
          actions:
          - handler: {{handler}}
            instances: [{{instance}}]
        ---

        """;

    private const string Instances = """
        apiVersion: config.istio.io/v1alpha2
        kind: checknothing
        metadata: {name: nothing, namespace: istio-system}
        spec: {}
        ---
        apiVersion: config.istio.io/v1alpha2
        kind: metric
        metadata: {name: requests, namespace: istio-system}
        spec:
          value: "1"
          dimensions:
            code: response.code | 200
        ---
        apiVersion: config.istio.io/v1alpha2
        kind: quota
        metadata: {name: requestcount, namespace: istio-system}
        spec:
          dimensions:
            path: request.path
        ---

        """;

    private async Task<MixerRuntime> StartAsync(string yaml, TimeSpan? deadline = null)
    {
        _dir.Write("config.yaml", Instances + yaml);
        _runtime = await MixerRuntime.StartAsync(
            new RuntimeOptions { ConfigStoreUrl = "fs://" + _dir.Path, HandlerDeadline = deadline ?? TimeSpan.FromSeconds(2) },
            [_probe],
            NullLoggerFactory.Instance,
            CancellationToken.None);
        _runtime.Errors.ShouldBeEmpty(string.Join("\n", _runtime.Errors));
        return _runtime;
    }

    private static DictionaryBag Bag(params (string, string)[] strings)
    {
        var bag = new DictionaryBag();
        foreach (var (k, v) in strings)
        {
            bag.Set(k, AttributeValue.String(v));
        }

        return bag;
    }

    [Fact]
    public async Task Check_AHandlerThrows_FailsWithAStatusNamingIt_AndTheOthersStillRun()
    {
        var runtime = await StartAsync(Handler("good", "ok") + Handler("bad", "throw") + Rule("r1", "good", "nothing") + Rule("r2", "bad", "nothing"));

        var outcome = await runtime.CheckAsync(Bag(), CancellationToken.None);

        outcome.StatusCode.ShouldBe(StatusCodes.Internal);
        outcome.StatusMessage.ShouldContain("bad.handler.istio-system");
        outcome.StatusMessage.ShouldContain("backend exploded");
        _probe.Calls.ShouldContain(c => c.Handler == "good.handler.istio-system");

        // A failure is not an answer to keep: no client caches it, so the next request asks again.
        outcome.ValidDuration.ShouldBe(TimeSpan.Zero);
        outcome.ValidUseCount.ShouldBe(0);
    }

    [Fact]
    public async Task Check_AHandlerHangs_FailsAfterTheDeadlineNamingIt()
    {
        var runtime = await StartAsync(Handler("slow", "hang") + Rule("r1", "slow", "nothing"), deadline: TimeSpan.FromMilliseconds(200));

        var outcome = await runtime.CheckAsync(Bag(), CancellationToken.None);

        outcome.StatusCode.ShouldBe(StatusCodes.Unavailable);
        outcome.StatusMessage.ShouldContain("slow.handler.istio-system");
        outcome.StatusMessage.ShouldContain("200 ms");
    }

    [Fact]
    public async Task Check_SeveralHandlers_FirstDenialInRuleOrderWins_AndValidityIsTheMinimum()
    {
        var runtime = await StartAsync(Handler("a", "ok") + Handler("b", "deny") + Handler("c", "throw")
            + Rule("r1", "a", "nothing") + Rule("r2", "b", "nothing") + Rule("r3", "c", "nothing"));

        var outcome = await runtime.CheckAsync(Bag(), CancellationToken.None);

        outcome.StatusCode.ShouldBe(StatusCodes.PermissionDenied);
        outcome.StatusMessage.ShouldStartWith("b.handler.istio-system:no");
        outcome.ValidDuration.ShouldBe(TimeSpan.FromSeconds(3));
        outcome.ValidUseCount.ShouldBe(7);
    }

    [Fact]
    public async Task Check_OnlyOkHandlers_IsOkWithTheMinimumValidity()
    {
        var runtime = await StartAsync(Handler("a", "ok") + Rule("r1", "a", "nothing"));

        var outcome = await runtime.CheckAsync(Bag(), CancellationToken.None);

        outcome.StatusCode.ShouldBe(0);
        outcome.ValidDuration.ShouldBe(TimeSpan.FromSeconds(20));
        outcome.ValidUseCount.ShouldBe(30);
    }

    [Fact]
    public async Task Check_MatchThatCannotBeEvaluated_DoesNotMatch()
    {
        var runtime = await StartAsync(Handler("d", "deny") + Rule("r1", "d", "nothing", match: "request.headers[\"x\"] == \"1\""));

        // request.headers is absent: the match errors, and a failing match is "no match", as in Istio.
        (await runtime.CheckAsync(Bag(), CancellationToken.None)).StatusCode.ShouldBe(0);
    }

    [Fact]
    public async Task Quota_InstanceThatCannotBeBuilt_GrantsNothing()
    {
        var runtime = await StartAsync(Handler("q", "ok") + Rule("r1", "q", "requestcount"));

        // request.path is missing and the dimension has no default: nothing is granted.
        var none = await runtime.QuotaAsync(Bag(), new QuotaArgs("requestcount", 5, false, "d1"), CancellationToken.None);
        none.GrantedAmount.ShouldBe(0);
        var some = await runtime.QuotaAsync(Bag(("request.path", "/")), new QuotaArgs("requestcount", 5, false, "d2"), CancellationToken.None);
        some.GrantedAmount.ShouldBe(5);
    }

    [Fact]
    public async Task Report_InstancesAreBatchedPerHandler_AndAFailingHandlerIsNamed()
    {
        var runtime = await StartAsync(Handler("sink", "ok") + Handler("broken", "throw") + Rule("r1", "sink", "requests") + Rule("r2", "broken", "requests"));
        var request = new ReportRequest { RepeatedAttributesSemantics = ReportRequest.Types.RepeatedAttributesSemantics.IndependentEncoding };
        for (var i = 0; i < 5; i++)
        {
            request.Attributes.Add(new TestAttributes().Int64("response.code", 200 + i).Build());
        }

        ReportBatch.TryCreate(request, out var batch, out var error).ShouldBeTrue(error);
        var outcome = await runtime.ReportAsync(batch, CancellationToken.None);

        _probe.Calls.Where(c => c.Handler == "sink.handler.istio-system").ShouldHaveSingleItem().Count.ShouldBe(5);
        outcome.Errors.ShouldHaveSingleItem().ShouldContain("broken.handler.istio-system");
    }

    [Fact]
    public async Task Report_WithoutReportRules_OnlyChecks_AndABatchMadeThenIsDecodedOnceARuleReadsIt()
    {
        var runtime = await StartAsync(Handler("sink", "ok") + Rule("gate", "sink", "nothing"));
        runtime.HasReportRules.ShouldBeFalse();
        var request = new ReportRequest
        {
            Attributes =
            {
                new TestAttributes().String("destination.namespace", "shop").Int64("response.code", 200).Build(),
                new TestAttributes().Int64("response.code", 503).Build(),
                new TestAttributes().Int64("response.code", 404).Build(),
            },
        };
        var bytes = Google.Protobuf.MessageExtensions.ToByteArray(request);

        ReportBatch.TryCreate(bytes.AsMemory(), decode: false, out var batch, out var error).ShouldBeTrue(error);
        (await runtime.ReportAsync(batch, CancellationToken.None)).Errors.ShouldBeEmpty();
        batch.Release();
        _probe.Calls.ShouldBeEmpty();

        // Made while no rule acts on Report, dispatched after a change adds one (in the
        // destination's namespace only): the sets are decoded then, every one of them.
        ReportBatch.TryCreate(bytes.AsMemory(), decode: false, out batch, out error).ShouldBeTrue(error);
        var applied = new TaskCompletionSource<long>();
        runtime.Applied += g => applied.TrySetResult(g);
        _dir.Write("config.yaml", Instances + Handler("sink", "ok") + Rule("gate", "sink", "nothing") + """
            apiVersion: config.istio.io/v1alpha2
            kind: rule
            metadata: {name: shop-metrics, namespace: shop}
            spec:
              match: response.code == 503 || response.code == 404
              actions:
              - handler: sink.handler.istio-system
                instances: [requests.metric.istio-system]
            """);
        (await applied.Task.WaitAsync(TimeSpan.FromSeconds(10))).ShouldBe(2);
        runtime.HasReportRules.ShouldBeTrue();

        (await runtime.ReportAsync(batch, CancellationToken.None)).Errors.ShouldBeEmpty();
        batch.Release();

        _probe.Calls.ShouldBe([("sink.handler.istio-system", "metric", 2)]);
    }

    [Fact]
    public async Task Check_ReportOnlyRule_IsNotMatched_SoItsAttributesAreNotReferenced()
    {
        var runtime = await StartAsync(Handler("sink", "ok") + Handler("gate", "ok")
            + Rule("metrics", "sink", "requests", match: "request.path == \"/metrics-only\"")
            + Rule("gate", "gate", "nothing", match: "source.namespace == \"ns\""));
        var tracker = new ReferenceTracker();
        var bag = new DictionaryBag(tracker);

        (await runtime.CheckAsync(bag, CancellationToken.None)).StatusCode.ShouldBe(0);

        tracker.References.Select(r => r.Name).ShouldContain("source.namespace");
        tracker.References.Select(r => r.Name).ShouldNotContain("request.path");
    }

    [Fact]
    public async Task Reload_RemovedHandler_IsClosed_AndUnchangedOnesAreKept()
    {
        var runtime = await StartAsync(Handler("keep", "ok") + Handler("drop", "ok") + Rule("r1", "keep", "nothing") + Rule("r2", "drop", "nothing"));
        var applied = new TaskCompletionSource<long>();
        runtime.Applied += g => applied.TrySetResult(g);

        _dir.Write("config.yaml", Instances + Handler("keep", "ok") + Rule("r1", "keep", "nothing"));
        (await applied.Task.WaitAsync(TimeSpan.FromSeconds(10))).ShouldBe(2);
        await Task.Delay(200);

        _probe.Disposed.ShouldBe(["drop.handler.istio-system"]);
        (await runtime.CheckAsync(Bag(), CancellationToken.None)).StatusCode.ShouldBe(0);
    }
}
