using Istio.Mixer.V1;

namespace Mixer.Client;

/// <summary>Report batching as Istio's proxy does it, plus a bounded buffer (its defaults: 1000 sets or 1 s).</summary>
public sealed class ReportBatchOptions
{
    /// <summary>A batch is sent when it holds this many sets (Istio: 1000).</summary>
    public int MaxSetsPerBatch { get; set; } = 1000;

    /// <summary>…or when its first set has waited this long (Istio: 1 s).</summary>
    public TimeSpan MaxDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Sets held beyond this (in the batch being filled and in batches waiting for Mixer) are
    /// dropped and counted (Istio has no bound).
    /// </summary>
    public int MaxPendingSets { get; set; } = 10000;

    /// <summary>
    /// Called with each queued message set once the batcher holds it no more (it is encoded, and the
    /// set after it has been compared with it): the caller may clear and reuse it. It is called
    /// under the batcher's lock, by the thread that queued the next set or flushed the batch: keep
    /// it short. Sets that were dropped are not handed back. Null (the default): nothing is called.
    /// A record is handed back through its own <see cref="AttributeRecord.Released"/> instead.
    /// </summary>
    public Action<Attributes>? Released { get; set; }
}

/// <summary>
/// Collects attribute sets and sends them as delta-encoded Report batches (global dictionary plus
/// one shared <c>default_words</c> list), by size or by age. Each set is encoded as it is queued,
/// by the caller's thread under one lock, while its values are still in the CPU's cache; a full or
/// old batch goes to a sender that makes one Report call at a time. What the batcher holds is
/// bounded: a set that does not fit is dropped and counted in <see cref="Dropped"/>, never
/// silently. Report failures are counted and logged by the sender, not retried forever (Istio's
/// proxy only logs them).
/// </summary>
public sealed class ReportBatcher : IAsyncDisposable
{
    private readonly Lock _gate = new();
    private readonly Lock _idleGate = new();
    private readonly Func<EncodedReport, CancellationToken, Task> _send;
    private readonly ReportBatchBuilder _batch;
    private readonly Queue<EncodedReport> _toSend = new();
    private readonly ReportBatchOptions _options;
    private readonly TimeProvider _time;
    private readonly ITimer _timer;
    private readonly long _maxDelay;
    private readonly CancellationTokenSource _stop = new();
    private TaskCompletionSource _idle = NewIdle();
    private long _batchStarted;
    private int _heldInBatches;
    private bool _sending;
    private bool _stopped;
    private long _enqueued;
    private long _dropped;
    private long _sentSets;
    private long _requests;
    private long _failedSets;
    private long _invalid;
    private int _inFlight;

    /// <summary>
    /// A batcher that hands every built request to <paramref name="send"/> (which should throw when the
    /// request was not delivered, so the sets are counted as failed).
    /// </summary>
    public ReportBatcher(Func<ReportRequest, CancellationToken, Task> send, AttributeCompressor compressor, ReportBatchOptions? options = null, TimeProvider? time = null)
        : this(compressor, ToRequest(send ?? throw new ArgumentNullException(nameof(send))), options, time)
    {
    }

