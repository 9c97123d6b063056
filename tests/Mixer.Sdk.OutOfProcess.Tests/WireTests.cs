using Google.Protobuf;
using Google.Protobuf.Reflection;
using Istio.Mixer.Adapter.Model.V1beta1;
using T = Istio.Mixer.Template;

namespace Mixer.Sdk.OutOfProcess.Tests;

/// <summary>The protos keep Istio 1.0's names and field numbers: what a real Istio adapter or Mixer puts on the wire.</summary>
public sealed class WireTests
{
    [Fact]
    public void InstanceName_IsField72295727()
    {
        // 72295727 << 3 | 2 (length-delimited) as a varint, then length 1, then 'x'.
        var bytes = new T.ListEntry.InstanceMsg { Name = "x" }.ToByteArray();

        bytes.ShouldBe(new byte[] { 0xFA, 0xD2, 0xE4, 0x93, 0x02, 0x01, (byte)'x' });
    }

    [Fact]
    public void HandleQuotaRequest_RoundTripsWithIstiosFieldNumbers()
    {
        var request = new T.Quota.HandleQuotaRequest { Instance = new() { Name = "q" }, DedupId = "d", QuotaRequest = new QuotaRequest() };
        request.QuotaRequest.Quotas["q"] = new() { Amount = 3, BestEffort = true };

        var parsed = T.Quota.HandleQuotaRequest.Parser.ParseFrom(request.ToByteArray());

        parsed.ShouldBe(request);
        Numbers(T.Quota.HandleQuotaRequest.Descriptor).ShouldBe(["instance=1", "adapter_config=2", "dedup_id=3", "quota_request=4"]);
    }

    [Theory]
    [InlineData("metric", "HandleMetricService", "HandleMetric", "ReportResult")]
    [InlineData("logentry", "HandleLogEntryService", "HandleLogEntry", "ReportResult")]
    [InlineData("tracespan", "HandleTraceSpanService", "HandleTraceSpan", "ReportResult")]
    [InlineData("reportnothing", "HandleReportNothingService", "HandleReportNothing", "ReportResult")]
    [InlineData("listentry", "HandleListEntryService", "HandleListEntry", "CheckResult")]
    [InlineData("checknothing", "HandleCheckNothingService", "HandleCheckNothing", "CheckResult")]
    [InlineData("authorization", "HandleAuthorizationService", "HandleAuthorization", "CheckResult")]
    [InlineData("apikey", "HandleApiKeyService", "HandleApiKey", "CheckResult")]
    [InlineData("quota", "HandleQuotaService", "HandleQuota", "QuotaResult")]
    public void EveryTemplate_HasIstiosServicePath_AndVariety(string package, string service, string method, string result)
    {
        var file = Files().Single(f => f.Package == package);
        var svc = file.Services.Single();
        var m = svc.Methods.Single();

        $"/{svc.FullName}/{m.Name}".ShouldBe($"/{package}.{service}/{method}");
        m.OutputType.FullName.ShouldBe("istio.mixer.adapter.model.v1beta1." + result);
        file.FindTypeByName<MessageDescriptor>("InstanceMsg").FindFieldByName("name").FieldNumber.ShouldBe(72295727);
        var variety = file.GetOptions().GetExtension(ExtensionsExtensions.TemplateVariety);
        variety.ShouldBe(result switch { "CheckResult" => TemplateVariety.Check, "QuotaResult" => TemplateVariety.Quota, _ => TemplateVariety.Report });
        file.GetOptions().GetExtension(ExtensionsExtensions.TemplateName).ShouldBe(package);
    }

    [Fact]
    public void CheckResultAndQuotaResult_KeepIstiosNumbers()
    {
        Numbers(CheckResult.Descriptor).ShouldBe(["status=1", "valid_duration=2", "valid_use_count=3"]);
        Numbers(QuotaResult.Types.Result.Descriptor).ShouldBe(["valid_duration=2", "granted_amount=3"]);
        Numbers(CreateSessionResponse.Descriptor).ShouldBe(["session_id=1", "status=2"]);
        Numbers(Istio.Policy.V1beta1.Value.Descriptor).ShouldBe([
            "string_value=1", "int64_value=2", "double_value=3", "bool_value=4", "ip_address_value=5",
            "timestamp_value=6", "duration_value=7", "email_address_value=8", "dns_name_value=9", "uri_value=10"]);
    }

    private static IEnumerable<FileDescriptor> Files() =>
    [
        T.Metric.TemplateHandlerServiceReflection.Descriptor,
        T.LogEntry.TemplateHandlerServiceReflection.Descriptor,
        T.TraceSpan.TracespanHandlerServiceReflection.Descriptor,
        T.ReportNothing.TemplateHandlerServiceReflection.Descriptor,
        T.ListEntry.TemplateHandlerServiceReflection.Descriptor,
        T.CheckNothing.TemplateHandlerServiceReflection.Descriptor,
        T.Authorization.TemplateHandlerServiceReflection.Descriptor,
        T.ApiKey.TemplateHandlerServiceReflection.Descriptor,
        T.Quota.TemplateHandlerServiceReflection.Descriptor,
    ];

    private static string[] Numbers(MessageDescriptor d) => d.Fields.InDeclarationOrder().Select(f => $"{f.Name}={f.FieldNumber}").ToArray();
}
