using Mixer.Sdk.Adapters;
using Mixer.Sdk.Templates;
using Microsoft.Extensions.Logging;

namespace Mixer.Adapters.Policy;

internal sealed class ListCheckerHandler : IListEntryHandler
{
    private readonly ListCheckerParams _params;
    private readonly HttpClient _http;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly string _name;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Lock _signalLock = new();
    private TaskCompletionSource _fetched = NewSignal();
    private Task _refresher = Task.CompletedTask;

    // Swapped whole by the refresher, read without locks by checks.
    private volatile Snapshot? _current;
    private volatile string _lastError = "the list has not been fetched yet";
    private int _purgeLogged;

    public ListCheckerHandler(ListCheckerParams p, HttpClient http, TimeProvider time, ILogger logger, string name)
    {
        _params = p;
        _http = http;
        _time = time;
        _logger = logger;
        _name = name;
    }

    private bool HasProvider => !string.IsNullOrEmpty(_params.ProviderUrl);

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        // Load the list before serving, so the first checks already see it.
        await FetchAsync(cancellationToken).ConfigureAwait(false);
        if (HasProvider)
        {
            _refresher = RefreshLoopAsync(_stopping.Token);
        }
    }

    public ValueTask<CheckResult> HandleListEntryAsync(ListEntryInstance instance, CancellationToken cancellationToken)
    {
        var list = CurrentList();
        if (list is null)
        {
            // Istio returns an error here, which Mixer turns into INTERNAL (and a fail-open proxy lets through).
            return ValueTask.FromResult(CheckResult.Deny(StatusCodes.Internal, $"{_name}: no list available: {_lastError}", TimeSpan.Zero, 0));
        }

        var found = list.Contains(instance.Value, out var invalid);
        var (code, message) = invalid is not null ? (StatusCodes.InvalidArgument, invalid)
            : _params.Blacklist ? (found ? (StatusCodes.PermissionDenied, $"{instance.Value} is blacklisted") : (StatusCodes.Ok, string.Empty))
            : found ? (StatusCodes.Ok, string.Empty) : (StatusCodes.NotFound, $"{instance.Value} is not whitelisted");
        return ValueTask.FromResult(new CheckResult(code, message, _params.CachingInterval, _params.CachingUseCount));
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        try
        {
            await _refresher.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        _http.Dispose();
        _stopping.Dispose();
    }

    /// <summary>Completes when the next fetch attempt (successful or not) has finished. For tests.</summary>
    internal Task NextFetchAsync()
    {
        lock (_signalLock)
        {
            return _fetched.Task;
        }
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private EntryList? CurrentList()
    {
        var snapshot = _current;
        if (snapshot is null)
        {
            return null;
        }

        if (HasProvider && _time.GetUtcNow() - snapshot.FetchedAt >= _params.Ttl)
        {
            if (Interlocked.Exchange(ref _purgeLogged, 1) == 0)
            {
                ListCheckerLog.Purged(_logger, _name, _params.Ttl);
            }

            return null;
        }

        return snapshot.List;
    }

    private async Task RefreshLoopAsync(CancellationToken stopping)
    {
        using var timer = new PeriodicTimer(_params.RefreshInterval, _time);
        while (await timer.WaitForNextTickAsync(stopping).ConfigureAwait(false))
        {
            await FetchAsync(stopping).ConfigureAwait(false);
        }
    }

    private async Task FetchAsync(CancellationToken cancellationToken)
    {
        try
        {
            var entries = new List<string>();
            if (HasProvider)
            {
                using var response = await _http.GetAsync(_params.ProviderUrl, cancellationToken).ConfigureAwait(false);
                if (!response.IsSuccessStatusCode)
                {
                    Fail($"HTTP {(int)response.StatusCode}");
                    return;
                }

                var body = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
                entries.AddRange(EntryList.Lines(body));
            }

            entries.AddRange(_params.Overrides);
            EntryList list;
            try
            {
                list = EntryList.Create(_params.EntryType, entries);
            }
            catch (FormatException ex)
            {
                Fail("could not parse the list: " + ex.Message);
                return;
            }

            _current = new Snapshot(list, _time.GetUtcNow());
            _lastError = string.Empty;
            Interlocked.Exchange(ref _purgeLogged, 0);
            ListCheckerLog.Installed(_logger, _name, list.Count);
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            Fail(ex.Message);
        }
        finally
        {
            TaskCompletionSource done;
            lock (_signalLock)
            {
                done = _fetched;
                _fetched = NewSignal();
            }

            done.TrySetResult();
        }
    }

    private void Fail(string reason)
    {
        _lastError = $"could not fetch list from {_params.ProviderUrl}: {reason}";
        ListCheckerLog.FetchFailed(_logger, _name, _params.ProviderUrl, reason);
    }

    private sealed record Snapshot(EntryList List, DateTimeOffset FetchedAt);
}
