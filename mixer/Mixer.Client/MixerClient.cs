using Google.Protobuf;
using Grpc.Core;
using Istio.Mixer.V1;
using RpcStatus = Google.Rpc.Status;

namespace Mixer.Client;

/// <summary>What the client does when Mixer cannot be reached (Istio's <c>network_fail_policy</c>).</summary>
public enum NetworkFailPolicy
{
    /// <summary>Let the request through (Istio's default); also for a Check answered INTERNAL.</summary>
    FailOpen,

    /// <summary>Refuse the request with the transport's status (UNAVAILABLE, DEADLINE_EXCEEDED…).</summary>
    FailClose,
}

/// <summary>Settings of <see cref="MixerClient"/>; the defaults are Istio's proxy's where it has one.</summary>
public sealed class MixerClientOptions
{
    /// <summary>FAIL_OPEN (default) or FAIL_CLOSE.</summary>
    public NetworkFailPolicy NetworkFailPolicy { get; set; } = NetworkFailPolicy.FailOpen;

    /// <summary>Check answers held (LRU); 0 turns the check cache off (Istio: 10000).</summary>
    public int CheckCacheEntries { get; set; } = CheckCache.DefaultMaxEntries;

    /// <summary>Spend quota from a prefetched local allowance (Istio: on); off asks Mixer for every request.</summary>
    public bool QuotaCache { get; set; } = true;

    /// <summary>Quota prefetch settings.</summary>
    public QuotaPrefetchOptions QuotaPrefetch { get; set; } = new();

    /// <summary>Deadline of one Check attempt.</summary>
    public TimeSpan CheckTimeout { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Deadline of one Report call.</summary>
    public TimeSpan ReportTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Extra attempts after a call that did not reach Mixer (UNAVAILABLE), same deduplication id.</summary>
    public int Retries { get; set; } = 2;

    /// <summary>Wait before the first retry; doubled for each next one, with jitter.</summary>
    public TimeSpan RetryBackoff { get; set; } = TimeSpan.FromMilliseconds(20);

    /// <summary>Report batching.</summary>
    public ReportBatchOptions ReportBatch { get; set; } = new();
}

/// <summary>The answer to <see cref="MixerClient.CheckAsync(Attributes, IReadOnlyList{QuotaRequest}?, CancellationToken)"/>.</summary>
/// <param name="Status">OK, or why the request is refused.</param>
/// <param name="RouteDirective">Header operations or a direct response to apply when OK, or null.</param>
/// <param name="CheckCacheHit">The precondition came from the check cache.</param>
/// <param name="QuotaCacheHit">Every quota was decided locally.</param>
/// <param name="FailedOpen">Mixer could not answer and the policy let the request through.</param>
public sealed record CheckResult(RpcStatus Status, RouteDirective? RouteDirective, bool CheckCacheHit, bool QuotaCacheHit, bool FailedOpen)
{
    /// <summary>Whether the request may proceed.</summary>
    public bool IsOk => Status.Code == 0;
}

/// <summary>
/// Istio's Mixer client: Check with the check cache and quota prefetch, Report through a batcher,
/// FAIL_OPEN/FAIL_CLOSE on network failure, retries with backoff, per-call deadlines. One instance
/// per proxy; thread-safe.
/// </summary>
public sealed class MixerClient : IAsyncDisposable
{
    // Report with the batcher's own wire bytes: the request is never built as a message object.
    private static readonly Method<EncodedReport, ReportResponse> s_rawReport = new(
        MethodType.Unary,
        "istio.mixer.v1.Mixer",
        "Report",
        Marshallers.Create<EncodedReport>(
            static (report, context) =>
            {
                context.SetPayloadLength(report.Length);
                var writer = context.GetBufferWriter();
                report.Bytes.CopyTo(writer.GetSpan(report.Length));
                writer.Advance(report.Length);
                context.Complete();
            },
            static _ => throw new NotSupportedException("the client never reads Report requests")),
        Marshallers.Create(static (ReportResponse r) => r.ToByteArray(), static bytes => ReportResponse.Parser.ParseFrom(bytes)));

    private readonly Istio.Mixer.V1.Mixer.MixerClient _rpc;
    private readonly CallInvoker? _invoker;
    private readonly CheckCache? _checkCache;
    private readonly QuotaCache? _quotaCache;
    private readonly string _dedupBase = Guid.NewGuid().ToString("N") + "-";
    private long _dedupCounter;
    private long _checkCalls;
    private long _failedOpen;
    private long _transportFailures;