    /// <summary>A batcher that hands the wire bytes of every built request to <paramref name="send"/>.</summary>
    internal ReportBatcher(AttributeCompressor compressor, Func<EncodedReport, CancellationToken, Task> send, ReportBatchOptions? options = null, TimeProvider? time = null)
    {
        _send = send ?? throw new ArgumentNullException(nameof(send));
        ArgumentNullException.ThrowIfNull(compressor);
        _options = options ?? new ReportBatchOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(_options.MaxSetsPerBatch, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(_options.MaxPendingSets, 1);
        _time = time ?? TimeProvider.System;
        _maxDelay = (long)(_options.MaxDelay.TotalSeconds * _time.TimestampFrequency);
        _batch = compressor.CreateReportBatch();
        _batch.Released = _options.Released;
        _timer = _time.CreateTimer(static state => ((ReportBatcher)state!).OnTimer(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    /// <summary>Sets accepted for reporting.</summary>
    public long Enqueued => Interlocked.Read(ref _enqueued);

    /// <summary>Sets dropped because the buffer was full, the batcher had stopped, or a value was empty.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Sets delivered to Mixer.</summary>
    public long SentSets => Interlocked.Read(ref _sentSets);

    /// <summary>Sets in batches Mixer did not accept.</summary>
    public long FailedSets => Interlocked.Read(ref _failedSets);

    /// <summary>Sets refused because an attribute had no value (counted in <see cref="Dropped"/> too).</summary>
    public long Invalid => Interlocked.Read(ref _invalid);

    /// <summary>Report requests made.</summary>
    public long Requests => Interlocked.Read(ref _requests);

    /// <summary>Queues one set; false (and counted in <see cref="Dropped"/>) when the buffer is full or a value is empty.</summary>
    public bool Enqueue(Attributes attributes)
    {
        ArgumentNullException.ThrowIfNull(attributes);
        return EnqueueSet(attributes);
    }

    /// <summary>
    /// Queues one record; false (and counted in <see cref="Dropped"/>) when the buffer is full. Its
    /// <see cref="AttributeRecord.Released"/> is called once the batcher no longer needs it.
    /// </summary>
    public bool Enqueue(AttributeRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        return EnqueueSet(record);
    }

    /// <summary>Completes when every set queued so far has been sent (or has failed).</summary>
    public Task WhenIdleAsync()
    {
        lock (_idleGate)
        {
            return Volatile.Read(ref _inFlight) == 0 ? Task.CompletedTask : _idle.Task;
        }
    }

    /// <summary>Sends what is queued and stops.</summary>
    public async ValueTask DisposeAsync()
    {
        lock (_gate)
        {
            _stopped = true;
            FlushLocked();
        }

        _timer.Dispose();
        try
        {
            await WhenIdleAsync().WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            await _stop.CancelAsync().ConfigureAwait(false);
        }

        _stop.Dispose();
    }

    private bool EnqueueSet(object set)
    {
        Interlocked.Increment(ref _inFlight);
        var armTimer = false;
        var accepted = false;
        lock (_gate)
        {
            if (!_stopped && _heldInBatches + _batch.Count < _options.MaxPendingSets)
            {
                var wasEmpty = _batch.Count == 0;
                accepted = TryAddLocked(set);
                if (accepted && wasEmpty)
                {
                    // The age limit runs from the first set of the batch, as in Istio.
                    _batchStarted = _time.GetTimestamp();
                    armTimer = true;
                }

                if (_batch.Count >= _options.MaxSetsPerBatch)
                {
                    FlushLocked();
                }
            }
        }

        if (!accepted)
        {
            Interlocked.Increment(ref _dropped);
            Done(1);
            return false;
        }

        Interlocked.Increment(ref _enqueued);
        if (armTimer)
        {
            _timer.Change(_options.MaxDelay, Timeout.InfiniteTimeSpan);
        }

        return true;
    }

    // Adds the set; when it cannot be a delta on the set before (it lacks an attribute that one had,
    // or is of the other form), the batch is sent as it is and a new one starts with it.
    private bool TryAddLocked(object set)
    {
        try
        {
            if (!_batch.TryAdd(set))
            {
                FlushLocked();
                _batch.TryAdd(set);
            }

            return true;
        }
        catch (ArgumentException)
        {
            // A set with an empty value cannot go on the wire; the batch is unchanged. Counted, not lost silently.
            Interlocked.Increment(ref _invalid);
            return false;
        }
    }

    private void OnTimer()
    {
        TimeSpan? rearm = null;
        lock (_gate)
        {
            if (_batch.Count == 0)
            {
                return;
            }

            var left = _time.GetElapsedTime(_time.GetTimestamp(), _batchStarted + _maxDelay);
            if (left > TimeSpan.Zero)
            {
                // Fired for a batch sent by size since: this one has time left.
                rearm = left;
            }
            else
            {
                FlushLocked();
            }
        }

        if (rearm is { } wait)
        {
            _timer.Change(wait, Timeout.InfiniteTimeSpan);
        }
    }

    // Hands the batch being filled to the sender (started when it is not running).
    private void FlushLocked()
    {
        if (_batch.Count == 0)
        {
            return;
        }

        var report = _batch.BuildEncoded();
        _toSend.Enqueue(report);
        _heldInBatches += report.Sets;
        if (!_sending)
        {
            _sending = true;
            ThreadPool.UnsafeQueueUserWorkItem(static batcher => _ = batcher.SendAllAsync(), this, preferLocal: false);
        }
    }

    // One Report call at a time, in order, until nothing is waiting.
    private async Task SendAllAsync()
    {
        while (true)
        {
            EncodedReport report;
            lock (_gate)
            {
                if (!_toSend.TryDequeue(out report!))
                {
                    _sending = false;
                    return;
                }
            }

            await SendAsync(report).ConfigureAwait(false);
            lock (_gate)
            {
                _heldInBatches -= report.Sets;
            }
        }
    }

    private async Task SendAsync(EncodedReport request)
    {
        Interlocked.Increment(ref _requests);
        var count = request.Sets;
        try
        {
            await _send(request, _stop.Token).ConfigureAwait(false);
            Interlocked.Add(ref _sentSets, count);
        }
        catch (Exception)
        {
            Interlocked.Add(ref _failedSets, count);
        }
        finally
        {
            request.Dispose();
            Done(count);
        }
    }

    private static Func<EncodedReport, CancellationToken, Task> ToRequest(Func<ReportRequest, CancellationToken, Task> send) =>
        (encoded, token) => send(encoded.ToRequest(), token);

    private void Done(int count)
    {
        if (Interlocked.Add(ref _inFlight, -count) == 0)
        {
            lock (_idleGate)
            {
                var idle = _idle;
                _idle = NewIdle();
                idle.TrySetResult();
            }
        }
    }

    private static TaskCompletionSource NewIdle() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
