using System.Diagnostics;
using System.Globalization;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Istio.Mixer.Adapter.Model.V1beta1;
using Microsoft.Extensions.Logging;
using Mixer.Runtime.Dispatch;
using Mixer.Sdk.Adapters;
using Mixer.Sdk.Templates;
using CheckResult = Mixer.Sdk.Adapters.CheckResult;
using QuotaRequest = Mixer.Sdk.Adapters.QuotaRequest;
using QuotaResult = Mixer.Sdk.Adapters.QuotaResult;
using StatusCodes = Mixer.Sdk.Adapters.StatusCodes;
using Wire = Istio.Mixer.Template;

namespace Mixer.Runtime.Remote;

/// <summary>Everything a remote handler is built from.</summary>
/// <param name="HandlerName">The handler's fully qualified name.</param>
/// <param name="AdapterName">The adapter resource's name.</param>
/// <param name="Address">host:port of the adapter's gRPC server.</param>
/// <param name="SessionBased">Whether the adapter resource says <c>session_based: true</c>.</param>
/// <param name="AdapterConfig">The handler's params as sent: the adapter's config message, or a Struct.</param>
/// <param name="InferredTypes">Instance name to its template's inferred <c>Type</c>, for Validate and CreateSession.</param>
/// <param name="Deadline">How long one action may take, retries included (the dispatcher's deadline, or the connection's timeout when shorter).</param>
internal sealed record RemoteHandlerConfig(
    string HandlerName,
    string AdapterName,
    string Address,
    bool SessionBased,
    Any AdapterConfig,
    IReadOnlyDictionary<string, Any> InferredTypes,
    TimeSpan Deadline);

