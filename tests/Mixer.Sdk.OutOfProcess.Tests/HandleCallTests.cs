using System.Net;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Mixer.Sdk.Templates;
using Policy = Istio.Policy.V1beta1;
using T = Istio.Mixer.Template;

namespace Mixer.Sdk.OutOfProcess.Tests;

/// <summary>Handle calls of each template variety, over real loopback gRPC, session-less (params in every call, as Istio 1.0 sends them).</summary>
public sealed class HandleCallTests : IAsyncLifetime
{
    private readonly RecorderAdapter _adapter = new();
    private HostedAdapter _host = null!;

    public async Task InitializeAsync() => _host = await HostedAdapter.StartAsync(_adapter);

    public async Task DisposeAsync() => await _host.DisposeAsync();

    private static readonly Any DenyBad = HostedAdapter.Params("""{"deny_values": ["bad"], "valid_duration": "7s", "valid_use_count": 42, "grant": 5}""");

    [Fact]
    public async Task ListEntry_DeniedValue_IsTheHandlersStatusWithItsValidity()
    {
        var client = new T.ListEntry.HandleListEntryService.HandleListEntryServiceClient(_host.Channel);

        var denied = await client.HandleListEntryAsync(new T.ListEntry.HandleListEntryRequest
        {
            Instance = new T.ListEntry.InstanceMsg { Name = "caller.instance.istio-system", Value = "bad" },
            AdapterConfig = DenyBad,
            DedupId = "1",
        });
        var allowed = await client.HandleListEntryAsync(new T.ListEntry.HandleListEntryRequest
        {
            Instance = new T.ListEntry.InstanceMsg { Name = "caller.instance.istio-system", Value = "good" },
            AdapterConfig = DenyBad,
            DedupId = "2",
        });

        denied.Status.Code.ShouldBe(7);
        denied.Status.Message.ShouldBe("bad is denied");
        denied.ValidDuration.ToTimeSpan().ShouldBe(TimeSpan.FromSeconds(7));
        denied.ValidUseCount.ShouldBe(42);
        allowed.Status.Code.ShouldBe(0);
        allowed.ValidUseCount.ShouldBe(42);
        _adapter.Built.Count.ShouldBe(1, "the same params are built once and reused");
    }

    [Fact]
    public async Task Authorization_Instance_ReachesTheHandlerWithSubjectActionAndProperties()
    {
        var client = new T.Authorization.HandleAuthorizationService.HandleAuthorizationServiceClient(_host.Channel);
        var msg = new T.Authorization.InstanceMsg
        {
            Name = "authz.instance.istio-system",
            Subject = new T.Authorization.SubjectMsg { User = "bad", Groups = "admins,dev" },
            Action = new T.Authorization.ActionMsg { Namespace = "default", Service = "ratings", Method = "GET", Path = "/r" },
        };
        msg.Subject.Properties["iss"] = new Policy.Value { StringValue = "issuer" };
        msg.Action.Properties["version"] = new Policy.Value { Int64Value = 2 };

        var r = await client.HandleAuthorizationAsync(new T.Authorization.HandleAuthorizationRequest { Instance = msg, AdapterConfig = DenyBad });

        r.Status.Code.ShouldBe(7);
        var seen = _adapter.Built.Single().Calls.OfType<AuthorizationInstance>().Single();
        seen.Name.ShouldBe("authz.instance.istio-system");
        seen.Subject.Groups.ShouldBe("admins,dev");
        seen.Subject.Properties["iss"].ShouldBe(AttributeValue.String("issuer"));
        seen.Action.Service.ShouldBe("ratings");
        seen.Action.Path.ShouldBe("/r");
        seen.Action.Properties["version"].ShouldBe(AttributeValue.Int64(2));
    }

