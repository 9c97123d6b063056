using Microsoft.Extensions.Logging;
using Mixer.Runtime.Config;
using Mixer.Runtime.Dispatch;
using Mixer.Runtime.Snapshot;
using Mixer.Sdk;
using Mixer.Sdk.Adapters;
using ValueType = Mixer.Sdk.ValueType;

namespace Mixer.Runtime;

/// <summary>Settings of the runtime (from mixs's flags).</summary>
public sealed record RuntimeOptions
{
    /// <summary>The config store URL (<c>fs:///dir</c>); empty for no config.</summary>
    public string ConfigStoreUrl { get; init; } = string.Empty;

    /// <summary>The mesh-wide config namespace whose rules apply to every request.</summary>
    public string DefaultNamespace { get; init; } = "istio-system";

    /// <summary>How long a handler call may take before its action fails.</summary>
    public TimeSpan HandlerDeadline { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Where handler calls are recorded (mixs: Prometheus).</summary>
    public IDispatchMetrics Metrics { get; init; } = NoDispatchMetrics.Instance;

    /// <summary>Host settings adapters may read (by name).</summary>
    public IReadOnlyDictionary<string, string> AdapterSettings { get; init; } = new Dictionary<string, string>();

    /// <summary>Where each handler's own counters go, by handler name and adapter name (mixs: its monitoring endpoint).</summary>
    public Func<string, string, IAdapterMetrics> AdapterMetrics { get; init; } = static (_, _) => Sdk.Adapters.AdapterMetrics.None;

    /// <summary>Where calls to out-of-process adapters are recorded (mixs: its monitoring endpoint).</summary>
    public IRemoteCallMetrics RemoteMetrics { get; init; } = NoRemoteCallMetrics.Instance;
}

/// <summary>
/// Mixer's runtime: reads the config store, builds snapshots off the hot path, serves the current
/// one through its dispatcher, and rebuilds on every change. Config errors are logged and counted;
/// the last good config keeps serving.
/// </summary>
public sealed partial class MixerRuntime : IDispatcher, IAsyncDisposable
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, long> _errorCounts = new(StringComparer.Ordinal);
    private readonly RuntimeOptions _options;
    private readonly SnapshotBuilder _builder;
    private readonly ILogger _logger;
    private readonly FsConfigStore? _store;
    private readonly SemaphoreSlim _building = new(1, 1);
    private readonly Dispatcher _dispatcher;
    private long _generation;

    private MixerRuntime(RuntimeOptions options, SnapshotBuilder builder, FsConfigStore? store, Dispatcher dispatcher, ILogger logger)
    {
        _options = options;
        _builder = builder;
        _store = store;
        _dispatcher = dispatcher;
        _logger = logger;
    }

    /// <summary>The generation being served (1 after the first load).</summary>
    public long Generation => _dispatcher.Generation;

    /// <summary>Whether the config being served has a rule that acts on Report.</summary>
    public bool HasReportRules => _dispatcher.HasReportRules;

    /// <summary>The errors of the config being served (what the last change could not apply).</summary>
    public IReadOnlyList<ConfigError> Errors => _dispatcher.Current.Errors;

    /// <summary>
    /// Config errors found since start, by kind of resource (<c>file</c> for errors of a whole file):
    /// every build counts the errors it found, so a broken resource counts once per change.
    /// </summary>
    public IReadOnlyDictionary<string, long> ErrorCounts => _errorCounts;

    /// <summary>Raised after each new snapshot goes live, with its generation.</summary>
    public event Action<long>? Applied;

    /// <summary>
    /// Loads the config once, starts serving it and watches the store for changes.
    /// </summary>
    public static async Task<MixerRuntime> StartAsync(
        RuntimeOptions options,
        IEnumerable<IAdapter> adapters,
        ILoggerFactory loggers,
        CancellationToken cancellationToken)
    {
        var logger = loggers.CreateLogger("Mixer.Runtime");
        var byName = adapters.ToDictionary(a => a.Info.Name, StringComparer.Ordinal);
        var builder = new SnapshotBuilder(byName, m => new LangCompiler(m), options.DefaultNamespace, loggers, options.AdapterSettings, options.Metrics, options.AdapterMetrics, options.HandlerDeadline, options.RemoteMetrics);
        FsConfigStore? store = null;
        var initial = new StoreSnapshot(new Dictionary<ResourceKey, ConfigResource>(), []);
        if (options.ConfigStoreUrl.Length > 0)
        {
            var dir = FsConfigStore.DirectoryOf(options.ConfigStoreUrl, out var error) ?? throw new ArgumentException(error);
            store = new FsConfigStore(dir, logger);
            initial = store.Load();
        }

        var first = await builder.BuildAsync(initial, null, 1, cancellationToken).ConfigureAwait(false);
        var runtime = new MixerRuntime(options, builder, store, new Dispatcher(first, loggers.CreateLogger<Dispatcher>(), options.HandlerDeadline), logger);
        runtime.Count(first.Errors);
        runtime._generation = 1;
        LogApplied(logger, 1, first.Resources.Count, first.Errors.Count);
        store?.Watch(s => runtime.ApplyAsync(s).GetAwaiter().GetResult());
        return runtime;
    }

