using Grpc.Core;
using Istio.Mixer.Adapter.Model.V1beta1;
using CheckResult = Istio.Mixer.Adapter.Model.V1beta1.CheckResult;
using QuotaRequest = Istio.Mixer.Adapter.Model.V1beta1.QuotaRequest;
using QuotaResult = Istio.Mixer.Adapter.Model.V1beta1.QuotaResult;
using Mixer.Sdk.Adapters;
using T = Istio.Mixer.Template;

namespace Mixer.Sdk.OutOfProcess;

/// <summary>InfrastructureBackend: Validate, CreateSession, CloseSession over the handler cache.</summary>
internal sealed class InfrastructureBackendService(HandlerCache cache) : InfrastructureBackend.InfrastructureBackendBase
{
    public override Task<ValidateResponse> Validate(ValidateRequest request, ServerCallContext context) =>
        Task.FromResult(new ValidateResponse { Status = cache.Validate(request.AdapterConfig, request.InferredTypes) });

    public override async Task<CreateSessionResponse> CreateSession(CreateSessionRequest request, ServerCallContext context)
    {
        var (id, status) = await cache.CreateSessionAsync(request.AdapterConfig, request.InferredTypes, context.CancellationToken).ConfigureAwait(false);
        return new CreateSessionResponse { SessionId = id, Status = status };
    }

    public override Task<CloseSessionResponse> CloseSession(CloseSessionRequest request, ServerCallContext context) =>
        Task.FromResult(new CloseSessionResponse { Status = cache.CloseSession(request.SessionId) });
}

internal sealed class MetricService(HandleCalls calls) : T.Metric.HandleMetricService.HandleMetricServiceBase
{
    public override Task<ReportResult> HandleMetric(T.Metric.HandleMetricRequest request, ServerCallContext context) =>
        calls.ReportAsync<IMetricHandler, T.Metric.InstanceMsg, Templates.MetricInstance>(
            "metric", "HandleMetric", request.AdapterConfig, request.Instances, Instances.Metric, (h, i, ct) => h.HandleMetricAsync(i, ct), context);
}

internal sealed class LogEntryService(HandleCalls calls) : T.LogEntry.HandleLogEntryService.HandleLogEntryServiceBase
{
    public override Task<ReportResult> HandleLogEntry(T.LogEntry.HandleLogEntryRequest request, ServerCallContext context) =>
        calls.ReportAsync<ILogEntryHandler, T.LogEntry.InstanceMsg, Templates.LogEntryInstance>(
            "logentry", "HandleLogEntry", request.AdapterConfig, request.Instances, Instances.LogEntry, (h, i, ct) => h.HandleLogEntryAsync(i, ct), context);
}

internal sealed class TraceSpanService(HandleCalls calls) : T.TraceSpan.HandleTraceSpanService.HandleTraceSpanServiceBase
{
    public override Task<ReportResult> HandleTraceSpan(T.TraceSpan.HandleTraceSpanRequest request, ServerCallContext context) =>
        calls.ReportAsync<ITraceSpanHandler, T.TraceSpan.InstanceMsg, Templates.TraceSpanInstance>(
            "tracespan", "HandleTraceSpan", request.AdapterConfig, request.Instances, Instances.TraceSpan, (h, i, ct) => h.HandleTraceSpanAsync(i, ct), context);
}

internal sealed class ReportNothingService(HandleCalls calls) : T.ReportNothing.HandleReportNothingService.HandleReportNothingServiceBase
{
    public override Task<ReportResult> HandleReportNothing(T.ReportNothing.HandleReportNothingRequest request, ServerCallContext context) =>
        calls.ReportAsync<IReportNothingHandler, T.ReportNothing.InstanceMsg, Templates.ReportNothingInstance>(
            "reportnothing", "HandleReportNothing", request.AdapterConfig, request.Instances, Instances.ReportNothing, (h, i, ct) => h.HandleReportNothingAsync(i, ct), context);
}

internal sealed class ListEntryService(HandleCalls calls) : T.ListEntry.HandleListEntryService.HandleListEntryServiceBase
{
    public override Task<CheckResult> HandleListEntry(T.ListEntry.HandleListEntryRequest request, ServerCallContext context) =>
        calls.CheckAsync<IListEntryHandler, T.ListEntry.InstanceMsg, Templates.ListEntryInstance>(
            "listentry", "HandleListEntry", request.AdapterConfig, request.Instance, Instances.ListEntry, (h, i, ct) => h.HandleListEntryAsync(i, ct), context);
}

internal sealed class CheckNothingService(HandleCalls calls) : T.CheckNothing.HandleCheckNothingService.HandleCheckNothingServiceBase
{
    public override Task<CheckResult> HandleCheckNothing(T.CheckNothing.HandleCheckNothingRequest request, ServerCallContext context) =>
        calls.CheckAsync<ICheckNothingHandler, T.CheckNothing.InstanceMsg, Templates.CheckNothingInstance>(
            "checknothing", "HandleCheckNothing", request.AdapterConfig, request.Instance, Instances.CheckNothing, (h, i, ct) => h.HandleCheckNothingAsync(i, ct), context);
}

internal sealed class AuthorizationService(HandleCalls calls) : T.Authorization.HandleAuthorizationService.HandleAuthorizationServiceBase
{
    public override Task<CheckResult> HandleAuthorization(T.Authorization.HandleAuthorizationRequest request, ServerCallContext context) =>
        calls.CheckAsync<IAuthorizationHandler, T.Authorization.InstanceMsg, Templates.AuthorizationInstance>(
            "authorization", "HandleAuthorization", request.AdapterConfig, request.Instance, Instances.Authorization, (h, i, ct) => h.HandleAuthorizationAsync(i, ct), context);
}

internal sealed class ApiKeyService(HandleCalls calls) : T.ApiKey.HandleApiKeyService.HandleApiKeyServiceBase
{
    public override Task<CheckResult> HandleApiKey(T.ApiKey.HandleApiKeyRequest request, ServerCallContext context) =>
        calls.CheckAsync<IApiKeyHandler, T.ApiKey.InstanceMsg, Templates.ApiKeyInstance>(
            "apikey", "HandleApiKey", request.AdapterConfig, request.Instance, Instances.ApiKey, (h, i, ct) => h.HandleApiKeyAsync(i, ct), context);
}

internal sealed class QuotaService(HandleCalls calls) : T.Quota.HandleQuotaService.HandleQuotaServiceBase
{
    public override Task<QuotaResult> HandleQuota(T.Quota.HandleQuotaRequest request, ServerCallContext context) =>
        calls.QuotaAsync(request, context);
}
