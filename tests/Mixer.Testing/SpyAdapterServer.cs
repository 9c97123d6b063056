using System.Collections.Concurrent;
using System.Net;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Istio.Mixer.Adapter.Model.V1beta1;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Wire = Istio.Mixer.Template;

namespace Mixer.Testing;

/// <summary>What the spy adapter answers; change it between calls.</summary>
public sealed class SpyBehaviour
{
    /// <summary>The google.rpc code of every CheckResult (0: OK).</summary>
    public int CheckCode { get; set; }

    /// <summary>The status message of every CheckResult.</summary>
    public string CheckMessage { get; set; } = string.Empty;

    /// <summary>The CheckResult's valid duration.</summary>
    public TimeSpan ValidDuration { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>The CheckResult's valid use count.</summary>
    public int ValidUseCount { get; set; } = 50;

    /// <summary>How much of a requested quota is granted; null grants what was asked.</summary>
    public long? QuotaGrant { get; set; }

    /// <summary>Answer quota for a different instance name than was asked (a broken adapter).</summary>
    public bool QuotaWrongKey { get; set; }

    /// <summary>How long each Handle call waits before answering.</summary>
    public TimeSpan Delay { get; set; }

    /// <summary>How many of the next Handle calls fail with UNAVAILABLE before one succeeds.</summary>
    public int UnavailableBeforeSuccess { get; set; }

    /// <summary>The status code Validate answers with.</summary>
    public int ValidateCode { get; set; }
}

/// <summary>
/// A real out-of-process adapter on a loopback port: Istio 1.0's Handle*Service of every template
/// and InfrastructureBackend, implemented on the generated bases. It answers as
/// <see cref="Behaviour"/> says and records every request, so tests see exactly what Mixer sent.
/// It can be stopped and started again on the same port (an adapter that goes down and comes back).
/// </summary>
public sealed class SpyAdapterServer : IAsyncDisposable
{
    private WebApplication? _app;

    private SpyAdapterServer(int port) => Port = port;

    /// <summary>The port it listens on (127.0.0.1).</summary>
    public int Port { get; }

    /// <summary>"127.0.0.1:PORT", as a handler's connection.address.</summary>
    public string Address => $"127.0.0.1:{Port}";

    /// <summary>What it answers.</summary>
    public SpyBehaviour Behaviour { get; } = new();

    /// <summary>Every request received, in order (Handle requests, Validate, CreateSession, CloseSession).</summary>
    public ConcurrentQueue<IMessage> Requests { get; } = new();

    /// <summary>The <c>x-mixer-session-id</c> header of each Handle request (empty when absent).</summary>
    public ConcurrentQueue<string> SessionHeaders { get; } = new();

    /// <summary>Sessions opened, by id.</summary>
    public ConcurrentQueue<string> OpenedSessions { get; } = new();

    /// <summary>Sessions closed, by id.</summary>
    public ConcurrentQueue<string> ClosedSessions { get; } = new();

    /// <summary>How many Handle calls arrived (answered or not).</summary>
    public int HandleCalls => _handleCalls;

    private int _handleCalls;
    private int _sessions;

    /// <summary>The requests of type <typeparamref name="T"/> received so far.</summary>
    public IReadOnlyList<T> Received<T>()
        where T : IMessage => Requests.OfType<T>().ToList();

    /// <summary>Starts on <paramref name="port"/> (a free one when null).</summary>
    public static async Task<SpyAdapterServer> StartAsync(int? port = null)
    {
        var spy = new SpyAdapterServer(port ?? LoopbackPort.Free());
        await spy.StartListeningAsync().ConfigureAwait(false);
        return spy;
    }

