using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text.Json;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using Mixer.Sdk.Adapters;

namespace Mixer.Sdk.OutOfProcess;

/// <summary>
/// The handlers an adapter process has built, by adapter_config bytes, and its open sessions.
/// </summary>
/// <remarks>
/// Istio 1.0's Mixer sends the handler's params in every Handle call (an <c>adapter</c> with
/// <c>session_based: false</c>, the only mode its dynamic dispatch implements); building a
/// handler per call would be absurd, so the first call with given bytes validates and builds, and
/// later calls with the same bytes reuse the handler. A handler no call has used for
/// <see cref="AdapterHostOptions.IdleHandlerTimeout"/> is disposed: Mixer stops sending old params
/// after a config change and never says so.
/// Session-based callers (InfrastructureBackend) get the same handlers through a session id,
/// carried in the Handle call's <c>x-mixer-session-id</c> header (Mixer.NET's mixs) or its
/// adapter_config as a <c>google.protobuf.StringValue</c>; Istio's own session-based callers send
/// no adapter_config at all, which is unambiguous while one session is open. The session's
/// handler is disposed on CloseSession once no call is using it.
/// </remarks>
internal sealed class HandlerCache : IAsyncDisposable
{
    public const string SessionTypeUrl = "type.googleapis.com/google.protobuf.StringValue";

    private readonly IAdapter _adapter;
    private readonly ParamsDecoder _decoder;
    private readonly AdapterHostOptions _options;
    private readonly ILoggerFactory _loggers;
    private readonly ILogger _log;
    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<ConfigKey, HandlerEntry> _entries = new();
    private readonly Dictionary<string, HandlerEntry> _sessions = new(StringComparer.Ordinal);
    private readonly Lock _sessionLock = new();
    private readonly ConcurrentDictionary<HandlerEntry, Task> _disposing = new();
    private readonly CancellationTokenSource _stopping = new();
    private readonly ITimer _evictor;
    private readonly IReadOnlyDictionary<string, string> _settings;
    private readonly MeterAdapterMetrics _metrics = new();
    private int _disposed;

    public HandlerCache(IAdapter adapter, AdapterHostOptions options, Remote.ParamsCodec? codec, ILoggerFactory loggers)
    {
        _adapter = adapter;
        _options = options;
        _decoder = new ParamsDecoder(options.ParamsDescriptor, codec);
        _loggers = loggers;
        _log = loggers.CreateLogger("Mixer.Sdk.OutOfProcess.AdapterHost");
        _time = options.Time;
        var settings = new Dictionary<string, string>(options.Settings, StringComparer.Ordinal);
        settings.TryAdd(HostSettings.ShutdownTimeout, GoDuration.Format(options.ShutdownTimeout));
        _settings = settings;
        var period = options.IdleHandlerTimeout / 4;
        period = period < TimeSpan.FromSeconds(1) ? TimeSpan.FromSeconds(1) : period > TimeSpan.FromMinutes(1) ? TimeSpan.FromMinutes(1) : period;
        _evictor = _time.CreateTimer(_ => EvictIdle(), null, period, period);
    }

    public string AdapterName => _adapter.Info.Name;

    /// <summary>Built or building handlers (not counting retired ones still finishing calls).</summary>
    public int Count => _entries.Count;

    public int SessionCount
    {
        get
        {
            lock (_sessionLock)
            {
                return _sessions.Count;
            }
        }
    }

