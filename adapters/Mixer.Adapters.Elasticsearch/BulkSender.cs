using System.Threading.Channels;
using Elastic.Clients.Elasticsearch;
using Elastic.Clients.Elasticsearch.Core.Bulk;
using Microsoft.Extensions.Logging;
using Mixer.Sdk.Adapters;

namespace Mixer.Adapters.Elasticsearch;

/// <summary>What the sender does with a batch; the Elasticsearch client in production, a stand-in's answers in tests.</summary>
internal interface IBulkClient
{
    /// <summary>Indexes <paramref name="documents"/>; one status per document, in order (0 when the whole request failed).</summary>
    Task<BulkAnswer> SendAsync(IReadOnlyList<RawDocument> documents, CancellationToken cancellationToken);
}

/// <summary>A _bulk answer: the request's HTTP status (0 when unreachable) and each item's status.</summary>
internal sealed record BulkAnswer(int Status, IReadOnlyList<int> ItemStatuses, string? Error);

/// <summary>
/// The background half of a handler: a bounded queue that Report only ever writes to without
/// waiting, and one loop that sends batches of <c>batchSize</c> (or whatever arrived within
/// <c>flushInterval</c>) through _bulk. A rejected (429), failed (5xx) or unsent batch is sent
/// again with exponential backoff; so are the single documents the answer marks 429 or 5xx. What
/// is still not indexed after <c>maxRetries</c>, or that Elasticsearch refuses for good (a 4xx
/// such as a mapping error), is counted in <c>mixer_adapter_failed_total</c>; what does not fit
/// the queue in <c>mixer_adapter_dropped_total</c>. Disposing sends what is queued, within the
/// host's shutdown timeout; what is left then is counted as dropped.
/// </summary>
internal sealed class BulkSender : IAsyncDisposable
{
    private readonly Channel<RawDocument> _queue;
    private readonly IBulkClient _client;
    private readonly ElasticsearchParams _params;
    private readonly TimeSpan _shutdownTimeout;
    private readonly ILogger _logger;
    private readonly string _handler;
    private readonly IAdapterCounter _droppedCounter;
    private readonly IAdapterCounter _failedCounter;
    private readonly IAdapterCounter _indexedCounter;
    private readonly IDisposable _queueGauge;
    private readonly CancellationTokenSource _abandon = new();
    private readonly Task _loop;
    private long _dropped;
    private long _failed;
    private long _indexed;