    /// <summary>A client calling Mixer through <paramref name="rpc"/>.</summary>
    public MixerClient(Istio.Mixer.V1.Mixer.MixerClient rpc, MixerClientOptions? options = null, TimeProvider? time = null)
    {
        _rpc = rpc ?? throw new ArgumentNullException(nameof(rpc));
        Options = options ?? new MixerClientOptions();
        time ??= TimeProvider.System;
        _checkCache = Options.CheckCacheEntries > 0 ? new CheckCache(Options.CheckCacheEntries, time) : null;
        _quotaCache = Options.QuotaCache ? new QuotaCache(Options.QuotaPrefetch, time) : null;
        Reports = new ReportBatcher(Compressor, SendReportAsync, Options.ReportBatch, time);
    }

    /// <summary>
    /// A client calling Mixer through <paramref name="invoker"/> (e.g. <c>channel.CreateCallInvoker()</c>);
    /// Report batches then go out as the bytes the batcher wrote, with no message object in between.
    /// </summary>
    public MixerClient(CallInvoker invoker, MixerClientOptions? options = null, TimeProvider? time = null)
        : this(new Istio.Mixer.V1.Mixer.MixerClient(invoker ?? throw new ArgumentNullException(nameof(invoker))), options, time)
    {
        _invoker = invoker;
    }

    /// <summary>The settings.</summary>
    public MixerClientOptions Options { get; }

    /// <summary>The attribute compressor every request goes through.</summary>
    public AttributeCompressor Compressor { get; } = new();

    /// <summary>The check cache, or null when off.</summary>
    public CheckCache? CheckCache => _checkCache;

    /// <summary>The quota allowances, or null when off.</summary>
    public QuotaCache? QuotaCache => _quotaCache;

    /// <summary>The report batcher (counts of sets queued, sent, dropped).</summary>
    public ReportBatcher Reports { get; }

    /// <summary>Check RPCs made (attempts, retries included; background quota top-ups included).</summary>
    public long CheckCalls => Interlocked.Read(ref _checkCalls);

    /// <summary>Checks let through because Mixer could not answer.</summary>
    public long FailedOpenCount => Interlocked.Read(ref _failedOpen);

    /// <summary>Calls that did not get an answer from Mixer after every retry.</summary>
    public long TransportFailures => Interlocked.Read(ref _transportFailures);

    /// <summary>Queues a Report of <paramref name="attributes"/>; false when the buffer is full (the set is counted as dropped).</summary>
    public bool Report(Attributes attributes) => Reports.Enqueue(attributes);

    /// <summary>
    /// Queues a Report of <paramref name="record"/>; false when the buffer is full (the set is counted
    /// as dropped). Leave the record untouched until its <see cref="AttributeRecord.Released"/> is called.
    /// </summary>
    public bool Report(AttributeRecord record) => Reports.Enqueue(record);

    /// <summary>
    /// May a request with <paramref name="attributes"/> proceed and spend <paramref name="quotas"/>?
    /// Answered from the caches when they can, else by Mixer.
    /// </summary>
    public ValueTask<CheckResult> CheckAsync(Attributes attributes, IReadOnlyList<QuotaRequest>? quotas = null, CancellationToken cancellationToken = default) =>
        CheckAsync(new AttributeSource(attributes), quotas, cancellationToken);

    /// <summary>
    /// As <see cref="CheckAsync(Attributes, IReadOnlyList{QuotaRequest}?, CancellationToken)"/>, for a
    /// request held as a record: the caches read its slots, and only a call to Mixer builds its
    /// message form. The record is not kept: change it as soon as this returns.
    /// </summary>
    public ValueTask<CheckResult> CheckAsync(AttributeRecord record, IReadOnlyList<QuotaRequest>? quotas = null, CancellationToken cancellationToken = default) =>
        CheckAsync(new AttributeSource(record), quotas, cancellationToken);