    [Fact]
    public async Task CheckNothingAndApiKey_AreServed()
    {
        var nothing = await new T.CheckNothing.HandleCheckNothingService.HandleCheckNothingServiceClient(_host.Channel)
            .HandleCheckNothingAsync(new T.CheckNothing.HandleCheckNothingRequest { Instance = new() { Name = "n.instance.ns" }, AdapterConfig = DenyBad });
        var key = await new T.ApiKey.HandleApiKeyService.HandleApiKeyServiceClient(_host.Channel)
            .HandleApiKeyAsync(new T.ApiKey.HandleApiKeyRequest
            {
                Instance = new T.ApiKey.InstanceMsg
                {
                    Name = "k.instance.ns",
                    ApiKey = "bad",
                    Api = "ratings",
                    Timestamp = new Policy.TimeStamp { Value = new Timestamp { Seconds = 1_500_000_000, Nanos = 5 } },
                },
                AdapterConfig = DenyBad,
            });

        nothing.Status.Code.ShouldBe(0);
        key.Status.Code.ShouldBe(7);
        var seen = _adapter.Built.Single().Calls.OfType<ApiKeyInstance>().Single();
        seen.Api.ShouldBe("ratings");
        seen.Timestamp.ShouldBe(AttributeValue.Timestamp(1_500_000_000, 5));
    }

    [Fact]
    public async Task Metric_EveryValueBranch_ReachesTheHandlerAsTheSdkValue()
    {
        var client = new T.Metric.HandleMetricService.HandleMetricServiceClient(_host.Channel);
        var msg = new T.Metric.InstanceMsg { Name = "requestcount.instance.istio-system", Value = new Policy.Value { Int64Value = 1 }, MonitoredResourceType = "UNSPECIFIED" };
        msg.Dimensions["s"] = new Policy.Value { StringValue = "text" };
        msg.Dimensions["d"] = new Policy.Value { DoubleValue = 1.5 };
        msg.Dimensions["b"] = new Policy.Value { BoolValue = true };
        msg.Dimensions["ip"] = new Policy.Value { IpAddressValue = new Policy.IPAddress { Value = ByteString.CopyFrom(10, 0, 0, 1) } };
        msg.Dimensions["ts"] = new Policy.Value { TimestampValue = new Policy.TimeStamp { Value = new Timestamp { Seconds = 10, Nanos = 20 } } };
        msg.Dimensions["dur"] = new Policy.Value { DurationValue = new Policy.Duration { Value = new Duration { Seconds = 1, Nanos = 500_000_000 } } };
        msg.Dimensions["email"] = new Policy.Value { EmailAddressValue = new Policy.EmailAddress { Value = "a@b.c" } };
        msg.Dimensions["dns"] = new Policy.Value { DnsNameValue = new Policy.DNSName { Value = "svc.cluster.local" } };
        msg.Dimensions["uri"] = new Policy.Value { UriValue = new Policy.Uri { Value = "http://x/y" } };
        msg.Dimensions["unset"] = new Policy.Value();
        msg.MonitoredResourceDimensions["pod"] = new Policy.Value { StringValue = "p1" };
        var second = new T.Metric.InstanceMsg { Name = "requestsize.instance.istio-system", Value = new Policy.Value { DoubleValue = 2.5 } };

        await client.HandleMetricAsync(new T.Metric.HandleMetricRequest { Instances = { msg, second }, AdapterConfig = DenyBad, DedupId = "9" });

        var seen = _adapter.Built.Single().Calls.OfType<MetricInstance>().ToList();
        seen.Select(m => m.Name).ShouldBe(["requestcount.instance.istio-system", "requestsize.instance.istio-system"]);
        var d = seen[0].Dimensions;
        seen[0].Value.ShouldBe(AttributeValue.Int64(1));
        d["s"].ShouldBe(AttributeValue.String("text"));
        d["d"].ShouldBe(AttributeValue.Double(1.5));
        d["b"].ShouldBe(AttributeValue.Bool(true));
        d["ip"].ShouldBe(AttributeValue.IpAddress(IPAddress.Parse("10.0.0.1")));
        d["ts"].ShouldBe(AttributeValue.Timestamp(10, 20));
        d["dur"].ShouldBe(AttributeValue.DurationNanos(1_500_000_000));
        d["email"].ShouldBe(AttributeValue.StringLike(ValueType.EmailAddress, "a@b.c"));
        d["dns"].ShouldBe(AttributeValue.StringLike(ValueType.DnsName, "svc.cluster.local"));
        d["uri"].ShouldBe(AttributeValue.StringLike(ValueType.Uri, "http://x/y"));
        d.ContainsKey("unset").ShouldBeFalse("a Value with no branch set is an absent entry");
        seen[0].MonitoredResourceType.ShouldBe("UNSPECIFIED");
        seen[0].MonitoredResourceDimensions["pod"].ShouldBe(AttributeValue.String("p1"));
        seen[1].Value.ShouldBe(AttributeValue.Double(2.5));
    }

