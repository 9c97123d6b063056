using System.Text.Json;

namespace Mixer.Cli.Tests;

/// <summary>
/// mixc check and report against the real mixs. mixs serves the empty config here (every Check
/// OK for 1m / 10000 uses, quotas granted in full), so these hold whatever rules arrive later.
/// </summary>
public sealed class CheckReportTests(MixsFixture fixture) : IClassFixture<MixsFixture>
{
    private string Address => fixture.Mixs.GrpcAddress;

    [Fact]
    public async Task Check_EmptyConfig_PrintsOkAsIstiosMixcAndExitsZero()
    {
        var (code, output, error) = await MixcRunner.RunAsync(
            "check", "-m", Address, "-s", "destination.service=reviews.default.svc.cluster.local,source.namespace=default", "-i", "response.code=200");

        code.ShouldBe(0, error);
        MixcRunner.Lines(output).ShouldBe([
            "Check RPC completed successfully. Check status was OK",
            "  Valid use count: 10000, valid duration: 1m0s",
            "  Referenced Attributes",
        ]);
    }

    [Fact]
    public async Task Check_Quotas_AreGrantedInFullAndTabulated()
    {
        var (code, output, error) = await MixcRunner.RunAsync("check", "--mixer", Address, "-s", "source.namespace=default", "--quotas", "requestcount=5,other=1");

        code.ShouldBe(0, error);
        MixcRunner.Lines(output)[3..].ShouldBe([
            "  Quota         Granted Amount  Duration",
            "  other         1               1m0s",
            "  requestcount  5               1m0s",
        ]);
    }

    [Fact]
    public async Task Check_EveryAttributeKind_IsAcceptedByMixs()
    {
        // mixs checks every word index before answering: an OK means the encoding was readable.
        var (code, output, error) = await MixcRunner.RunAsync(
            "check", "-m", Address,
            "-s", "request.method=GET", "-s", "my.own=x",
            "-i", "request.size=-12", "-d", "my.ratio=0.5", "-b", "connection.mtls=true",
            "-t", "request.time=2018-07-31T12:00:00.123456789Z", "--duration_attributes", "response.duration=1.5ms",
            "--bytes_attributes", "source.ip=0a:00:00:01", "--stringmap_attributes", "request.headers=user-agent:curl;x-user:jane",
            "-a", "my.auto=42,my.auto.map=k:v");

        code.ShouldBe(0, error);
        output.ShouldStartWith("Check RPC completed successfully. Check status was OK");
    }

    [Fact]
    public async Task Check_WithoutGlobalWords_AsIstiosMixc_IsServedTheSame()
    {
        var (code, output, _) = await MixcRunner.RunAsync("check", "-m", Address, "--global_word_count", "0", "-s", "source.namespace=default", "-q", "requestcount=1");

        code.ShouldBe(0);
        output.ShouldContain("  requestcount  1               1m0s");
    }

    [Fact]
    public async Task Check_JsonOutput_IsOneObjectPerCall()
    {
        var (code, output, error) = await MixcRunner.RunAsync("check", "-m", Address, "-s", "source.namespace=default", "-q", "requestcount=2", "-o", "json", "--repeat", "3");

        code.ShouldBe(0, error);
        var lines = MixcRunner.Lines(output);
        lines.Length.ShouldBe(3);
        foreach (var line in lines)
        {
            using var doc = JsonDocument.Parse(line);
            var root = doc.RootElement;
            root.GetProperty("status").GetProperty("code").GetInt32().ShouldBe(0);
            root.GetProperty("status").GetProperty("name").GetString().ShouldBe("OK");
            root.GetProperty("validDuration").GetString().ShouldBe("60s");
            root.GetProperty("validUseCount").GetInt32().ShouldBe(10000);
            root.GetProperty("referencedAttributes").GetArrayLength().ShouldBe(0);
            root.GetProperty("quotas").GetProperty("requestcount").GetProperty("grantedAmount").GetInt64().ShouldBe(2);
        }
    }

    [Fact]
    public async Task Check_RepeatTimesConcurrency_SendsThatManyCalls()
    {
        var (code, output, _) = await MixcRunner.RunAsync("check", "-m", Address, "-s", "a=b", "-r", "4", "-c", "3");

        code.ShouldBe(0);
        MixcRunner.Lines(output).Count(l => l.StartsWith("Check RPC completed successfully", StringComparison.Ordinal)).ShouldBe(12);
    }

    [Fact]
    public async Task Check_PrintResponseFalse_PrintsNothingButStillSucceeds()
    {
        var (code, output, _) = await MixcRunner.RunAsync("check", "-m", Address, "-s", "a=b", "-r", "5", "--print_response", "false");

        code.ShouldBe(0);
        output.ShouldBeEmpty();
    }

    [Fact]
    public async Task Check_MixsUnreachable_ExitsOneSayingUnavailable()
    {
        var (code, output, _) = await MixcRunner.RunAsync("check", "-m", MixcRunner.UnusedAddress(), "-s", "a=b", "--timeout", "5s");

        code.ShouldBe(1);
        output.ShouldStartWith("Check RPC failed with: Unavailable");
    }

    [Fact]
    public async Task Check_MixsUnreachable_JsonSaysTheCode()
    {
        var (code, output, _) = await MixcRunner.RunAsync("check", "-m", MixcRunner.UnusedAddress(), "-s", "a=b", "-o", "json");

        code.ShouldBe(1);
        using var doc = JsonDocument.Parse(output);
        doc.RootElement.GetProperty("error").GetProperty("code").GetInt32().ShouldBe(14);
        doc.RootElement.GetProperty("error").GetProperty("name").GetString().ShouldBe("UNAVAILABLE");
    }

    [Fact]
    public async Task Report_EmptyConfig_PrintsReturnedOkAndExitsZero()
    {
        var (code, output, error) = await MixcRunner.RunAsync(
            "report", "-m", Address, "-s", "source.namespace=default,destination.service=reviews.default.svc.cluster.local", "-i", "response.code=503",
            "--duration_attributes", "response.duration=12ms");

        code.ShouldBe(0, error);
        MixcRunner.Lines(output).ShouldBe(["Report RPC returned OK"]);
    }

    [Fact]
    public async Task Report_BatchSize_PacksRepeatedSetsIntoFewerCalls()
    {
        // Each of 2 workers sends 5 sets, 2 to a call: calls of 2, 2 and 1 sets.
        var (code, output, error) = await MixcRunner.RunAsync("report", "-m", Address, "-s", "a=b", "-r", "5", "-c", "2", "--report_batch_size", "2", "-o", "json");

        code.ShouldBe(0, error);
        var sets = MixcRunner.Lines(output).Select(l =>
        {
            using var doc = JsonDocument.Parse(l);
            doc.RootElement.GetProperty("status").GetProperty("name").GetString().ShouldBe("OK");
            return doc.RootElement.GetProperty("attributeSets").GetInt32();
        }).Order().ToArray();
        sets.ShouldBe([1, 1, 2, 2, 2, 2]);
    }

    [Fact]
    public async Task Report_MixsUnreachable_ExitsOne()
    {
        var (code, output, _) = await MixcRunner.RunAsync("report", "-m", MixcRunner.UnusedAddress(), "-s", "a=b");

        code.ShouldBe(1);
        output.ShouldStartWith("Report RPC returned Unavailable");
    }
}