    /// <summary>
    /// Validates the config of <paramref name="directory"/> exactly as mixs would load it, without
    /// building handlers (no backend is contacted): every error, in file order.
    /// </summary>
    public static async Task<IReadOnlyList<ConfigError>> ValidateAsync(
        string directory,
        IEnumerable<IAdapter> adapters,
        string defaultNamespace,
        ILoggerFactory loggers,
        CancellationToken cancellationToken)
    {
        var logger = loggers.CreateLogger("Mixer.Runtime");
        var byName = adapters.ToDictionary(a => a.Info.Name, StringComparer.Ordinal);
        var builder = new SnapshotBuilder(byName, m => new LangCompiler(m), defaultNamespace, loggers);
        using var store = new FsConfigStore(directory, logger);
        var snapshot = await builder.BuildAsync(store.Load(), null, 1, cancellationToken, buildHandlers: false).ConfigureAwait(false);
        return snapshot.Errors
            .OrderBy(e => e.Position.File, StringComparer.Ordinal)
            .ThenBy(e => e.Position.Line)
            .ToList();
    }

    /// <summary>Builds and serves a snapshot of <paramref name="store"/> (one build at a time).</summary>
    internal async Task ApplyAsync(StoreSnapshot store)
    {
        await _building.WaitAsync().ConfigureAwait(false);
        try
        {
            var generation = Interlocked.Increment(ref _generation);
            var next = await _builder.BuildAsync(store, _dispatcher.Current, generation, CancellationToken.None).ConfigureAwait(false);
            Count(next.Errors);
            _dispatcher.Swap(next);
            LogApplied(_logger, generation, next.Resources.Count, next.Errors.Count);
            Applied?.Invoke(generation);
        }
        finally
        {
            _building.Release();
        }
    }

    /// <inheritdoc/>
    public ValueTask<CheckOutcome> CheckAsync(IAttributeBag bag, CancellationToken cancellationToken) => _dispatcher.CheckAsync(bag, cancellationToken);

    /// <inheritdoc/>
    public ValueTask<QuotaOutcome> QuotaAsync(IAttributeBag bag, QuotaArgs args, CancellationToken cancellationToken) => _dispatcher.QuotaAsync(bag, args, cancellationToken);

    /// <inheritdoc/>
    public ValueTask<ReportOutcome> ReportAsync(ReportBatch batch, CancellationToken cancellationToken) => _dispatcher.ReportAsync(batch, cancellationToken);

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        _store?.Dispose();
        await _building.WaitAsync().ConfigureAwait(false);
        foreach (var h in _dispatcher.Current.Handlers.Values)
        {
            try
            {
                await h.Handler.DisposeAsync().ConfigureAwait(false);
            }
            catch (Exception e)
            {
                LogCloseFailed(_logger, h.Name, e.Message);
            }
        }

        _building.Dispose();
    }

    private void Count(IReadOnlyList<ConfigError> errors)
    {
        foreach (var e in errors)
        {
            _errorCounts.AddOrUpdate(e.Resource?.Kind ?? "file", 1, static (_, n) => n + 1);
        }
    }

    [LoggerMessage(EventId = 3201, Level = LogLevel.Information, Message = "Config generation {Generation} serving: {Resources} resources, {Errors} errors")]
    private static partial void LogApplied(ILogger logger, long generation, int resources, int errors);

    [LoggerMessage(EventId = 3202, Level = LogLevel.Warning, Message = "Closing handler {Handler} failed: {Error}")]
    private static partial void LogCloseFailed(ILogger logger, string handler, string error);
}