    [Fact]
    public async Task LogEntryTraceSpanReportNothing_AreDeliveredAsBatches()
    {
        var log = new T.LogEntry.InstanceMsg
        {
            Name = "accesslog.instance.ns",
            Severity = "Info",
            Timestamp = new Policy.TimeStamp { Value = new Timestamp { Seconds = 100 } },
        };
        log.Variables["path"] = new Policy.Value { StringValue = "/a" };
        var span = new T.TraceSpan.InstanceMsg
        {
            Name = "span.instance.ns",
            TraceId = "t1",
            SpanId = "s1",
            SpanName = "GET /a",
            StartTime = new Policy.TimeStamp { Value = new Timestamp { Seconds = 1 } },
            EndTime = new Policy.TimeStamp { Value = new Timestamp { Seconds = 2 } },
            HttpStatusCode = 503,
            ClientSpan = true,
        };

        await new T.LogEntry.HandleLogEntryService.HandleLogEntryServiceClient(_host.Channel)
            .HandleLogEntryAsync(new T.LogEntry.HandleLogEntryRequest { Instances = { log }, AdapterConfig = DenyBad });
        await new T.TraceSpan.HandleTraceSpanService.HandleTraceSpanServiceClient(_host.Channel)
            .HandleTraceSpanAsync(new T.TraceSpan.HandleTraceSpanRequest { Instances = { span }, AdapterConfig = DenyBad });
        await new T.ReportNothing.HandleReportNothingService.HandleReportNothingServiceClient(_host.Channel)
            .HandleReportNothingAsync(new T.ReportNothing.HandleReportNothingRequest { Instances = { new T.ReportNothing.InstanceMsg { Name = "r.instance.ns" } }, AdapterConfig = DenyBad });

        var calls = _adapter.Built.Single().Calls.ToList();
        var l = calls.OfType<LogEntryInstance>().Single();
        l.Severity.ShouldBe("Info");
        l.Timestamp.ShouldBe(AttributeValue.Timestamp(100, 0));
        l.Variables["path"].ShouldBe(AttributeValue.String("/a"));
        var s = calls.OfType<TraceSpanInstance>().Single();
        s.TraceId.ShouldBe("t1");
        s.EndTime.ShouldBe(AttributeValue.Timestamp(2, 0));
        s.HttpStatusCode.ShouldBe(503);
        s.ClientSpan.ShouldBeTrue();
        calls.OfType<ReportNothingInstance>().Single().Name.ShouldBe("r.instance.ns");
    }

    [Fact]
    public async Task Quota_GrantsUpToTheConfiguredAmount_KeyedByInstanceName_WithTheDedupId()
    {
        var client = new T.Quota.HandleQuotaService.HandleQuotaServiceClient(_host.Channel);
        var msg = new T.Quota.InstanceMsg { Name = "requestcount.instance.istio-system" };
        msg.Dimensions["source"] = new Policy.Value { StringValue = "reviews" };
        var request = new T.Quota.HandleQuotaRequest
        {
            Instance = msg,
            AdapterConfig = DenyBad,
            DedupId = "check-7requestcount",
            QuotaRequest = new Istio.Mixer.Adapter.Model.V1beta1.QuotaRequest(),
        };
        request.QuotaRequest.Quotas["requestcount.instance.istio-system"] = new() { Amount = 8, BestEffort = true };

        var r = await client.HandleQuotaAsync(request);

        var result = r.Quotas["requestcount.instance.istio-system"];
        result.GrantedAmount.ShouldBe(5);
        result.ValidDuration.ToTimeSpan().ShouldBe(TimeSpan.FromSeconds(7));
        var (instance, args) = ((QuotaInstance, Mixer.Sdk.Adapters.QuotaRequest))_adapter.Built.Single().Calls.Single();
        instance.Dimensions["source"].ShouldBe(AttributeValue.String("reviews"));
        args.Amount.ShouldBe(8);
        args.BestEffort.ShouldBeTrue();
        args.DeduplicationId.ShouldBe("check-7requestcount");
    }

