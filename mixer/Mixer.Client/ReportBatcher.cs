using System.Threading.Channels;
using Istio.Mixer.V1;

namespace Mixer.Client;

/// <summary>Report batching as Istio's proxy does it, plus a bounded buffer (its defaults: 1000 sets or 1 s).</summary>
public sealed class ReportBatchOptions
{
    /// <summary>A batch is sent when it holds this many sets (Istio: 1000).</summary>
    public int MaxSetsPerBatch { get; set; } = 1000;

    /// <summary>…or when its first set has waited this long (Istio: 1 s).</summary>
    public TimeSpan MaxDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Sets waiting to be encoded beyond this are dropped and counted (Istio has no bound).</summary>
    public int MaxPendingSets { get; set; } = 10000;

    /// <summary>
    /// Called on the batcher's thread with each queued set once the batcher holds it no more (it is
    /// encoded, and the set after it has been compared with it): the caller may clear and reuse it.
    /// Sets that were dropped are not handed back. Null (the default): nothing is called.
    /// </summary>
    public Action<Attributes>? Released { get; set; }
}

/// <summary>
/// Collects attribute sets and sends them as delta-encoded Report batches (global dictionary plus
/// one shared <c>default_words</c> list), by size or by age, from one background loop. The buffer
/// between callers and that loop is bounded: a set that does not fit is dropped and counted in
/// <see cref="Dropped"/>, never silently. Report failures are counted and logged by the sender, not
/// retried forever (Istio's proxy only logs them).
/// </summary>
public sealed class ReportBatcher : IAsyncDisposable
{
    private static readonly TimeSpan NapInterval = TimeSpan.FromMilliseconds(10);

    private readonly Channel<object> _pending;
    private readonly Func<EncodedReport, CancellationToken, Task> _send;
    private readonly AttributeCompressor _compressor;
    private readonly ReportBatchOptions _options;
    private readonly TimeProvider _time;
    private readonly Task _loop;
    private readonly CancellationTokenSource _stop = new();
    private TaskCompletionSource _idle = NewIdle();
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
        _compressor = compressor ?? throw new ArgumentNullException(nameof(compressor));
        _options = options ?? new ReportBatchOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(_options.MaxSetsPerBatch, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(_options.MaxPendingSets, 1);
        _time = time ?? TimeProvider.System;
        _pending = Channel.CreateBounded<object>(new BoundedChannelOptions(_options.MaxPendingSets)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
        _loop = Task.Run(RunAsync);
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

    /// <summary>Queues one set; false (and counted in <see cref="Dropped"/>) when the buffer is full.</summary>
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

    private bool EnqueueSet(object attributes)
    {
        Interlocked.Increment(ref _inFlight);
        if (_pending.Writer.TryWrite(attributes))
        {
            Interlocked.Increment(ref _enqueued);
            return true;
        }

        Interlocked.Increment(ref _dropped);
        Done(1);
        return false;
    }

    /// <summary>Completes when every set queued so far has been sent (or has failed).</summary>
    public Task WhenIdleAsync()
    {
        lock (_pending)
        {
            return Volatile.Read(ref _inFlight) == 0 ? Task.CompletedTask : _idle.Task;
        }
    }

    /// <summary>Sends what is queued and stops.</summary>
    public async ValueTask DisposeAsync()
    {
        _pending.Writer.TryComplete();
        try
        {
            await _loop.WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            await _stop.CancelAsync().ConfigureAwait(false);
        }

        _stop.Dispose();
    }

    private async Task RunAsync()
    {
        var reader = _pending.Reader;
        var batch = _compressor.CreateReportBatch();
        batch.Released = _options.Released;
        var maxDelay = (long)(_options.MaxDelay.TotalSeconds * _time.TimestampFrequency);
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            // The age limit runs from the first set of the batch, as in Istio.
            var deadline = _time.GetTimestamp() + maxDelay;
            while (true)
            {
                while (batch.Count < _options.MaxSetsPerBatch && reader.TryRead(out var next))
                {
                    AddOrFlush(batch, next, out var flushed);
                    await SendAllAsync(flushed).ConfigureAwait(false);
                }

                if (batch.Count == 0 || batch.Count >= _options.MaxSetsPerBatch || reader.Completion.IsCompleted)
                {
                    break;
                }

                var left = _time.GetElapsedTime(_time.GetTimestamp(), deadline);
                if (left <= TimeSpan.Zero)
                {
                    break;
                }

                // Nap instead of waiting on the channel: a reader waiting there is woken (a thread-pool
                // dispatch, often a thread woken up) by every set written, i.e. once per request. A
                // short nap wakes this loop a hundred times a second at most, and the buffer fills by
                // only a nap's worth of sets meanwhile.
                try
                {
                    await Task.Delay(left < NapInterval ? left : NapInterval, _time, _stop.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }

            if (batch.Count > 0)
            {
                await SendAsync(batch.BuildEncoded()).ConfigureAwait(false);
            }
        }
    }

    private void AddOrFlush(ReportBatchBuilder batch, object set, out EncodedReport? flushed)
    {
        flushed = null;
        try
        {
            if (!batch.TryAdd(set))
            {
                // Delta encoding cannot remove an attribute: send what is there, start again with this set.
                flushed = batch.BuildEncoded();
                batch.TryAdd(set);
            }
        }
        catch (ArgumentException)
        {
            // A set with an empty value cannot go on the wire; the batch is unchanged. Counted, not lost silently.
            Interlocked.Increment(ref _invalid);
            Interlocked.Increment(ref _dropped);
            Done(1);
        }
    }

    private Task SendAllAsync(EncodedReport? flushed) =>
        flushed is not null ? SendAsync(flushed) : Task.CompletedTask;

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
            lock (_pending)
            {
                var idle = _idle;
                _idle = NewIdle();
                idle.TrySetResult();
            }
        }
    }

    private static TaskCompletionSource NewIdle() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