    public BulkSender(IBulkClient client, ElasticsearchParams p, HandlerContext context)
    {
        _client = client;
        _params = p;
        _handler = context.HandlerName;
        _logger = context.Logger;
        _shutdownTimeout = HostSettings.ShutdownTimeoutOf(context.Settings, TimeSpan.FromSeconds(10));
        _droppedCounter = context.Metrics.Counter("mixer_adapter_dropped_total", "Instances a handler dropped: its queue was full, or it could not use them.");
        _failedCounter = context.Metrics.Counter("mixer_adapter_failed_total", "Instances a handler's backend finally refused, or that could not be sent within the retries.");
        _indexedCounter = context.Metrics.Counter("mixer_adapter_sent_total", "Instances a handler's backend accepted.");
        _queue = Channel.CreateBounded<RawDocument>(
            new BoundedChannelOptions(p.BufferLimit) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true },
            _ => Drop(1));
        _queueGauge = context.Metrics.Gauge("mixer_adapter_queue_length", "Instances waiting in a handler's queue.", () => _queue.Reader.Count);
        _loop = Task.Run(RunAsync);
    }

    public long Dropped => Interlocked.Read(ref _dropped);

    public long Failed => Interlocked.Read(ref _failed);

    public long Indexed => Interlocked.Read(ref _indexed);

    /// <summary>Queues a document; never waits. A full queue drops it (counted).</summary>
    public void Enqueue(RawDocument document)
    {
        // With DropWrite a full channel accepts and calls the drop callback; false means closed.
        if (!_queue.Writer.TryWrite(document))
        {
            Drop(1);
        }
    }

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        _abandon.CancelAfter(_shutdownTimeout);
        await _loop.ConfigureAwait(false);
        _queueGauge.Dispose();
        _abandon.Dispose();
    }

    private async Task RunAsync()
    {
        var reader = _queue.Reader;
        var batch = new List<RawDocument>(_params.BatchSize);
        try
        {
            while (await reader.WaitToReadAsync(_abandon.Token).ConfigureAwait(false))
            {
                // Fill the batch; wait at most flushInterval after its first document.
                using (var window = CancellationTokenSource.CreateLinkedTokenSource(_abandon.Token))
                {
                    window.CancelAfter(_params.FlushInterval);
                    try
                    {
                        while (batch.Count < _params.BatchSize)
                        {
                            if (reader.TryRead(out var d))
                            {
                                batch.Add(d);
                            }
                            else if (!await reader.WaitToReadAsync(window.Token).ConfigureAwait(false))
                            {
                                break;
                            }
                        }
                    }
                    catch (OperationCanceledException) when (!_abandon.IsCancellationRequested)
                    {
                        // The flush interval is up: send what we have.
                    }
                }

                await SendAsync(batch).ConfigureAwait(false);
                batch.Clear();
            }
        }
        catch (OperationCanceledException) when (_abandon.IsCancellationRequested)
        {
            // Shutdown deadline passed: what is left is dropped, counted.
            var left = batch.Count;
            while (reader.TryRead(out _))
            {
                left++;
            }

            if (left > 0)
            {
                Drop(left);
                ElasticsearchLog.Abandoned(_logger, _handler, left);
            }
        }
    }

    private async Task SendAsync(List<RawDocument> batch)
    {
        IReadOnlyList<RawDocument> pending = batch;
        var backoff = _params.InitialBackoff;
        for (var attempt = 0; pending.Count > 0; attempt++)
        {
            BulkAnswer answer;
            try
            {
                answer = await _client.SendAsync(pending, _abandon.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException || !_abandon.IsCancellationRequested)
            {
                answer = new BulkAnswer(0, [], e.Message);
            }

            var retry = new List<RawDocument>();
            var refused = 0;
            if (answer.Status is >= 200 and < 300 && answer.ItemStatuses.Count == pending.Count)
            {
                for (var i = 0; i < pending.Count; i++)
                {
                    var s = answer.ItemStatuses[i];
                    if (s is >= 200 and < 300)
                    {
                        continue;
                    }

                    if (Retryable(s))
                    {
                        retry.Add(pending[i]);
                    }
                    else
                    {
                        refused++;
                    }
                }
            }
            else if (Retryable(answer.Status) || answer.Status is >= 200 and < 300)
            {
                // The whole request was rejected, failed or not answered item by item: all again.
                retry.AddRange(pending);
            }
            else
            {
                refused = pending.Count;
            }

            var accepted = pending.Count - retry.Count - refused;
            Interlocked.Add(ref _indexed, accepted);
            _indexedCounter.Add(accepted);
            if (refused > 0)
            {
                Fail(refused, $"HTTP {answer.Status}{(answer.Error is null ? string.Empty : ": " + answer.Error)}");
            }

            if (retry.Count == 0)
            {
                return;
            }

            if (attempt >= _params.MaxRetries)
            {
                Fail(retry.Count, $"still failing after {_params.MaxRetries} retries (last: HTTP {answer.Status}{(answer.Error is null ? string.Empty : ", " + answer.Error)})");
                return;
            }

            ElasticsearchLog.Retrying(_logger, _handler, retry.Count, answer.Status, backoff.TotalMilliseconds);
            await Task.Delay(backoff, _abandon.Token).ConfigureAwait(false);
            backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, _params.MaxBackoff.Ticks));
            pending = retry;
        }
    }

    /// <summary>Worth sending again: not answered, too many requests, or a server-side failure.</summary>
    private static bool Retryable(int status) => status is 0 or 429 or >= 500;

    private void Drop(long count)
    {
        if (Interlocked.Add(ref _dropped, count) == count)
        {
            ElasticsearchLog.Dropping(_logger, _handler);
        }

        _droppedCounter.Add(count);
    }

    private void Fail(int count, string reason)
    {
        Interlocked.Add(ref _failed, count);
        _failedCounter.Add(count);
        ElasticsearchLog.Failed(_logger, _handler, count, reason);
    }
}

/// <summary>Sends through Elastic.Clients.Elasticsearch.</summary>
internal sealed class ElasticBulkClient(ElasticsearchClient client) : IBulkClient
{
    public async Task<BulkAnswer> SendAsync(IReadOnlyList<RawDocument> documents, CancellationToken cancellationToken)
    {
        var operations = new BulkOperationsCollection();
        foreach (var d in documents)
        {
            operations.Add(new BulkIndexOperation<RawDocument>(d, d.Index));
        }

        var response = await client.BulkAsync(new BulkRequest { Operations = operations }, cancellationToken).ConfigureAwait(false);
        var status = response.ApiCallDetails.HttpStatusCode ?? 0;
        var items = response.Items?.Select(i => i.Status).ToList() ?? [];
        var error = response.IsValidResponse ? null : response.ElasticsearchServerError?.Error?.Reason ?? response.ApiCallDetails.OriginalException?.Message;
        return new BulkAnswer(status, items, error);
    }
}

internal static partial class ElasticsearchLog
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Warning, Message = "elasticsearch handler {Handler}: queue full, dropping documents")]
    public static partial void Dropping(ILogger logger, string handler);

    [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "elasticsearch handler {Handler}: {Count} documents rejected (HTTP {Status}), retrying in {Backoff} ms")]
    public static partial void Retrying(ILogger logger, string handler, int count, int status, double backoff);

    [LoggerMessage(EventId = 3, Level = LogLevel.Warning, Message = "elasticsearch handler {Handler}: {Count} documents not indexed: {Reason}")]
    public static partial void Failed(ILogger logger, string handler, int count, string reason);

    [LoggerMessage(EventId = 4, Level = LogLevel.Warning, Message = "elasticsearch handler {Handler}: shutdown deadline passed, {Count} documents not sent")]
    public static partial void Abandoned(ILogger logger, string handler, int count);

    [LoggerMessage(EventId = 5, Level = LogLevel.Debug, Message = "elasticsearch handler {Handler} built: {Nodes} node(s), index '{Index}'")]
    public static partial void Built(ILogger logger, string handler, int nodes, string index);
}