    private ValueTask<CheckResult> CheckAsync(AttributeSource source, IReadOnlyList<QuotaRequest>? quotas, CancellationToken cancellationToken)
    {
        quotas ??= [];
        CheckVerdict? cached = null;
        var refresh = false;
        CachedResults? results = null;
        var checkHit = _checkCache is not null && _checkCache.TryGet(source, out cached, out refresh, out results);
        Attributes? message = null;
        if (refresh)
        {
            _ = RefreshAsync(message ??= source.ToAttributes());
        }

        if (checkHit && !cached!.IsOk)
        {
            return ValueTask.FromResult(results!.Denied);
        }

        // Quota first from the local allowances; only what they cannot decide goes to Mixer.
        List<QuotaRequest>? ask = null;
        List<(QuotaRequest Quota, long Amount)>? topUps = null;
        foreach (var q in quotas)
        {
            long prefetch = 0;
            var decision = _quotaCache?.TryTake(source, q, out prefetch) ?? QuotaDecision.Unknown;
            switch (decision)
            {
                case QuotaDecision.Exhausted:
                    return ValueTask.FromResult(new CheckResult(Exhausted(q.Name), null, checkHit, true, false));
                case QuotaDecision.Granted:
                    if (prefetch > 0)
                    {
                        (topUps ??= []).Add((q, prefetch));
                    }

                    break;
                default:
                    (ask ??= []).Add(q);
                    break;
            }
        }

        if (topUps is not null)
        {
            message ??= source.ToAttributes();
            foreach (var (q, amount) in topUps)
            {
                _ = TopUpAsync(message, q.Name, amount);
            }
        }

        if (checkHit && ask is null)
        {
            return ValueTask.FromResult(results!.Hit(quotas.Count > 0));
        }

        return CheckWithMixerAsync(message ?? source.ToAttributes(), ask, checkHit, cached, cancellationToken);
    }

    // What the caches could not decide: the precondition (unless it was a hit) and the quotas in ask.
    private async ValueTask<CheckResult> CheckWithMixerAsync(Attributes attributes, List<QuotaRequest>? ask, bool checkHit, CheckVerdict? cached, CancellationToken cancellationToken)
    {
        var request = Compressor.CreateCheckRequest(attributes, NextDeduplicationId());
        if (ask is not null)
        {
            foreach (var q in ask)
            {
                request.Quotas[q.Name] = _quotaCache is null
                    ? new CheckRequest.Types.QuotaParams { Amount = q.Amount, BestEffort = false }
                    : new CheckRequest.Types.QuotaParams { Amount = _quotaCache.AmountToAsk(q.Amount), BestEffort = true };
            }
        }

        CheckResponse response;
        try
        {
            response = await CallCheckAsync(request, attributes, cancellationToken).ConfigureAwait(false);
        }
        catch (RpcException e)
        {
            Interlocked.Increment(ref _transportFailures);
            return Failed(new RpcStatus { Code = (int)e.StatusCode, Message = e.Status.Detail }, checkHit ? cached : null);
        }

        var precondition = response.Precondition ?? new CheckResponse.Types.PreconditionResult { Status = new RpcStatus() };
        var status = precondition.Status ?? new RpcStatus();
        if (!checkHit)
        {
            if (status.Code == (int)StatusCode.Internal)
            {
                // Mixer's own failure: the network policy decides, and nothing is cached.
                return Failed(status, null);
            }

            _checkCache?.TryAdd(attributes, precondition);
        }
        else
        {
            status = cached!.Status;
            precondition.RouteDirective = cached.RouteDirective;
        }

        if (status.Code != 0)
        {
            return new CheckResult(status, null, checkHit, false, false);
        }

        if (ask is not null)
        {
            foreach (var q in ask)
            {
                var granted = response.Quotas.TryGetValue(q.Name, out var result)
                    ? (_quotaCache?.Complete(attributes, q.Name, q.Amount, result) ?? result.GrantedAmount >= q.Amount)
                    : false;
                if (!granted)
                {
                    return new CheckResult(Exhausted(q.Name), null, checkHit, false, false);
                }
            }
        }

        return new CheckResult(status, precondition.RouteDirective, checkHit, false, false);
    }

    /// <summary>Sends what is queued for Report and stops.</summary>
    public ValueTask DisposeAsync() => Reports.DisposeAsync();

    private static RpcStatus Exhausted(string quota) =>
        new() { Code = (int)StatusCode.ResourceExhausted, Message = "Quota is exhausted for: " + quota };

    private CheckResult Failed(RpcStatus status, CheckVerdict? cached)
    {
        if (Options.NetworkFailPolicy == NetworkFailPolicy.FailOpen)
        {
            Interlocked.Increment(ref _failedOpen);
            return new CheckResult(new RpcStatus(), cached?.RouteDirective, cached is not null, false, true);
        }

        return new CheckResult(status, null, false, false, false);
    }