    /// <summary>Stops listening: calls fail with UNAVAILABLE until <see cref="StartListeningAsync"/>.</summary>
    public async Task StopListeningAsync()
    {
        if (_app is { } app)
        {
            _app = null;
            await app.StopAsync().ConfigureAwait(false);
            await app.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Listens (again) on <see cref="Port"/>.</summary>
    public async Task StartListeningAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, Port, o => o.Protocols = HttpProtocols.Http2));
        builder.Services.AddGrpc();
        builder.Services.AddSingleton(this);
        var app = builder.Build();
        app.MapGrpcService<Metric>();
        app.MapGrpcService<LogEntry>();
        app.MapGrpcService<TraceSpan>();
        app.MapGrpcService<ReportNothing>();
        app.MapGrpcService<CheckNothing>();
        app.MapGrpcService<ListEntry>();
        app.MapGrpcService<Authorization>();
        app.MapGrpcService<ApiKey>();
        app.MapGrpcService<Quota>();
        app.MapGrpcService<Backend>();
        await app.StartAsync().ConfigureAwait(false);
        _app = app;
    }

    /// <inheritdoc/>
    public async ValueTask DisposeAsync() => await StopListeningAsync().ConfigureAwait(false);

    /// <summary>
    /// The base64 FileDescriptorSet of the spy's <c>adapter.spy.config.Params</c> (with its imports),
    /// as an <c>adapter</c> resource's <c>config</c>.
    /// </summary>
    public static string ParamsDescriptorBase64
    {
        get
        {
            var set = new FileDescriptorSet();
            foreach (var file in new[] { DurationReflection.Descriptor, TimestampReflection.Descriptor, SpyConfig.SpyConfigReflection.Descriptor })
            {
                set.File.Add(FileDescriptorProto.Parser.ParseFrom(file.SerializedData));
            }

            return Convert.ToBase64String(set.ToByteArray());
        }
    }

    private async Task Handle(IMessage request, ServerCallContext context)
    {
        Interlocked.Increment(ref _handleCalls);
        Requests.Enqueue(request);
        SessionHeaders.Enqueue(context.RequestHeaders.GetValue("x-mixer-session-id") ?? string.Empty);
        if (Behaviour.UnavailableBeforeSuccess > 0)
        {
            Behaviour.UnavailableBeforeSuccess--;
            throw new RpcException(new Status(StatusCode.Unavailable, "spy is warming up"));
        }

        if (Behaviour.Delay > TimeSpan.Zero)
        {
            await Task.Delay(Behaviour.Delay, context.CancellationToken).ConfigureAwait(false);
        }
    }

    private Istio.Mixer.Adapter.Model.V1beta1.CheckResult CheckResult() => new()
    {
        Status = new Google.Rpc.Status { Code = Behaviour.CheckCode, Message = Behaviour.CheckMessage },
        ValidDuration = Duration.FromTimeSpan(Behaviour.ValidDuration),
        ValidUseCount = Behaviour.ValidUseCount,
    };

    private sealed class Metric(SpyAdapterServer spy) : Wire.Metric.HandleMetricService.HandleMetricServiceBase
    {
        public override async Task<ReportResult> HandleMetric(Wire.Metric.HandleMetricRequest request, ServerCallContext context)
        {
            await spy.Handle(request, context);
            return new ReportResult();
        }
    }

    private sealed class LogEntry(SpyAdapterServer spy) : Wire.LogEntry.HandleLogEntryService.HandleLogEntryServiceBase
    {
        public override async Task<ReportResult> HandleLogEntry(Wire.LogEntry.HandleLogEntryRequest request, ServerCallContext context)
        {
            await spy.Handle(request, context);
            return new ReportResult();
        }
    }

    private sealed class TraceSpan(SpyAdapterServer spy) : Wire.TraceSpan.HandleTraceSpanService.HandleTraceSpanServiceBase
    {
        public override async Task<ReportResult> HandleTraceSpan(Wire.TraceSpan.HandleTraceSpanRequest request, ServerCallContext context)
        {
            await spy.Handle(request, context);
            return new ReportResult();
        }
    }

    private sealed class ReportNothing(SpyAdapterServer spy) : Wire.ReportNothing.HandleReportNothingService.HandleReportNothingServiceBase
    {
        public override async Task<ReportResult> HandleReportNothing(Wire.ReportNothing.HandleReportNothingRequest request, ServerCallContext context)
        {
            await spy.Handle(request, context);
            return new ReportResult();
        }
    }