    /// <summary>
    /// The handler for a Handle call's adapter_config, leased for the call. Throws an
    /// <see cref="RpcException"/> that says what is wrong when there is none.
    /// </summary>
    public async ValueTask<HandlerLease> AcquireAsync(Any? config, string? sessionHeader, CancellationToken cancellationToken)
    {
        if (!string.IsNullOrEmpty(sessionHeader))
        {
            return await AcquireSessionAsync(sessionHeader, cancellationToken).ConfigureAwait(false);
        }

        if (config is not null && config.TypeUrl == SessionTypeUrl)
        {
            string sessionId;
            try
            {
                sessionId = StringValue.Parser.ParseFrom(config.Value).Value;
            }
            catch (Google.Protobuf.InvalidProtocolBufferException e)
            {
                throw new RpcException(new Status(StatusCode.InvalidArgument, $"adapter_config of type {SessionTypeUrl} must hold a session id: {e.Message}"));
            }

            return await AcquireSessionAsync(sessionId, cancellationToken).ConfigureAwait(false);
        }

        var empty = config is null || (config.TypeUrl.Length == 0 && config.Value.IsEmpty);
        if (empty)
        {
            // Session-based Istio callers send no adapter_config at all: with one session open
            // that is unambiguous; with several it is not, and guessing would use the wrong params.
            HandlerEntry? only = null;
            int sessions;
            lock (_sessionLock)
            {
                sessions = _sessions.Count;
                if (sessions == 1)
                {
                    only = _sessions.Values.First();
                }
            }

            if (only is not null && only.TryAcquire(_time.GetTimestamp()))
            {
                return await LeaseAsync(only, cancellationToken).ConfigureAwait(false);
            }

            if (sessions > 1)
            {
                throw new RpcException(new Status(StatusCode.FailedPrecondition,
                    $"the request carries no adapter_config and adapter '{AdapterName}' has {sessions} sessions open: send the handler's params, or the session id as a google.protobuf.StringValue"));
            }
        }

        return await LeaseAsync(AcquireEntry(config, instances: null), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Validates params and instance types without building anything (InfrastructureBackend.Validate).</summary>
    public Google.Rpc.Status Validate(Any? config, IDictionary<string, Any> inferredTypes)
    {
        try
        {
            _ = InstancesOf(inferredTypes);
            var problems = _adapter.Validate(_decoder.Decode(config));
            return problems.Count == 0 ? Ok() : Invalid(problems);
        }
        catch (ParamsException e)
        {
            return Error(StatusCode.InvalidArgument, e.Message);
        }
        catch (RpcException e)
        {
            return Error(e.StatusCode, e.Status.Detail);
        }
        catch (Exception e)
        {
            Log.ValidateFailed(_log, AdapterName, e);
            return Error(StatusCode.Internal, $"adapter '{AdapterName}' failed validating its params: {e.GetType().Name}: {e.Message}");
        }
    }

    /// <summary>Builds (or reuses) the handler for the params and opens a session on it.</summary>
    public async Task<(string SessionId, Google.Rpc.Status Status)> CreateSessionAsync(Any? config, IDictionary<string, Any> inferredTypes, CancellationToken cancellationToken)
    {
        IReadOnlyDictionary<string, string> instances;
        try
        {
            instances = InstancesOf(inferredTypes);
        }
        catch (RpcException e)
        {
            return (string.Empty, Error(e.StatusCode, e.Status.Detail));
        }

        // The lease taken here is the session's: CloseSession releases it.
        HandlerEntry entry;
        try
        {
            entry = (await LeaseAsync(AcquireEntry(config, instances), cancellationToken).ConfigureAwait(false)).Entry;
        }
        catch (RpcException e)
        {
            return (string.Empty, Error(e.StatusCode, e.Status.Detail));
        }

        var id = "s-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(12));
        lock (_sessionLock)
        {
            _sessions.Add(id, entry);
            entry.Sessions++;
        }

        Log.SessionCreated(_log, AdapterName, id, entry.Name);
        return (id, Ok());
    }

    /// <summary>Closes a session; its handler is disposed when no other session uses it and its calls have finished.</summary>
    public Google.Rpc.Status CloseSession(string sessionId)
    {
        HandlerEntry? entry;
        bool last;
        lock (_sessionLock)
        {
            if (!_sessions.Remove(sessionId, out entry))
            {
                return Error(StatusCode.NotFound, $"adapter '{AdapterName}' has no session '{sessionId}' (already closed, or the adapter restarted)");
            }

            last = --entry.Sessions == 0;
        }

        entry.Release();
        if (last)
        {
            Retire(entry);
        }

        Log.SessionClosed(_log, AdapterName, sessionId, entry.Name);
        return Ok();
    }

    /// <summary>Disposes every handler, waiting up to the shutdown timeout for those still finishing calls.</summary>
    public async ValueTask DisposeAsync()
    {
        // Called by the host's stop and again by its service container: the first call does the work.
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _evictor.DisposeAsync().ConfigureAwait(false);
        await _stopping.CancelAsync().ConfigureAwait(false);
        List<HandlerEntry> sessionEntries;
        lock (_sessionLock)
        {
            sessionEntries = [.. _sessions.Values];
            _sessions.Clear();
        }

        foreach (var e in sessionEntries)
        {
            e.Release();
        }

        foreach (var e in _entries.Values)
        {
            Retire(e);
        }

        var pending = _disposing.Values.ToArray();
        try
        {
            await Task.WhenAll(pending).WaitAsync(_options.ShutdownTimeout, _time).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            Log.DisposeTimedOut(_log, AdapterName, pending.Count(t => !t.IsCompleted), _options.ShutdownTimeout);
        }

        _stopping.Dispose();
        _metrics.Dispose();
    }

    // The entry for these params (built on first use), with one use taken on it.
    private HandlerEntry AcquireEntry(Any? config, IReadOnlyDictionary<string, string>? instances)
    {
        var key = config is null ? new ConfigKey(string.Empty, ReadOnlyMemory<byte>.Empty) : new ConfigKey(config.TypeUrl, config.Value.Memory);
        while (true)
        {
            var entry = _entries.GetOrAdd(key, k => NewEntry(k, config, instances));
            if (entry.TryAcquire(_time.GetTimestamp()))
            {
                return entry;
            }

            // Retired between the lookup and the lease: it is out of the map now, look again.
        }
    }

    private async ValueTask<HandlerLease> LeaseAsync(HandlerEntry entry, CancellationToken cancellationToken)
    {
        try
        {
            var handler = await entry.Handler.Value.WaitAsync(cancellationToken).ConfigureAwait(false);
            return new HandlerLease(entry, handler);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            entry.Release();
            throw new RpcException(new Status(StatusCode.Cancelled, $"the call ended while adapter '{AdapterName}' was building handler {entry.Name}"));
        }
        catch (Exception e)
        {
            entry.Release();
            throw StatusOf(entry, e);
        }
    }

    private async ValueTask<HandlerLease> AcquireSessionAsync(string sessionId, CancellationToken cancellationToken)
    {
        HandlerEntry? entry;
        lock (_sessionLock)
        {
            _sessions.TryGetValue(sessionId, out entry);
        }

        if (entry is null || !entry.TryAcquire(_time.GetTimestamp()))
        {
            throw new RpcException(new Status(StatusCode.FailedPrecondition,
                $"adapter '{AdapterName}' has no session '{sessionId}' (closed, or the adapter restarted): create the session again"));
        }

        return await LeaseAsync(entry, cancellationToken).ConfigureAwait(false);
    }

    private HandlerEntry NewEntry(ConfigKey key, Any? config, IReadOnlyDictionary<string, string>? instances)
    {
        // A stable short name for logs and HandlerContext.HandlerName: the wire does not carry the
        // handler's name, and the same params always give the same name.
        var digest = SHA256.HashData([.. System.Text.Encoding.UTF8.GetBytes(key.TypeUrl), .. key.Bytes]);
        var name = $"{AdapterName}-{Convert.ToHexStringLower(digest.AsSpan(0, 4))}";
        var copy = config?.Clone();
        return new HandlerEntry(key, name, () => BuildAsync(name, copy, instances ?? new Dictionary<string, string>()), OnLastReleaseAsync, _time.GetTimestamp());
    }

    private async Task<IHandler> BuildAsync(string name, Any? config, IReadOnlyDictionary<string, string> instances)
    {
        JsonElement parameters;
        try
        {
            parameters = _decoder.Decode(config);
        }
        catch (ParamsException e)
        {
            throw new InvalidParamsException(e.Message);
        }

        var problems = _adapter.Validate(parameters);
        if (problems.Count > 0)
        {
            throw new InvalidParamsException(Describe(problems));
        }

        var context = new HandlerContext
        {
            HandlerName = name,
            Params = parameters,
            Instances = instances,
            Logger = _loggers.CreateLogger($"adapter.{AdapterName}.{name}"),
            Time = _time,
            Settings = _settings,
            Metrics = _metrics.ForHandler(AdapterName, name),
        };
        var handler = await _adapter.BuildAsync(context, _stopping.Token).ConfigureAwait(false);
        Log.HandlerBuilt(_log, AdapterName, name);
        return handler;
    }

    private RpcException StatusOf(HandlerEntry entry, Exception e)
    {
        if (e is InvalidParamsException invalid)
        {
            // The same bytes always fail the same way: keep the entry so later calls answer at once.
            return new RpcException(new Status(StatusCode.InvalidArgument, $"adapter '{AdapterName}': invalid params: {invalid.Message}"));
        }

        // A failed build may succeed later (a backend that was down): let the next call try again.
        Retire(entry);
        Log.BuildFailed(_log, AdapterName, entry.Name, e);
        return new RpcException(new Status(StatusCode.Internal, $"adapter '{AdapterName}' could not build handler {entry.Name}: {e.GetType().Name}: {e.Message}"));
    }

    private void Retire(HandlerEntry entry)
    {
        _entries.TryRemove(new KeyValuePair<ConfigKey, HandlerEntry>(entry.Key, entry));
        entry.Retire();
    }

    private Task OnLastReleaseAsync(HandlerEntry entry)
    {
        var task = DisposeEntryAsync(entry);
        _disposing[entry] = task;
        _ = task.ContinueWith(_ => _disposing.TryRemove(entry, out Task? _), TaskScheduler.Default);
        return task;
    }

    private async Task DisposeEntryAsync(HandlerEntry entry)
    {
        if (!entry.Handler.IsValueCreated)
        {
            return;
        }

        IHandler handler;
        try
        {
            handler = await entry.Handler.Value.ConfigureAwait(false);
        }
        catch (Exception)
        {
            return; // Never built: nothing to dispose (the failure was reported to its callers).
        }

        try
        {
            await handler.DisposeAsync().ConfigureAwait(false);
            Log.HandlerDisposed(_log, AdapterName, entry.Name);
        }
        catch (Exception e)
        {
            Log.DisposeFailed(_log, AdapterName, entry.Name, e);
        }
    }

    private void EvictIdle()
    {
        var now = _time.GetTimestamp();
        foreach (var entry in _entries.Values)
        {
            if (entry.Sessions == 0 && _time.GetElapsedTime(entry.LastUsed, now) >= _options.IdleHandlerTimeout)
            {
                Log.HandlerIdle(_log, AdapterName, entry.Name, _options.IdleHandlerTimeout);
                Retire(entry);
            }
        }
    }

    /// <summary>Instance name → template name, from CreateSession's inferred types (Any of <c>&lt;template&gt;.Type</c>).</summary>
    private Dictionary<string, string> InstancesOf(IDictionary<string, Any> inferredTypes)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (instance, type) in inferredTypes)
        {
            // Istio's bypass adapter sends the bare message name (metric.Type); others the full URL.
            var typeName = type.TypeUrl.Contains('/', StringComparison.Ordinal) ? Any.GetTypeName(type.TypeUrl) : type.TypeUrl;
            var template = typeName.EndsWith(".Type", StringComparison.Ordinal) ? typeName[..^".Type".Length] : typeName;
            if (!_adapter.Info.SupportedTemplates.Contains(template, StringComparer.Ordinal))
            {
                throw new RpcException(new Status(StatusCode.InvalidArgument,
                    $"instance '{instance}' is of template '{template}' (type {type.TypeUrl}), which adapter '{AdapterName}' does not serve (it serves {string.Join(", ", _adapter.Info.SupportedTemplates)})"));
            }

            result[instance] = template;
        }

        return result;
    }