/// <summary>
/// A handler served by an out-of-process adapter over Istio 1.0's adapter model v1beta1: each
/// SDK call becomes one Handle&lt;Template&gt; call (Check and Quota: one instance; Report: the
/// batch) on a channel shared per address, under the dispatcher's deadline; UNAVAILABLE is
/// retried with bounded exponential backoff while the deadline allows. Failures surface as a
/// status naming the handler, adapter and address.
/// </summary>
/// <remarks>
/// Sessions (<c>session_based: true</c>): Istio 1.0's dynamic handlers never called
/// InfrastructureBackend (they only left <c>adapter_config</c> out of Handle requests); its
/// compiled-in <c>bypass</c> adapter did: Validate and CreateSession when the handler is built,
/// CloseSession when it closes. This handler does the same, lazily when the adapter is not
/// reachable at build time, and tells the adapter its session in the <c>x-mixer-session-id</c>
/// request header, since the 1.0 Handle requests have no field for it.
/// </remarks>
internal sealed partial class RemoteHandler :
    ICheckNothingHandler, IListEntryHandler, IAuthorizationHandler, IApiKeyHandler, IQuotaHandler,
    IMetricHandler, ILogEntryHandler, ITraceSpanHandler, IReportNothingHandler
{
    private const int MaxAttempts = 4;
    private static readonly TimeSpan s_firstBackoff = TimeSpan.FromMilliseconds(20);
    private static readonly TimeSpan s_maxBackoff = TimeSpan.FromMilliseconds(250);

    // After a call ran out of retries on UNAVAILABLE, calls within this window try once: an adapter
    // that is down must not slow every Check by the whole backoff, and one try still notices it is back.
    private const long DownWindowMs = 1000;

    private readonly RemoteHandlerConfig _config;
    private readonly RemoteChannels.Lease _channel;
    private readonly IRemoteCallMetrics _metrics;
    private readonly ILogger _logger;
    private readonly Dictionary<string, IRemoteTemplateMetrics> _templateMetrics = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _sessionLock = new(1, 1);
    private readonly Wire.Metric.HandleMetricService.HandleMetricServiceClient _metric;
    private readonly Wire.LogEntry.HandleLogEntryService.HandleLogEntryServiceClient _logEntry;
    private readonly Wire.TraceSpan.HandleTraceSpanService.HandleTraceSpanServiceClient _traceSpan;
    private readonly Wire.ReportNothing.HandleReportNothingService.HandleReportNothingServiceClient _reportNothing;
    private readonly Wire.CheckNothing.HandleCheckNothingService.HandleCheckNothingServiceClient _checkNothing;
    private readonly Wire.ListEntry.HandleListEntryService.HandleListEntryServiceClient _listEntry;
    private readonly Wire.Authorization.HandleAuthorizationService.HandleAuthorizationServiceClient _authorization;
    private readonly Wire.ApiKey.HandleApiKeyService.HandleApiKeyServiceClient _apiKey;
    private readonly Wire.Quota.HandleQuotaService.HandleQuotaServiceClient _quota;
    private readonly InfrastructureBackend.InfrastructureBackendClient _backend;
    private readonly Any? _requestConfig;
    private long _dedup;
    private long _downUntil;
    private string? _session;
    private int _disposed;

    private RemoteHandler(RemoteHandlerConfig config, IRemoteCallMetrics metrics, ILogger logger)
    {
        _config = config;
        _metrics = metrics;
        _logger = logger;
        _channel = RemoteChannels.Acquire(config.Address);
        var channel = _channel.Channel;
        _metric = new(channel);
        _logEntry = new(channel);
        _traceSpan = new(channel);
        _reportNothing = new(channel);
        _checkNothing = new(channel);
        _listEntry = new(channel);
        _authorization = new(channel);
        _apiKey = new(channel);
        _quota = new(channel);
        _backend = new(channel);

        // Istio: session-based adapters get their config at CreateSession, not in every request.
        _requestConfig = config.SessionBased ? null : config.AdapterConfig;

        // Istio seeds the dedup counter randomly so ids differ across Mixer restarts.
        _dedup = Random.Shared.NextInt64(long.MaxValue / 2);
    }

    /// <summary>
    /// Builds the handler. For a session-based adapter, validates the config and opens a session
    /// now; an adapter the config rejects fails the build (a config error); one that cannot be
    /// reached leaves the session to be opened by the first call.
    /// </summary>
    public static async Task<RemoteHandler> BuildAsync(RemoteHandlerConfig config, IRemoteCallMetrics metrics, ILogger logger, CancellationToken cancellationToken)
    {
        var handler = new RemoteHandler(config, metrics, logger);
        if (!config.SessionBased)
        {
            LogBuilt(logger, config.HandlerName, config.AdapterName, config.Address);
            return handler;
        }

        try
        {
            await handler.OpenSessionAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (HandlerCallException e) when (e.StatusCode == StatusCodes.Unavailable)
        {
            LogSessionDeferred(logger, config.HandlerName, config.AdapterName, config.Address, e.Message);
        }
        catch
        {
            await handler.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        return handler;
    }

    public ValueTask<CheckResult> HandleCheckNothingAsync(CheckNothingInstance instance, CancellationToken cancellationToken)
    {
        var request = new Wire.CheckNothing.HandleCheckNothingRequest { Instance = RemoteInstances.CheckNothing(instance), AdapterConfig = _requestConfig, DedupId = NextDedup() };
        return CheckAsync("checknothing", o => _checkNothing.HandleCheckNothingAsync(request, o), cancellationToken);
    }

    public ValueTask<CheckResult> HandleListEntryAsync(ListEntryInstance instance, CancellationToken cancellationToken)
    {
        var request = new Wire.ListEntry.HandleListEntryRequest { Instance = RemoteInstances.ListEntry(instance), AdapterConfig = _requestConfig, DedupId = NextDedup() };
        return CheckAsync("listentry", o => _listEntry.HandleListEntryAsync(request, o), cancellationToken);
    }

    public ValueTask<CheckResult> HandleAuthorizationAsync(AuthorizationInstance instance, CancellationToken cancellationToken)
    {
        var request = new Wire.Authorization.HandleAuthorizationRequest { Instance = RemoteInstances.Authorization(instance), AdapterConfig = _requestConfig, DedupId = NextDedup() };
        return CheckAsync("authorization", o => _authorization.HandleAuthorizationAsync(request, o), cancellationToken);
    }

    public ValueTask<CheckResult> HandleApiKeyAsync(ApiKeyInstance instance, CancellationToken cancellationToken)
    {
        var request = new Wire.ApiKey.HandleApiKeyRequest { Instance = RemoteInstances.ApiKey(instance), AdapterConfig = _requestConfig, DedupId = NextDedup() };
        return CheckAsync("apikey", o => _apiKey.HandleApiKeyAsync(request, o), cancellationToken);
    }

    public async ValueTask<QuotaResult> HandleQuotaAsync(QuotaInstance instance, QuotaRequest request, CancellationToken cancellationToken)
    {
        var message = new Wire.Quota.HandleQuotaRequest
        {
            Instance = RemoteInstances.Quota(instance),
            AdapterConfig = _requestConfig,
            // Istio: quota calls carry the request's deduplication id (plus the quota name).
            DedupId = request.DeduplicationId.Length > 0 ? request.DeduplicationId : NextDedup(),
            QuotaRequest = new Istio.Mixer.Adapter.Model.V1beta1.QuotaRequest(),
        };
        message.QuotaRequest.Quotas[instance.Name] = new Istio.Mixer.Adapter.Model.V1beta1.QuotaRequest.Types.QuotaParams { Amount = request.Amount, BestEffort = request.BestEffort };
        var result = await InvokeAsync("quota", o => _quota.HandleQuotaAsync(message, o), cancellationToken).ConfigureAwait(false);
        if (!result.Quotas.TryGetValue(instance.Name, out var granted))
        {
            throw new HandlerCallException(StatusCodes.Internal, $"{Where}: remote server did not respond with the requested quota '{instance.Name}' (it answered for: {string.Join(", ", result.Quotas.Keys)})");
        }

        return new QuotaResult(granted.GrantedAmount, granted.ValidDuration?.ToTimeSpan() ?? TimeSpan.Zero);
    }

    public async ValueTask HandleMetricAsync(IReadOnlyList<MetricInstance> instances, CancellationToken cancellationToken)
    {
        var message = new Wire.Metric.HandleMetricRequest { AdapterConfig = _requestConfig, DedupId = NextDedup() };
        message.Instances.AddRange(instances.Select(RemoteInstances.Metric));

        await InvokeAsync("metric", o => _metric.HandleMetricAsync(message, o), cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask HandleLogEntryAsync(IReadOnlyList<LogEntryInstance> instances, CancellationToken cancellationToken)
    {
        var message = new Wire.LogEntry.HandleLogEntryRequest { AdapterConfig = _requestConfig, DedupId = NextDedup() };
        message.Instances.AddRange(instances.Select(RemoteInstances.LogEntry));

        await InvokeAsync("logentry", o => _logEntry.HandleLogEntryAsync(message, o), cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask HandleTraceSpanAsync(IReadOnlyList<TraceSpanInstance> instances, CancellationToken cancellationToken)
    {
        var message = new Wire.TraceSpan.HandleTraceSpanRequest { AdapterConfig = _requestConfig, DedupId = NextDedup() };
        message.Instances.AddRange(instances.Select(RemoteInstances.TraceSpan));

        await InvokeAsync("tracespan", o => _traceSpan.HandleTraceSpanAsync(message, o), cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask HandleReportNothingAsync(IReadOnlyList<ReportNothingInstance> instances, CancellationToken cancellationToken)
    {
        var message = new Wire.ReportNothing.HandleReportNothingRequest { AdapterConfig = _requestConfig, DedupId = NextDedup() };
        message.Instances.AddRange(instances.Select(RemoteInstances.ReportNothing));

        await InvokeAsync("reportnothing", o => _reportNothing.HandleReportNothingAsync(message, o), cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        var session = Interlocked.Exchange(ref _session, null);
        if (session is not null)
        {
            try
            {
                var response = await _backend.CloseSessionAsync(new CloseSessionRequest { SessionId = session }, deadline: DateTime.UtcNow + _config.Deadline).ConfigureAwait(false);
                if (response.Status is { Code: not 0 } st)
                {
                    LogCloseFailed(_logger, _config.HandlerName, session, $"{(StatusCode)st.Code}: {st.Message}");
                }
            }
            catch (RpcException e)
            {
                LogCloseFailed(_logger, _config.HandlerName, session, $"{e.StatusCode}: {e.Status.Detail}");
            }
        }

        _channel.Dispose();
        _sessionLock.Dispose();
    }

    // The dispatcher puts the handler's name in front of every failure it reports.
    private string Where => $"adapter '{_config.AdapterName}' at {_config.Address}";

    private string NextDedup() => Interlocked.Increment(ref _dedup).ToString(CultureInfo.InvariantCulture);

    private async ValueTask<CheckResult> CheckAsync(string template, Func<CallOptions, AsyncUnaryCall<Istio.Mixer.Adapter.Model.V1beta1.CheckResult>> call, CancellationToken cancellationToken)
    {
        var r = await InvokeAsync(template, call, cancellationToken).ConfigureAwait(false);
        return new CheckResult(r.Status?.Code ?? 0, r.Status?.Message ?? string.Empty, r.ValidDuration?.ToTimeSpan() ?? TimeSpan.Zero, r.ValidUseCount);
    }

    private IRemoteTemplateMetrics MetricsFor(string template)
    {
        lock (_templateMetrics)
        {
            return _templateMetrics.TryGetValue(template, out var m) ? m : _templateMetrics[template] = _metrics.For(_config.HandlerName, _config.AdapterName, template);
        }
    }

    private async Task<T> InvokeAsync<T>(string template, Func<CallOptions, AsyncUnaryCall<T>> call, CancellationToken cancellationToken)
    {
        var metrics = MetricsFor(template);
        var start = Stopwatch.GetTimestamp();
        var deadline = DateTime.UtcNow + _config.Deadline;
        var backoff = s_firstBackoff;
        var attempts = Environment.TickCount64 < Volatile.Read(ref _downUntil) ? 1 : MaxAttempts;
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                Metadata? headers = null;
                if (_config.SessionBased)
                {
                    headers = new Metadata { { Mixer.Sdk.Remote.RemoteSession.Header, await EnsureSessionAsync(deadline, cancellationToken).ConfigureAwait(false) } };
                }

                var result = await call(new CallOptions(headers, deadline, cancellationToken)).ConfigureAwait(false);
                Volatile.Write(ref _downUntil, 0);
                metrics.Record("OK", Stopwatch.GetElapsedTime(start));
                return result;
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.Unavailable && attempt < attempts
                && !cancellationToken.IsCancellationRequested && DateTime.UtcNow + backoff < deadline)
            {
                // The adapter is restarting or not up yet: try again while the deadline allows.
                metrics.Retried();
                await Task.Delay(backoff / 2 + TimeSpan.FromTicks(Random.Shared.NextInt64(backoff.Ticks / 2 + 1)), cancellationToken).ConfigureAwait(false);
                backoff = backoff * 2 > s_maxBackoff ? s_maxBackoff : backoff * 2;
            }
            catch (RpcException e)
            {
                var code = e.StatusCode == StatusCode.Cancelled && cancellationToken.IsCancellationRequested ? StatusCode.DeadlineExceeded : e.StatusCode;
                if (code == StatusCode.Unavailable)
                {
                    Volatile.Write(ref _downUntil, Environment.TickCount64 + DownWindowMs);
                }

                metrics.Record(CodeName(code), Stopwatch.GetElapsedTime(start));
                throw Failure(code, e.Status.Detail, attempt);
            }
            catch (HandlerCallException e)
            {
                // The session could not be opened.
                metrics.Record(e.StatusCode == StatusCodes.Unavailable ? "UNAVAILABLE" : "INTERNAL", Stopwatch.GetElapsedTime(start));
                throw;
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                metrics.Record("DEADLINE_EXCEEDED", Stopwatch.GetElapsedTime(start));
                throw Failure(StatusCode.DeadlineExceeded, "cancelled while waiting to retry", attempt);
            }
        }
    }

    private HandlerCallException Failure(StatusCode code, string detail, int attempts)
    {
        var tries = attempts > 1 ? $" after {attempts} attempts" : string.Empty;
        return code switch
        {
            StatusCode.Unavailable => new HandlerCallException(StatusCodes.Unavailable, $"{Where} is unavailable{tries}: {detail}"),
            StatusCode.DeadlineExceeded => new HandlerCallException(StatusCodes.Unavailable, $"{Where} gave no answer within {_config.Deadline.TotalMilliseconds:0} ms{tries}"),
            // Istio 1.0: any other error of a remote call fails the action as INTERNAL.
            _ => new HandlerCallException(StatusCodes.Internal, $"{Where} failed: {code}: {detail}"),
        };
    }

    private static string CodeName(StatusCode code) => code switch
    {
        StatusCode.OK => "OK",
        StatusCode.Cancelled => "CANCELLED",
        StatusCode.Unknown => "UNKNOWN",
        StatusCode.InvalidArgument => "INVALID_ARGUMENT",
        StatusCode.DeadlineExceeded => "DEADLINE_EXCEEDED",
        StatusCode.NotFound => "NOT_FOUND",
        StatusCode.AlreadyExists => "ALREADY_EXISTS",
        StatusCode.PermissionDenied => "PERMISSION_DENIED",
        StatusCode.ResourceExhausted => "RESOURCE_EXHAUSTED",
        StatusCode.FailedPrecondition => "FAILED_PRECONDITION",
        StatusCode.Aborted => "ABORTED",
        StatusCode.OutOfRange => "OUT_OF_RANGE",
        StatusCode.Unimplemented => "UNIMPLEMENTED",
        StatusCode.Internal => "INTERNAL",
        StatusCode.Unavailable => "UNAVAILABLE",
        StatusCode.DataLoss => "DATA_LOSS",
        StatusCode.Unauthenticated => "UNAUTHENTICATED",
        _ => ((int)code).ToString(CultureInfo.InvariantCulture),
    };

    private async ValueTask<string> EnsureSessionAsync(DateTime deadline, CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _session) is { } open)
        {
            return open;
        }

        await OpenSessionAsync(cancellationToken, deadline).ConfigureAwait(false);
        return Volatile.Read(ref _session) ?? throw new HandlerCallException(StatusCodes.Unavailable, $"{Where}: no session");
    }

    /// <summary>Validate, then CreateSession (once, whoever asks first).</summary>
    private async Task OpenSessionAsync(CancellationToken cancellationToken, DateTime? deadline = null)
    {
        await _sessionLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (Volatile.Read(ref _session) is not null)
            {
                return;
            }

            var until = deadline ?? DateTime.UtcNow + _config.Deadline;
            var validate = new ValidateRequest { AdapterConfig = _config.AdapterConfig };
            var create = new CreateSessionRequest { AdapterConfig = _config.AdapterConfig };
            foreach (var (instance, type) in _config.InferredTypes)
            {
                validate.InferredTypes[instance] = type;
                create.InferredTypes[instance] = type;
            }

            try
            {
                var valid = await _backend.ValidateAsync(validate, deadline: until, cancellationToken: cancellationToken).ConfigureAwait(false);
                if (valid.Status is { Code: not 0 } vs)
                {
                    throw new HandlerCallException(StatusCodes.InvalidArgument, $"{Where} rejected the handler's config: {(StatusCode)vs.Code}: {vs.Message}");
                }

                var created = await _backend.CreateSessionAsync(create, deadline: until, cancellationToken: cancellationToken).ConfigureAwait(false);
                if (created.Status is { Code: not 0 } cs)
                {
                    throw new HandlerCallException(StatusCodes.Internal, $"{Where} refused to open a session: {(StatusCode)cs.Code}: {cs.Message}");
                }

                Volatile.Write(ref _session, created.SessionId);
                LogSessionOpened(_logger, _config.HandlerName, _config.AdapterName, _config.Address, created.SessionId);
            }
            catch (RpcException e) when (e.StatusCode is StatusCode.Unavailable or StatusCode.DeadlineExceeded or StatusCode.Cancelled)
            {
                throw new HandlerCallException(StatusCodes.Unavailable, $"{Where} is unavailable, no session could be opened: {e.StatusCode}: {e.Status.Detail}");
            }
            catch (RpcException e)
            {
                throw new HandlerCallException(StatusCodes.Internal, $"{Where} failed to open a session: {e.StatusCode}: {e.Status.Detail}");
            }
        }
        finally
        {
            _sessionLock.Release();
        }
    }

    [LoggerMessage(EventId = 4101, Level = LogLevel.Information, Message = "Handler {Handler}: out-of-process adapter {Adapter} at {Address} (connects on first use)")]
    private static partial void LogBuilt(ILogger logger, string handler, string adapter, string address);

    [LoggerMessage(EventId = 4102, Level = LogLevel.Information, Message = "Handler {Handler}: session {Session} opened with adapter {Adapter} at {Address}")]
    private static partial void LogSessionOpened(ILogger logger, string handler, string adapter, string address, string session);

    [LoggerMessage(EventId = 4103, Level = LogLevel.Warning, Message = "Handler {Handler}: adapter {Adapter} at {Address} is not reachable; its session opens on the first call: {Error}")]
    private static partial void LogSessionDeferred(ILogger logger, string handler, string adapter, string address, string error);

    [LoggerMessage(EventId = 4104, Level = LogLevel.Warning, Message = "Handler {Handler}: closing session {Session} failed: {Error}")]
    private static partial void LogCloseFailed(ILogger logger, string handler, string session, string error);
}