    private sealed class CheckNothing(SpyAdapterServer spy) : Wire.CheckNothing.HandleCheckNothingService.HandleCheckNothingServiceBase
    {
        public override async Task<Istio.Mixer.Adapter.Model.V1beta1.CheckResult> HandleCheckNothing(Wire.CheckNothing.HandleCheckNothingRequest request, ServerCallContext context)
        {
            await spy.Handle(request, context);
            return spy.CheckResult();
        }
    }

    private sealed class ListEntry(SpyAdapterServer spy) : Wire.ListEntry.HandleListEntryService.HandleListEntryServiceBase
    {
        public override async Task<Istio.Mixer.Adapter.Model.V1beta1.CheckResult> HandleListEntry(Wire.ListEntry.HandleListEntryRequest request, ServerCallContext context)
        {
            await spy.Handle(request, context);
            return spy.CheckResult();
        }
    }

    private sealed class Authorization(SpyAdapterServer spy) : Wire.Authorization.HandleAuthorizationService.HandleAuthorizationServiceBase
    {
        public override async Task<Istio.Mixer.Adapter.Model.V1beta1.CheckResult> HandleAuthorization(Wire.Authorization.HandleAuthorizationRequest request, ServerCallContext context)
        {
            await spy.Handle(request, context);
            return spy.CheckResult();
        }
    }

    private sealed class ApiKey(SpyAdapterServer spy) : Wire.ApiKey.HandleApiKeyService.HandleApiKeyServiceBase
    {
        public override async Task<Istio.Mixer.Adapter.Model.V1beta1.CheckResult> HandleApiKey(Wire.ApiKey.HandleApiKeyRequest request, ServerCallContext context)
        {
            await spy.Handle(request, context);
            return spy.CheckResult();
        }
    }

    private sealed class Quota(SpyAdapterServer spy) : Wire.Quota.HandleQuotaService.HandleQuotaServiceBase
    {
        public override async Task<QuotaResult> HandleQuota(Wire.Quota.HandleQuotaRequest request, ServerCallContext context)
        {
            await spy.Handle(request, context);
            var result = new QuotaResult();
            foreach (var (name, ask) in request.QuotaRequest.Quotas)
            {
                result.Quotas[spy.Behaviour.QuotaWrongKey ? name + "-other" : name] = new QuotaResult.Types.Result
                {
                    GrantedAmount = spy.Behaviour.QuotaGrant ?? ask.Amount,
                    ValidDuration = Duration.FromTimeSpan(TimeSpan.FromSeconds(7)),
                };
            }

            return result;
        }
    }

    private sealed class Backend(SpyAdapterServer spy) : InfrastructureBackend.InfrastructureBackendBase
    {
        public override Task<ValidateResponse> Validate(ValidateRequest request, ServerCallContext context)
        {
            spy.Requests.Enqueue(request);
            return Task.FromResult(new ValidateResponse
            {
                Status = new Google.Rpc.Status { Code = spy.Behaviour.ValidateCode, Message = spy.Behaviour.ValidateCode == 0 ? string.Empty : "spy does not like this config" },
            });
        }

        public override Task<CreateSessionResponse> CreateSession(CreateSessionRequest request, ServerCallContext context)
        {
            spy.Requests.Enqueue(request);
            var id = $"session-{Interlocked.Increment(ref spy._sessions)}";
            spy.OpenedSessions.Enqueue(id);
            return Task.FromResult(new CreateSessionResponse { SessionId = id, Status = new Google.Rpc.Status() });
        }

        public override Task<CloseSessionResponse> CloseSession(CloseSessionRequest request, ServerCallContext context)
        {
            spy.Requests.Enqueue(request);
            spy.ClosedSessions.Enqueue(request.SessionId);
            return Task.FromResult(new CloseSessionResponse { Status = new Google.Rpc.Status() });
        }
    }
}
