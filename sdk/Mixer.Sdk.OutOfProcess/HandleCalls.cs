using Google.Protobuf.Collections;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Istio.Mixer.Adapter.Model.V1beta1;
using CheckResult = Istio.Mixer.Adapter.Model.V1beta1.CheckResult;
using QuotaRequest = Istio.Mixer.Adapter.Model.V1beta1.QuotaRequest;
using QuotaResult = Istio.Mixer.Adapter.Model.V1beta1.QuotaResult;
using Microsoft.Extensions.Logging;
using Mixer.Sdk.Adapters;
using T = Istio.Mixer.Template;

namespace Mixer.Sdk.OutOfProcess;

/// <summary>
/// What every Handle call does: read the instances, lease the handler its adapter_config names,
/// call it, and turn what it answers, or throws, into the wire's result or a gRPC status that
/// says what failed. A handler's exception never takes the process down.
/// </summary>
internal sealed class HandleCalls(HandlerCache cache, ILogger<HandleCalls> log)
{
    public async Task<ReportResult> ReportAsync<THandler, TMsg, TInstance>(
        string template,
        string method,
        Any? config,
        RepeatedField<TMsg> messages,
        Func<TMsg, TInstance> convert,
        Func<THandler, IReadOnlyList<TInstance>, CancellationToken, ValueTask> handle,
        ServerCallContext context)
        where THandler : class, IHandler
    {
        var instances = new TInstance[messages.Count];
        for (var i = 0; i < instances.Length; i++)
        {
            instances[i] = Convert(messages[i], convert, method);
        }

        await RunAsync<THandler, bool>(template, method, config, async (h, ct) =>
        {
            await handle(h, instances, ct).ConfigureAwait(false);
            return true;
        }, context).ConfigureAwait(false);
        return new ReportResult();
    }

    public async Task<CheckResult> CheckAsync<THandler, TMsg, TInstance>(
        string template,
        string method,
        Any? config,
        TMsg? message,
        Func<TMsg, TInstance> convert,
        Func<THandler, TInstance, CancellationToken, ValueTask<Adapters.CheckResult>> handle,
        ServerCallContext context)
        where THandler : class, IHandler
        where TMsg : class
    {
        var instance = Convert(message ?? throw Reject(method, "the request carries no instance"), convert, method);
        var result = await RunAsync<THandler, Adapters.CheckResult>(template, method, config, (h, ct) => handle(h, instance, ct), context).ConfigureAwait(false);
        return new CheckResult
        {
            Status = new Google.Rpc.Status { Code = result.StatusCode, Message = result.Message ?? string.Empty },
            ValidDuration = DurationOf(result.ValidDuration),
            ValidUseCount = result.ValidUseCount,
        };
    }

    public async Task<QuotaResult> QuotaAsync(T.Quota.HandleQuotaRequest request, ServerCallContext context)
    {
        const string method = "HandleQuota";
        var instance = Convert(request.Instance ?? throw Reject(method, "the request carries no instance"), Instances.Quota, method);
        var quotas = request.QuotaRequest?.Quotas;
        QuotaRequest.Types.QuotaParams? asked = null;
        if (quotas is not null && !quotas.TryGetValue(instance.Name, out asked) && quotas.Count == 1)
        {
            asked = quotas.Values.First();
        }

        if (asked is null)
        {
            throw Reject(method, $"quota_request has no entry for instance '{instance.Name}' (it has: {string.Join(", ", quotas?.Keys ?? [])})");
        }

        var args = new Adapters.QuotaRequest(asked.Amount, asked.BestEffort, request.DedupId);
        var result = await RunAsync<IQuotaHandler, Adapters.QuotaResult>("quota", method, request.AdapterConfig, (h, ct) => h.HandleQuotaAsync(instance, args, ct), context).ConfigureAwait(false);
        if (result.StatusCode != Adapters.StatusCodes.Ok)
        {
            // The wire's QuotaResult has no status: a quota handler's error is the call's status.
            throw new RpcException(new Status((StatusCode)result.StatusCode, result.Message));
        }

        var answer = new QuotaResult();
        answer.Quotas[instance.Name] = new QuotaResult.Types.Result
        {
            GrantedAmount = result.GrantedAmount,
            ValidDuration = DurationOf(result.ValidDuration),
        };
        return answer;
    }

    private async Task<TResult> RunAsync<THandler, TResult>(
        string template,
        string method,
        Any? config,
        Func<THandler, CancellationToken, ValueTask<TResult>> call,
        ServerCallContext context)
        where THandler : class, IHandler
    {
        var cancellation = context.CancellationToken;
        HandlerLease lease;
        try
        {
            lease = await cache.AcquireAsync(config, context.RequestHeaders.GetValue(Remote.RemoteSession.Header), cancellation).ConfigureAwait(false);
        }
        catch (RpcException e)
        {
            Log.BadRequest(log, cache.AdapterName, method, e.Status.Detail);
            throw;
        }

        using (lease)
        {
            if (lease.Handler is not THandler handler)
            {
                throw new RpcException(new Status(StatusCode.Unimplemented,
                    $"handler {lease.Name} of adapter '{cache.AdapterName}' ({lease.Handler.GetType().Name}) does not implement {typeof(THandler).Name}, so it cannot take '{template}' instances"));
            }

            try
            {
                return await call(handler, cancellation).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
            {
                throw new RpcException(new Status(StatusCode.Cancelled, $"the call ended (deadline or caller) while handler {lease.Name} of adapter '{cache.AdapterName}' was in {method}"));
            }
            catch (RpcException)
            {
                throw;
            }
            catch (Exception e)
            {
                Log.HandleFailed(log, cache.AdapterName, lease.Name, method, e);
                throw new RpcException(new Status(StatusCode.Internal,
                    $"handler {lease.Name} of adapter '{cache.AdapterName}' failed in {method}: {e.GetType().Name}: {e.Message}"));
            }
        }
    }

    // google.protobuf.Duration holds up to 10,000 years; a handler's "forever" is clamped to it.
    private static readonly TimeSpan s_maxDuration = TimeSpan.FromSeconds(Duration.MaxSeconds);

    private static Duration DurationOf(TimeSpan t) =>
        Duration.FromTimeSpan(t < TimeSpan.Zero ? TimeSpan.Zero : t > s_maxDuration ? s_maxDuration : t);

    private TInstance Convert<TMsg, TInstance>(TMsg message, Func<TMsg, TInstance> convert, string method)
    {
        try
        {
            return convert(message);
        }
        catch (InstanceException e)
        {
            throw Reject(method, e.Message);
        }
    }

    private RpcException Reject(string method, string reason)
    {
        Log.BadRequest(log, cache.AdapterName, method, reason);
        return new RpcException(new Status(StatusCode.InvalidArgument, $"adapter '{cache.AdapterName}' {method}: {reason}"));
    }
}