    private static string Describe(IReadOnlyList<ConfigProblem> problems) =>
        string.Join("; ", problems.Select(p => p.Field.Length == 0 ? p.Reason : $"{p.Field}: {p.Reason}"));

    private static Google.Rpc.Status Ok() => new() { Code = (int)StatusCode.OK };

    private static Google.Rpc.Status Error(StatusCode code, string message) => new() { Code = (int)code, Message = message };

    private Google.Rpc.Status Invalid(IReadOnlyList<ConfigProblem> problems)
    {
        var status = Error(StatusCode.InvalidArgument, $"adapter '{AdapterName}': invalid params: {Describe(problems)}");
        var details = new Google.Rpc.BadRequest();
        foreach (var p in problems)
        {
            details.FieldViolations.Add(new Google.Rpc.BadRequest.Types.FieldViolation { Field = p.Field, Description = p.Reason });
        }

        status.Details.Add(Any.Pack(details));
        return status;
    }
}

/// <summary>A handler leased for one call; disposing the lease gives it back.</summary>
internal readonly struct HandlerLease(HandlerEntry entry, IHandler handler) : IDisposable
{
    public IHandler Handler { get; } = handler;

    public HandlerEntry Entry => entry;

    public string Name => entry.Name;

    public void Dispose() => entry.Release();
}

/// <summary>The params of a handler failed the adapter's validation.</summary>
internal sealed class InvalidParamsException(string message) : Exception(message);