    private async Task TopUpAsync(Attributes original, string name, long amount)
    {
        // The caller goes on changing its set (Report adds response.*): work on a copy, taken before
        // this method first yields.
        var attributes = original.Clone();
        CheckResponse.Types.QuotaResult? result = null;
        try
        {
            var request = Compressor.CreateCheckRequest(attributes, NextDeduplicationId());
            request.Quotas[name] = new CheckRequest.Types.QuotaParams { Amount = amount, BestEffort = true };
            var response = await CallCheckAsync(request, attributes, CancellationToken.None).ConfigureAwait(false);
            if (response.Precondition?.Status is not { Code: not 0 })
            {
                response.Quotas.TryGetValue(name, out result);
            }
        }
        catch (Exception)
        {
            // A background top-up has no caller to tell: count it; the next request asks again.
            Interlocked.Increment(ref _transportFailures);
        }
        finally
        {
            _quotaCache!.CompletePrefetch(attributes, name, result);
        }
    }

    /// <summary>
    /// Asks Mixer again for an answer the cache still serves but that is nearly spent, so the
    /// requests after it find a fresh one instead of all waiting on Mixer at once.
    /// </summary>
    private async Task RefreshAsync(Attributes original)
    {
        var attributes = original.Clone();
        try
        {
            var request = Compressor.CreateCheckRequest(attributes, NextDeduplicationId());
            var response = await CallCheckAsync(request, attributes, CancellationToken.None).ConfigureAwait(false);
            if (response.Precondition is { } precondition && precondition.Status?.Code != (int)StatusCode.Internal)
            {
                _checkCache!.TryAdd(attributes, precondition);
            }
        }
        catch (Exception)
        {
            // The entry in the cache still serves until it runs out; then a request asks Mixer itself.
            Interlocked.Increment(ref _transportFailures);
        }
    }

    private async Task<CheckResponse> CallCheckAsync(CheckRequest request, Attributes attributes, CancellationToken cancellationToken)
    {
        var shrunk = false;
        for (var attempt = 0; ; attempt++)
        {
            Interlocked.Increment(ref _checkCalls);
            try
            {
                return await _rpc.CheckAsync(request, deadline: DateTime.UtcNow + Options.CheckTimeout, cancellationToken: cancellationToken).ConfigureAwait(false);
            }
            catch (RpcException e) when (!shrunk && AttributeCompressor.IsInvalidDictionaryError(e.Status))
            {
                // This Mixer knows fewer global words than we do: fall back to the base dictionary, as Istio's proxy.
                Compressor.ShrinkToBase();
                var dedup = request.DeduplicationId;
                var quotas = request.Quotas;
                request = Compressor.CreateCheckRequest(attributes, dedup);
                request.Quotas.Add(quotas);
                shrunk = true;
                attempt--;
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.Unavailable && attempt < Options.Retries && !cancellationToken.IsCancellationRequested)
            {
                await Task.Delay(Backoff(attempt), cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private async Task SendReportAsync(EncodedReport report, CancellationToken cancellationToken)
    {
        // A client built on a typed stub (a test double, say) gets the request as a message.
        var request = _invoker is null ? report.ToRequest() : null;
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                var deadline = DateTime.UtcNow + Options.ReportTimeout;
                if (request is not null)
                {
                    await _rpc.ReportAsync(request, deadline: deadline, cancellationToken: cancellationToken).ConfigureAwait(false);
                }
                else
                {
                    await _invoker!.AsyncUnaryCall(s_rawReport, null, new CallOptions(deadline: deadline, cancellationToken: cancellationToken), report).ConfigureAwait(false);
                }

                return;
            }
            catch (RpcException e) when (AttributeCompressor.IsInvalidDictionaryError(e.Status))
            {
                // The batch's indexes cannot be re-encoded here; later batches use the base dictionary.
                Compressor.ShrinkToBase();
                throw;
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.Unavailable && attempt < Options.Retries && !cancellationToken.IsCancellationRequested)
            {
                await Task.Delay(Backoff(attempt), cancellationToken).ConfigureAwait(false);
            }
            catch (RpcException)
            {
                Interlocked.Increment(ref _transportFailures);
                throw;
            }
        }
    }

    private TimeSpan Backoff(int attempt)
    {
        var baseMs = Options.RetryBackoff.TotalMilliseconds * (1 << Math.Min(attempt, 10));
#pragma warning disable CA5394 // jitter, not security
        return TimeSpan.FromMilliseconds(baseMs * (0.5 + Random.Shared.NextDouble()));
#pragma warning restore CA5394
    }

    private string NextDeduplicationId() => _dedupBase + Interlocked.Increment(ref _dedupCounter).ToString(System.Globalization.CultureInfo.InvariantCulture);
}