    [Fact]
    public async Task Quota_RequestWithoutAnEntryForTheInstance_IsInvalidArgument()
    {
        var client = new T.Quota.HandleQuotaService.HandleQuotaServiceClient(_host.Channel);
        var request = new T.Quota.HandleQuotaRequest { Instance = new T.Quota.InstanceMsg { Name = "q.instance.ns" }, AdapterConfig = DenyBad };

        var e = await Should.ThrowAsync<RpcException>(() => client.HandleQuotaAsync(request).ResponseAsync);

        e.StatusCode.ShouldBe(StatusCode.InvalidArgument);
        e.Status.Detail.ShouldContain("quota_request has no entry for instance 'q.instance.ns'");
    }

    [Fact]
    public async Task DifferentParams_BuildDifferentHandlers_SameParamsReuseOne()
    {
        var client = new T.ListEntry.HandleListEntryService.HandleListEntryServiceClient(_host.Channel);
        var other = HostedAdapter.Params("""{"deny_values": ["good"]}""");

        var a = await client.HandleListEntryAsync(new() { Instance = new() { Name = "i", Value = "good" }, AdapterConfig = DenyBad });
        var b = await client.HandleListEntryAsync(new() { Instance = new() { Name = "i", Value = "good" }, AdapterConfig = other });
        var c = await client.HandleListEntryAsync(new() { Instance = new() { Name = "i", Value = "good" }, AdapterConfig = HostedAdapter.Params("""{"deny_values": ["good"]}""") });

        a.Status.Code.ShouldBe(0);
        b.Status.Code.ShouldBe(7);
        c.Status.Code.ShouldBe(7);
        _adapter.Built.Count.ShouldBe(2);
        _host.Running.HandlerCount.ShouldBe(2);
    }

    [Fact]
    public async Task StructParams_SnakeCaseKeysAndWholeNumbers_ReachTheAdapterAsCamelCaseJsonIntegers()
    {
        var client = new T.ListEntry.HandleListEntryService.HandleListEntryServiceClient(_host.Channel);

        await client.HandleListEntryAsync(new()
        {
            Instance = new() { Name = "i", Value = "x" },
            AdapterConfig = HostedAdapter.Params("""{"valid_use_count": 3, "labels": {"team_name": "a"}, "valid_duration": "1.5s"}"""),
        });

        var json = _adapter.ParamsSeen.Single();
        json.GetProperty("validUseCount").GetRawText().ShouldBe("3");
        json.GetProperty("validDuration").GetString().ShouldBe("1.5s");
        json.GetProperty("labels").GetProperty("teamName").GetString().ShouldBe("a", "keys are camelCased at every level, as in process");
    }

    [Fact]
    public async Task NoAdapterConfig_BuildsTheHandlerFromEmptyParams()
    {
        var client = new T.ListEntry.HandleListEntryService.HandleListEntryServiceClient(_host.Channel);

        var r = await client.HandleListEntryAsync(new() { Instance = new() { Name = "i", Value = "bad" } });

        r.Status.Code.ShouldBe(0);
        _adapter.Built.Single().Params.DenyValues.ShouldBeEmpty();
    }

    [Fact]
    public async Task InvalidParams_InAHandleCall_IsInvalidArgumentNamingTheField_AndNothingIsBuilt()
    {
        var client = new T.ListEntry.HandleListEntryService.HandleListEntryServiceClient(_host.Channel);
        var bad = HostedAdapter.Params("""{"grant": -1, "validUseCount": -2}""");

        var e = await Should.ThrowAsync<RpcException>(() => client.HandleListEntryAsync(new() { Instance = new() { Name = "i", Value = "x" }, AdapterConfig = bad }).ResponseAsync);
        var again = await Should.ThrowAsync<RpcException>(() => client.HandleListEntryAsync(new() { Instance = new() { Name = "i", Value = "x" }, AdapterConfig = bad }).ResponseAsync);

        e.StatusCode.ShouldBe(StatusCode.InvalidArgument);
        e.Status.Detail.ShouldBe("adapter 'recorder': invalid params: grant: must not be negative, it is -1; validUseCount: must not be negative, it is -2");
        again.Status.Detail.ShouldBe(e.Status.Detail);
        _adapter.Built.ShouldBeEmpty();
    }

