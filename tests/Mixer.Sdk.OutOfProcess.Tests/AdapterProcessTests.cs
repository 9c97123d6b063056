using Grpc.Net.Client;
using T = Istio.Mixer.Template;

namespace Mixer.Sdk.OutOfProcess.Tests;

/// <summary>The sample adapter's own process: what `dotnet run -- --port N` gives an operator.</summary>
public sealed class AdapterProcessTests
{
    [Fact]
    public async Task SampleProcess_PrintsItsAddress_Serves_AndExitsCleanlyOnSigterm_FlushingTheAuditTrail()
    {
        var dir = Directory.CreateTempSubdirectory("audit-process-").FullName;
        try
        {
            var audit = Path.Combine(dir, "audit.jsonl");
            await using var adapter = await AdapterProcess.StartAsync("Mixer.Samples.AuditAdapter.dll", "--port", "0");
            using var channel = GrpcChannel.ForAddress("http://" + adapter.Address);
            var config = HostedAdapter.Params($$"""{"auditLog": {{System.Text.Json.JsonSerializer.Serialize(audit)}}, "blockedEntries": ["x"]}""");

            var check = await new T.ListEntry.HandleListEntryService.HandleListEntryServiceClient(channel)
                .HandleListEntryAsync(new() { Instance = new() { Name = "caller.instance.istio-system", Value = "x" }, AdapterConfig = config });
            await new T.LogEntry.HandleLogEntryService.HandleLogEntryServiceClient(channel)
                .HandleLogEntryAsync(new() { Instances = { new T.LogEntry.InstanceMsg { Name = "audittrail.instance.istio-system", Severity = "Info" } }, AdapterConfig = config });
            var exit = await adapter.StopAsync();

            adapter.Address.ShouldMatch(@"^127\.0\.0\.1:\d+$");
            check.Status.Code.ShouldBe(7);
            exit.ShouldBe(0, adapter.Output);
            File.ReadAllLines(audit).ShouldHaveSingleItem().ShouldContain("\"instance\":\"audittrail.instance.istio-system\"");
            adapter.Output.ShouldContain("disposed handler audit-", customMessage: adapter.Output);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
