using Mixer.Testing;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Istio.Mixer.Adapter.Model.V1beta1;
using Microsoft.Extensions.Time.Testing;
using T = Istio.Mixer.Template;

namespace Mixer.Sdk.OutOfProcess.Tests;

/// <summary>Validate, CreateSession and CloseSession, and the handler lifecycle they and the idle timer drive.</summary>
public sealed class InfrastructureBackendTests
{
    private static readonly Any Good = HostedAdapter.Params("""{"denyValues": ["bad"]}""");

    [Fact]
    public async Task Validate_GoodParams_IsOk_AndBuildsNothing()
    {
        var adapter = new RecorderAdapter();
        await using var host = await HostedAdapter.StartAsync(adapter);

        var r = await new InfrastructureBackend.InfrastructureBackendClient(host.Channel).ValidateAsync(new ValidateRequest { AdapterConfig = Good });

        r.Status.Code.ShouldBe(0);
        adapter.Built.ShouldBeEmpty();
    }

    [Fact]
    public async Task Validate_BadParams_IsInvalidArgumentNamingEveryField_WithBadRequestDetails()
    {
        await using var host = await HostedAdapter.StartAsync(new RecorderAdapter());

        var r = await new InfrastructureBackend.InfrastructureBackendClient(host.Channel).ValidateAsync(new ValidateRequest
        {
            AdapterConfig = HostedAdapter.Params("""{"grant": -3, "valid_use_count": -1}"""),
        });

        r.Status.Code.ShouldBe((int)StatusCode.InvalidArgument);
        r.Status.Message.ShouldBe("adapter 'recorder': invalid params: grant: must not be negative, it is -3; validUseCount: must not be negative, it is -1");
        var details = r.Status.Details.Single().Unpack<Google.Rpc.BadRequest>();
        details.FieldViolations.Select(v => v.Field).ShouldBe(["grant", "validUseCount"]);
    }

    [Fact]
    public async Task Validate_WrongTypedField_IsInvalidArgumentNamingIt()
    {
        await using var host = await HostedAdapter.StartAsync(new RecorderAdapter());

        var r = await new InfrastructureBackend.InfrastructureBackendClient(host.Channel).ValidateAsync(new ValidateRequest
        {
            AdapterConfig = HostedAdapter.Params("""{"denyValues": "bad"}"""),
        });

        r.Status.Code.ShouldBe((int)StatusCode.InvalidArgument);
        r.Status.Message.ShouldContain("denyValues: has the wrong type (expected a list)");
    }

    [Fact]
    public async Task Validate_InstanceOfATemplateTheAdapterDoesNotServe_IsInvalidArgument()
    {
        await using var host = await HostedAdapter.StartAsync(new RecorderAdapter("listentry"));
        var request = new ValidateRequest { AdapterConfig = Good };
        request.InferredTypes["requestcount.instance.istio-system"] = new Any { TypeUrl = "metric.Type", Value = new T.Metric.Type().ToByteString() };

        var r = await new InfrastructureBackend.InfrastructureBackendClient(host.Channel).ValidateAsync(request);

        r.Status.Code.ShouldBe((int)StatusCode.InvalidArgument);
        r.Status.Message.ShouldBe("instance 'requestcount.instance.istio-system' is of template 'metric' (type metric.Type), which adapter 'recorder' does not serve (it serves listentry)");
    }