    [Fact]
    public async Task UnknownParamsField_IsInvalidArgumentNamingIt()
    {
        var client = new T.Metric.HandleMetricService.HandleMetricServiceClient(_host.Channel);

        var e = await Should.ThrowAsync<RpcException>(() => client.HandleMetricAsync(new() { AdapterConfig = HostedAdapter.Params("""{"grnat": 1}""") }).ResponseAsync);

        e.StatusCode.ShouldBe(StatusCode.InvalidArgument);
        e.Status.Detail.ShouldContain("grnat: unknown field");
    }

    [Fact]
    public async Task ParamsOfAnUnknownType_AreInvalidArgumentSayingWhatIsRead()
    {
        var client = new T.Metric.HandleMetricService.HandleMetricServiceClient(_host.Channel);

        var e = await Should.ThrowAsync<RpcException>(() => client.HandleMetricAsync(new() { AdapterConfig = Any.Pack(new Int32Value { Value = 1 }) }).ResponseAsync);

        e.StatusCode.ShouldBe(StatusCode.InvalidArgument);
        e.Status.Detail.ShouldContain("adapter_config has type 'type.googleapis.com/google.protobuf.Int32Value'; this adapter reads type.googleapis.com/google.protobuf.Struct");
    }

    [Fact]
    public async Task HandlerException_IsInternalNamingHandlerAndMethod_AndTheAdapterKeepsServing()
    {
        var client = new T.ListEntry.HandleListEntryService.HandleListEntryServiceClient(_host.Channel);
        var failing = HostedAdapter.Params("""{"failOn": "boom"}""");

        var e = await Should.ThrowAsync<RpcException>(() => client.HandleListEntryAsync(new() { Instance = new() { Name = "i", Value = "boom" }, AdapterConfig = failing }).ResponseAsync);
        var next = await client.HandleListEntryAsync(new() { Instance = new() { Name = "i", Value = "fine" }, AdapterConfig = failing });

        e.StatusCode.ShouldBe(StatusCode.Internal);
        e.Status.Detail.ShouldMatch(@"^handler recorder-[0-9a-f]{8} of adapter 'recorder' failed in HandleListEntry: InvalidOperationException: lookup of boom failed$");
        next.Status.Code.ShouldBe(0);
    }

    [Fact]
    public async Task ReportHandlerException_IsInternalStatus()
    {
        var client = new T.LogEntry.HandleLogEntryService.HandleLogEntryServiceClient(_host.Channel);

        var e = await Should.ThrowAsync<RpcException>(() => client.HandleLogEntryAsync(new()
        {
            Instances = { new T.LogEntry.InstanceMsg { Name = "kaput.instance.ns" } },
            AdapterConfig = HostedAdapter.Params("""{"failOn": "kaput"}"""),
        }).ResponseAsync);

        e.StatusCode.ShouldBe(StatusCode.Internal);
        e.Status.Detail.ShouldContain("failed in HandleLogEntry: InvalidOperationException: cannot record kaput.instance.ns");
    }

    [Fact]
    public async Task BuildFailure_IsInternalSayingWhy_AndIsRetriedOnTheNextCall()
    {
        var client = new T.ListEntry.HandleListEntryService.HandleListEntryServiceClient(_host.Channel);
        var cfg = HostedAdapter.Params("""{"failBuild": true}""");

        var first = await Should.ThrowAsync<RpcException>(() => client.HandleListEntryAsync(new() { Instance = new() { Name = "i", Value = "x" }, AdapterConfig = cfg }).ResponseAsync);
        _ = await Should.ThrowAsync<RpcException>(() => client.HandleListEntryAsync(new() { Instance = new() { Name = "i", Value = "x" }, AdapterConfig = cfg }).ResponseAsync);

        first.StatusCode.ShouldBe(StatusCode.Internal);
        first.Status.Detail.ShouldMatch(@"^adapter 'recorder' could not build handler recorder-[0-9a-f]{8}: InvalidOperationException: backend unreachable$");
        _adapter.ParamsSeen.Count.ShouldBe(2, "a failed build is not cached: the backend may be back");
    }

