using Google.Protobuf.WellKnownTypes;
using Google.Rpc;
using Grpc.Core;
using Istio.Mixer.V1;
using Mixer.Runtime.Dispatch;
using Mixer.Sdk;
using Status = Google.Rpc.Status;

namespace Mixer.Server.Api;

/// <summary>
/// <c>istio.mixer.v1.Mixer</c> (bound by <see cref="MixerMethods"/>): decodes the wire into attribute bags (every word index checked
/// first), asks the dispatcher, and encodes the answer the way Istio 1.0's clients expect it.
/// </summary>
internal sealed partial class MixerService(IDispatcher dispatcher, CheckCache cache, ILogger<MixerService> logger)
{
    public Task<CheckResponse> Check(CheckCall request, ServerCallContext context)
    {
        // One record per thread, reused: it is only read before the answer is built. A check that
        // completes synchronously (the usual case) returns its own task, with no second one wrapped
        // around it.
        var tracker = t_spareTracker ?? new ReferenceTracker();
        t_spareTracker = null;
        if (!ProtoBag.TryCreate(request.Attributes, request.GlobalWordCount, null, tracker, out var bag, out var error))
        {
            Done(request, tracker, null);
            LogBadRequest(logger, "Check", error!);
            throw new RpcException(new Grpc.Core.Status(StatusCode.InvalidArgument, error!));
        }

        Task<CheckResponse> task;
        try
        {
            task = CheckAsync(request, bag, tracker, context);
        }
        catch
        {
            Done(request, tracker, bag);
            throw;
        }

        if (task.IsCompleted)
        {
            Done(request, tracker, bag);
            return task;
        }

        return FinishAsync(task, request, tracker, bag);

        static async Task<CheckResponse> FinishAsync(Task<CheckResponse> task, CheckCall request, ReferenceTracker tracker, ProtoBag bag)
        {
            try
            {
                return await task.ConfigureAwait(false);
            }
            finally
            {
                Done(request, tracker, bag);
            }
        }
    }

    private static void Done(CheckCall request, ReferenceTracker tracker, ProtoBag? bag)
    {
        request.Dispose();
        bag?.Release();
        tracker.Clear();
        t_spareTracker = tracker;
    }

    [ThreadStatic]
    private static ReferenceTracker? t_spareTracker;

    private async Task<CheckResponse> CheckAsync(CheckCall call, ProtoBag bag, ReferenceTracker tracker, ServerCallContext context)
    {
        foreach (var quota in call.Quotas)
        {
            if (quota.Amount < 0)
            {
                throw new RpcException(new Grpc.Core.Status(StatusCode.InvalidArgument, $"quota '{quota.Name}': amount must not be negative"));
            }
        }

        var generation = dispatcher.Generation;
        CheckOutcome outcome;
        IReadOnlyList<AttributeReference>? cachedReferences = null;
        if (cache.Enabled && cache.Lookup(bag, generation) is { } hit)
        {
            (outcome, cachedReferences) = (hit.Outcome, hit.References);
        }
        else
        {
            outcome = await dispatcher.CheckAsync(bag, context.CancellationToken).ConfigureAwait(false);
            if (cache.Enabled)
            {
                cache.Store(bag, tracker, outcome, generation);
            }
        }

        // Istio's Go server always sends precondition, its status and valid_duration, even when
        // zero; Istio's proxy reads an absent valid_duration as "never expires", so never omit them.
        var precondition = new CheckResponse.Types.PreconditionResult
        {
            Status = new Status { Code = outcome.StatusCode, Message = outcome.StatusMessage ?? string.Empty },
            ValidDuration = Duration.FromTimeSpan(outcome.ValidDuration),
            ValidUseCount = outcome.ValidUseCount,
            ReferencedAttributes = cachedReferences is null
                ? ReferencedAttributesEncoder.Encode(tracker, call.GlobalWordCount)
                : ReferencedAttributesEncoder.Encode(cachedReferences, call.GlobalWordCount),
        };
        if (outcome.RequestHeaderChanges.Count > 0 || outcome.ResponseHeaderChanges.Count > 0)
        {
            precondition.RouteDirective = RouteDirectiveOf(outcome);
        }

        var response = new CheckResponse { Precondition = precondition };

        if (outcome.StatusCode == (int)Code.Ok)
        {
            foreach (var quota in call.Quotas)
            {
                var mark = tracker.Mark();
                var q = await dispatcher.QuotaAsync(
                    bag,
                    new QuotaArgs(quota.Name, quota.Amount, quota.BestEffort, call.DeduplicationId + quota.Name),
                    context.CancellationToken).ConfigureAwait(false);
                response.Quotas[quota.Name] = new CheckResponse.Types.QuotaResult
                {
                    GrantedAmount = q.GrantedAmount,
                    ValidDuration = Duration.FromTimeSpan(q.ValidDuration),
                    ReferencedAttributes = ReferencedAttributesEncoder.Encode(tracker, call.GlobalWordCount, mark),
                };
            }
        }

        return response;
    }

    private static readonly ReportResponse s_reported = new();

    public Task<ReportResponse> Report(ReportCall call, ServerCallContext context)
    {
        // Every set is checked before anything is dispatched. When no rule acts on Report the sets
        // are only checked, not decoded; the batch then reads the request's bytes if a new config
        // with report rules is in force by the time it is dispatched, so they live as long as it.
        ReportBatch batch;
        string? error;
        bool valid;
        try
        {
            valid = ReportBatch.TryCreate(call.Payload, decode: dispatcher.HasReportRules, out batch, out error);
        }
        catch
        {
            call.Dispose();
            throw;
        }

        if (!valid)
        {
            call.Dispose();
            LogBadRequest(logger, "Report", error!);
            throw new RpcException(new Grpc.Core.Status(StatusCode.InvalidArgument, error!));
        }

        if (batch.Count == 0)
        {
            batch.Release();
            call.Dispose();
            return Task.FromResult(s_reported);
        }

        return ReportAsync(call, batch, context);
    }

    private async Task<ReportResponse> ReportAsync(ReportCall call, ReportBatch batch, ServerCallContext context)
    {
        ReportOutcome outcome;
        try
        {
            outcome = await dispatcher.ReportAsync(batch, context.CancellationToken).ConfigureAwait(false);
        }
        finally
        {
            batch.Release();
            call.Dispose();
        }

        if (outcome.Errors.Count > 0)
        {
            throw new RpcException(new Grpc.Core.Status(StatusCode.Unknown, string.Join("; ", outcome.Errors)));
        }

        return s_reported;
    }

    private static RouteDirective RouteDirectiveOf(CheckOutcome outcome)
    {
        var directive = new RouteDirective();
        foreach (var h in outcome.RequestHeaderChanges)
        {
            directive.RequestHeaderOperations.Add(new HeaderOperation { Name = h.Name, Value = h.Value, Operation = (HeaderOperation.Types.Operation)h.Operation });
        }

        foreach (var h in outcome.ResponseHeaderChanges)
        {
            directive.ResponseHeaderOperations.Add(new HeaderOperation { Name = h.Name, Value = h.Value, Operation = (HeaderOperation.Types.Operation)h.Operation });
        }

        return directive;
    }

    [LoggerMessage(EventId = 2001, Level = LogLevel.Information, Message = "{Method} rejected: {Reason}")]
    private static partial void LogBadRequest(ILogger logger, string method, string reason);
}