    [Fact]
    public async Task CreateSession_BuildsTheHandler_HandleCallsUseItBySessionId_CloseSessionDisposesIt()
    {
        var adapter = new RecorderAdapter();
        await using var host = await HostedAdapter.StartAsync(adapter);
        var backend = new InfrastructureBackend.InfrastructureBackendClient(host.Channel);
        var list = new T.ListEntry.HandleListEntryService.HandleListEntryServiceClient(host.Channel);
        var create = new CreateSessionRequest { AdapterConfig = Good };
        create.InferredTypes["caller.instance.istio-system"] = Any.Pack(new T.ListEntry.Type());

        var session = await backend.CreateSessionAsync(create);
        var denied = await list.HandleListEntryAsync(new() { Instance = new() { Name = "caller.instance.istio-system", Value = "bad" }, AdapterConfig = HostedAdapter.Session(session.SessionId) });
        var closed = await backend.CloseSessionAsync(new CloseSessionRequest { SessionId = session.SessionId });
        var after = await Should.ThrowAsync<RpcException>(() => list.HandleListEntryAsync(new() { Instance = new() { Name = "i", Value = "bad" }, AdapterConfig = HostedAdapter.Session(session.SessionId) }).ResponseAsync);

        session.Status.Code.ShouldBe(0);
        session.SessionId.ShouldNotBeNullOrEmpty();
        denied.Status.Code.ShouldBe(7);
        closed.Status.Code.ShouldBe(0);
        var handler = adapter.Built.Single();
        handler.Context.Instances.ShouldBe(new Dictionary<string, string> { ["caller.instance.istio-system"] = "listentry" });
        await Eventually.UntilAsync(() => handler.Disposed, "the handler is disposed", TimeSpan.FromSeconds(5));
        after.StatusCode.ShouldBe(StatusCode.FailedPrecondition);
        after.Status.Detail.ShouldContain($"has no session '{session.SessionId}'");
        host.Running.SessionCount.ShouldBe(0);
    }

    [Fact]
    public async Task SessionBasedCall_NamingItsSessionInTheHeader_UsesThatSession()
    {
        var adapter = new RecorderAdapter();
        await using var host = await HostedAdapter.StartAsync(adapter);
        var backend = new InfrastructureBackend.InfrastructureBackendClient(host.Channel);
        var list = new T.ListEntry.HandleListEntryService.HandleListEntryServiceClient(host.Channel);
        var a = await backend.CreateSessionAsync(new CreateSessionRequest { AdapterConfig = Good });
        var b = await backend.CreateSessionAsync(new CreateSessionRequest { AdapterConfig = HostedAdapter.Params("""{"denyValues": ["other"]}""") });

        var viaA = await list.HandleListEntryAsync(new() { Instance = new() { Name = "i", Value = "bad" } }, new Metadata { { "x-mixer-session-id", a.SessionId } });
        var viaB = await list.HandleListEntryAsync(new() { Instance = new() { Name = "i", Value = "bad" } }, new Metadata { { "x-mixer-session-id", b.SessionId } });

        viaA.Status.Code.ShouldBe(7);
        viaB.Status.Code.ShouldBe(0);
    }

    [Fact]
    public async Task SessionBasedCall_WithoutAdapterConfig_UsesTheOnlySession_AndIsRefusedWhenSeveralAreOpen()
    {
        var adapter = new RecorderAdapter();
        await using var host = await HostedAdapter.StartAsync(adapter);
        var backend = new InfrastructureBackend.InfrastructureBackendClient(host.Channel);
        var list = new T.ListEntry.HandleListEntryService.HandleListEntryServiceClient(host.Channel);
        _ = await backend.CreateSessionAsync(new CreateSessionRequest { AdapterConfig = Good });

        var one = await list.HandleListEntryAsync(new() { Instance = new() { Name = "i", Value = "bad" } });
        _ = await backend.CreateSessionAsync(new CreateSessionRequest { AdapterConfig = HostedAdapter.Params("""{"denyValues": ["other"]}""") });
        var two = await Should.ThrowAsync<RpcException>(() => list.HandleListEntryAsync(new() { Instance = new() { Name = "i", Value = "bad" } }).ResponseAsync);

        one.Status.Code.ShouldBe(7);
        two.StatusCode.ShouldBe(StatusCode.FailedPrecondition);
        two.Status.Detail.ShouldContain("has 2 sessions open");
    }

