using Mixer.Adapters.Policy;
using Mixer.Sdk.Adapters;
using Mixer.Sdk.Templates;

namespace Mixer.Adapters.Tests;

public sealed class DenierTests
{
    private readonly DenierAdapter _adapter = new();

    [Fact]
    public async Task Check_WithDefaults_IsFailedPreconditionFor5sAnd1000Uses()
    {
        var h = await Build.HandlerAsync<ICheckNothingHandler>(_adapter, "{}");

        var r = await h.HandleCheckNothingAsync(new CheckNothingInstance { Name = "denyrequest.checknothing.istio-system" }, default);

        r.StatusCode.ShouldBe(StatusCodes.FailedPrecondition);
        r.ValidDuration.ShouldBe(TimeSpan.FromSeconds(5));
        r.ValidUseCount.ShouldBe(1000);
    }

    [Fact]
    public async Task Check_ConfiguredStatus_IsReturnedForCheckNothingAndListEntry()
    {
        var p = """{"status": {"code": 7, "message": "Not allowed"}, "validDuration": "1m", "validUseCount": "20"}""";
        var h = await Build.HandlerAsync<IHandler>(_adapter, p);

        var a = await ((ICheckNothingHandler)h).HandleCheckNothingAsync(new CheckNothingInstance { Name = "x" }, default);
        var b = await ((IListEntryHandler)h).HandleListEntryAsync(new ListEntryInstance { Name = "y", Value = "anything" }, default);

        foreach (var r in new[] { a, b })
        {
            r.StatusCode.ShouldBe(StatusCodes.PermissionDenied);
            r.Message.ShouldBe("Not allowed");
            r.ValidDuration.ShouldBe(TimeSpan.FromMinutes(1));
            r.ValidUseCount.ShouldBe(20);
        }
    }

    [Fact]
    public async Task Quota_IsNeverGranted()
    {
        var h = await Build.HandlerAsync<IQuotaHandler>(_adapter, "{}");

        var r = await h.HandleQuotaAsync(Build.Quota("requestcount.quota.istio-system"), new QuotaRequest(5, true, "d1"), default);

        r.GrantedAmount.ShouldBe(0);
        r.StatusCode.ShouldBe(StatusCodes.Ok);
    }

    [Fact]
    public void Validate_BadFields_NameEachField()
    {
        Build.Problems(_adapter, """{"status": {"code": 99}, "validDuration": "-1s", "validUseCount": -3}""")
            .ShouldBe(["status.code: 99 is not a google.rpc code (0..16; e.g. 7 PERMISSION_DENIED, 9 FAILED_PRECONDITION)", "validDuration: must be >= 0", "validUseCount: must be >= 0"]);
    }

    [Fact]
    public void Validate_MalformedDurationAndUnknownField_AreReportedWithTheirPath()
    {
        Build.Problems(_adapter, """{"validDuration": "5 seconds"}""").ShouldBe(["validDuration: '5 seconds' is not a duration (examples: 500ms, 5s, 1m30s)"]);
        Build.Problems(_adapter, """{"validUseCont": 5}""").ShouldBe(["validUseCont: unknown field"]);
        Build.Problems(_adapter, """{"validUseCount": "many"}""").Single().ShouldStartWith("validUseCount: ");
    }
}