    [Fact]
    public async Task BadIpAddressBytes_AreInvalidArgumentNamingInstanceAndField()
    {
        var client = new T.Metric.HandleMetricService.HandleMetricServiceClient(_host.Channel);
        var msg = new T.Metric.InstanceMsg { Name = "m.instance.ns" };
        msg.Dimensions["src"] = new Policy.Value { IpAddressValue = new Policy.IPAddress { Value = ByteString.CopyFrom(1, 2, 3) } };

        var e = await Should.ThrowAsync<RpcException>(() => client.HandleMetricAsync(new() { Instances = { msg }, AdapterConfig = DenyBad }).ResponseAsync);

        e.StatusCode.ShouldBe(StatusCode.InvalidArgument);
        e.Status.Detail.ShouldStartWith("adapter 'recorder' HandleMetric: instance 'm.instance.ns' field dimensions[src]: an IP address has 4 or 16 bytes, not 3");
    }

    [Fact]
    public async Task CheckCallWithoutInstance_IsInvalidArgument()
    {
        var client = new T.ListEntry.HandleListEntryService.HandleListEntryServiceClient(_host.Channel);

        var e = await Should.ThrowAsync<RpcException>(() => client.HandleListEntryAsync(new() { AdapterConfig = DenyBad }).ResponseAsync);

        e.StatusCode.ShouldBe(StatusCode.InvalidArgument);
        e.Status.Detail.ShouldContain("the request carries no instance");
    }

    [Fact]
    public async Task HandlerCounters_AreInstrumentsOfTheHostsMeter_TaggedWithAdapterAndHandler()
    {
        var client = new T.ListEntry.HandleListEntryService.HandleListEntryServiceClient(_host.Channel);
        var cfg = HostedAdapter.Params($$$"""{"labels": {"run": "{{{Guid.NewGuid()}}}"}}""");
        var seen = new System.Collections.Concurrent.ConcurrentQueue<(long Value, string Tags)>();
        using var listener = new System.Diagnostics.Metrics.MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == "Mixer.Sdk.OutOfProcess" && instrument.Name == "recorder_checks_total")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
            seen.Enqueue((value, string.Join(",", tags.ToArray().Select(t => $"{t.Key}={t.Value}")))));
        listener.Start();

        await client.HandleListEntryAsync(new() { Instance = new() { Name = "i", Value = "a" }, AdapterConfig = cfg });
        await client.HandleListEntryAsync(new() { Instance = new() { Name = "i", Value = "b" }, AdapterConfig = cfg });

        var handler = _adapter.Built.Single().Context.HandlerName;
        seen.Where(m => m.Tags == $"adapter=recorder,handler={handler}").Sum(m => m.Value).ShouldBe(2);
    }

    [Fact]
    public async Task DeadlineShorterThanTheHandler_IsDeadlineExceeded_AndTheHandlerStaysUsable()
    {
        var client = new T.Quota.HandleQuotaService.HandleQuotaServiceClient(_host.Channel);
        var slow = HostedAdapter.Params("""{"delay": "5s", "grant": 1}""");
        T.Quota.HandleQuotaRequest Request(string name)
        {
            var r = new T.Quota.HandleQuotaRequest { Instance = new() { Name = name }, AdapterConfig = slow, QuotaRequest = new() };
            r.QuotaRequest.Quotas[name] = new() { Amount = 1 };
            return r;
        }

        // Built first (the recorder delays only instances named slow*), so the deadline is spent in the handler.
        (await client.HandleQuotaAsync(Request("warm"))).Quotas["warm"].GrantedAmount.ShouldBe(1);
        var e = await Should.ThrowAsync<RpcException>(() => client.HandleQuotaAsync(Request("slow"), deadline: DateTime.UtcNow.AddMilliseconds(300)).ResponseAsync);
        var after = await client.HandleQuotaAsync(Request("warm"));

        e.StatusCode.ShouldBe(StatusCode.DeadlineExceeded);
        after.Quotas["warm"].GrantedAmount.ShouldBe(1);
        _adapter.Built.Single().Disposed.ShouldBeFalse();
    }
}