    [Fact]
    public async Task TwoSessionsWithTheSameParams_ShareOneHandler_DisposedWhenTheLastCloses()
    {
        var adapter = new RecorderAdapter();
        await using var host = await HostedAdapter.StartAsync(adapter);
        var backend = new InfrastructureBackend.InfrastructureBackendClient(host.Channel);

        var a = await backend.CreateSessionAsync(new CreateSessionRequest { AdapterConfig = Good });
        var b = await backend.CreateSessionAsync(new CreateSessionRequest { AdapterConfig = Good });
        await backend.CloseSessionAsync(new CloseSessionRequest { SessionId = a.SessionId });
        var disposedAfterFirst = adapter.Built.Single().Disposed;
        await backend.CloseSessionAsync(new CloseSessionRequest { SessionId = b.SessionId });

        a.SessionId.ShouldNotBe(b.SessionId);
        adapter.Built.Count.ShouldBe(1);
        disposedAfterFirst.ShouldBeFalse();
        await Eventually.UntilAsync(() => adapter.Built.Single().Disposed, "the built handler is disposed", TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task CloseSession_WhileACallIsInFlight_DisposesTheHandlerOnlyAfterTheCallAnswers()
    {
        var adapter = new RecorderAdapter();
        await using var host = await HostedAdapter.StartAsync(adapter);
        var backend = new InfrastructureBackend.InfrastructureBackendClient(host.Channel);
        var session = await backend.CreateSessionAsync(new CreateSessionRequest { AdapterConfig = HostedAdapter.Params("""{"delay": "2s", "denyValues": ["bad"]}""") });
        var handler = adapter.Built.Single();

        var call = new T.ListEntry.HandleListEntryService.HandleListEntryServiceClient(host.Channel)
            .HandleListEntryAsync(new() { Instance = new() { Name = "i", Value = "bad" } }, new Metadata { { "x-mixer-session-id", session.SessionId } }).ResponseAsync;
        await Eventually.UntilAsync(() => handler.Entered == 1, "the call is in the handler", TimeSpan.FromSeconds(5));
        await backend.CloseSessionAsync(new CloseSessionRequest { SessionId = session.SessionId });
        var disposedWhileInFlight = handler.Disposed;
        var answer = await call;

        disposedWhileInFlight.ShouldBeFalse();
        answer.Status.Code.ShouldBe(7, "the call in flight finishes on its handler");
        await Eventually.UntilAsync(() => handler.Disposed, "the handler is disposed", TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task ManyConcurrentCallsWithNewParams_BuildTheHandlerOnce()
    {
        var adapter = new RecorderAdapter();
        await using var host = await HostedAdapter.StartAsync(adapter);
        var client = new T.ListEntry.HandleListEntryService.HandleListEntryServiceClient(host.Channel);
        var cfg = HostedAdapter.Params("""{"denyValues": ["bad"]}""");

        var answers = await Task.WhenAll(Enumerable.Range(0, 50).Select(i =>
            client.HandleListEntryAsync(new() { Instance = new() { Name = "i", Value = i % 2 == 0 ? "bad" : "ok" }, AdapterConfig = cfg }).ResponseAsync));

        adapter.Built.Count.ShouldBe(1);
        answers.Count(a => a.Status.Code == 7).ShouldBe(25);
        answers.Count(a => a.Status.Code == 0).ShouldBe(25);
    }

    [Fact]
    public async Task CreateSession_BadParams_IsInvalidArgumentStatus_AndNoSession()
    {
        var adapter = new RecorderAdapter();
        await using var host = await HostedAdapter.StartAsync(adapter);

        var r = await new InfrastructureBackend.InfrastructureBackendClient(host.Channel).CreateSessionAsync(new CreateSessionRequest
        {
            AdapterConfig = HostedAdapter.Params("""{"grant": -1}"""),
        });

        r.SessionId.ShouldBeEmpty();
        r.Status.Code.ShouldBe((int)StatusCode.InvalidArgument);
        r.Status.Message.ShouldContain("grant: must not be negative");
        host.Running.SessionCount.ShouldBe(0);
    }

    [Fact]
    public async Task CreateSession_BuildThrows_IsInternalStatusSayingWhy()
    {
        await using var host = await HostedAdapter.StartAsync(new RecorderAdapter());

        var r = await new InfrastructureBackend.InfrastructureBackendClient(host.Channel).CreateSessionAsync(new CreateSessionRequest
        {
            AdapterConfig = HostedAdapter.Params("""{"failBuild": true}"""),
        });

        r.Status.Code.ShouldBe((int)StatusCode.Internal);
        r.Status.Message.ShouldContain("InvalidOperationException: backend unreachable");
    }

    [Fact]
    public async Task CloseSession_Unknown_IsNotFound()
    {
        await using var host = await HostedAdapter.StartAsync(new RecorderAdapter());

        var r = await new InfrastructureBackend.InfrastructureBackendClient(host.Channel).CloseSessionAsync(new CloseSessionRequest { SessionId = "nope" });

        r.Status.Code.ShouldBe((int)StatusCode.NotFound);
        r.Status.Message.ShouldContain("no session 'nope'");
    }

    [Fact]
    public async Task Stop_DisposesEveryHandler()
    {
        var adapter = new RecorderAdapter();
        var host = await HostedAdapter.StartAsync(adapter);
        var list = new T.ListEntry.HandleListEntryService.HandleListEntryServiceClient(host.Channel);
        await list.HandleListEntryAsync(new() { Instance = new() { Name = "i", Value = "x" }, AdapterConfig = Good });
        await new InfrastructureBackend.InfrastructureBackendClient(host.Channel).CreateSessionAsync(new CreateSessionRequest { AdapterConfig = HostedAdapter.Params("{}") });

        await host.DisposeAsync();

        adapter.Built.Count.ShouldBe(2);
        adapter.Built.ShouldAllBe(h => h.Disposed);
    }

    [Fact]
    public async Task IdleHandler_IsDisposed_AndRebuiltByTheNextCall()
    {
        var adapter = new RecorderAdapter();
        var time = new FakeTimeProvider(DateTimeOffset.UnixEpoch);
        await using var host = await HostedAdapter.StartAsync(adapter, o =>
        {
            o.Time = time;
            o.IdleHandlerTimeout = TimeSpan.FromMinutes(10);
        });
        var list = new T.ListEntry.HandleListEntryService.HandleListEntryServiceClient(host.Channel);
        await list.HandleListEntryAsync(new() { Instance = new() { Name = "i", Value = "x" }, AdapterConfig = Good });

        time.Advance(TimeSpan.FromMinutes(5));
        var firstAfterFive = adapter.Built.Single().Disposed;
        time.Advance(TimeSpan.FromMinutes(6));
        await Eventually.UntilAsync(() => adapter.Built.Single().Disposed, "the built handler is disposed", TimeSpan.FromSeconds(5));
        await list.HandleListEntryAsync(new() { Instance = new() { Name = "i", Value = "x" }, AdapterConfig = Good });

        firstAfterFive.ShouldBeFalse();
        adapter.Built.Count.ShouldBe(2);
        host.Running.HandlerCount.ShouldBe(1);
    }

    [Fact]
    public async Task TemplateTheAdapterDoesNotServe_IsUnimplemented()
    {
        await using var host = await HostedAdapter.StartAsync(new RecorderAdapter("listentry"));

        var e = await Should.ThrowAsync<RpcException>(() => new T.Metric.HandleMetricService.HandleMetricServiceClient(host.Channel)
            .HandleMetricAsync(new T.Metric.HandleMetricRequest { AdapterConfig = Good }).ResponseAsync);

        e.StatusCode.ShouldBe(StatusCode.Unimplemented);
    }

    [Fact]
    public async Task AdapterNamingATemplateThatCannotBeServed_DoesNotStart()
    {
        var e = await Should.ThrowAsync<ArgumentException>(() => HostedAdapter.StartAsync(new RecorderAdapter("listentry", "kubernetes")));

        e.Message.ShouldStartWith("adapter 'recorder' names templates an out-of-process adapter cannot serve: kubernetes");
    }
}
