using Mixer.Testing;
using System.Text.Json;
using Google.Protobuf.WellKnownTypes;
using Istio.Mixer.Adapter.Model.V1beta1;
using Mixer.Samples.AuditAdapter;
using Policy = Istio.Policy.V1beta1;
using T = Istio.Mixer.Template;

namespace Mixer.Sdk.OutOfProcess.Tests;

/// <summary>The sample adapter, served by the host over loopback gRPC, as Mixer calls it.</summary>
public sealed class AuditAdapterTests : IAsyncLifetime, IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "audit-test-" + Guid.NewGuid().ToString("N"));
    private HostedAdapter _host = null!;

    public AuditAdapterTests() => Directory.CreateDirectory(_dir);

    private string BlockFile => Path.Combine(_dir, "blocked.txt");

    private string AuditFile => Path.Combine(_dir, "audit.jsonl");

    private Any Params(string extra = "") => HostedAdapter.Params($$"""
        {"blockList": {{JsonSerializer.Serialize(BlockFile)}}, "auditLog": {{JsonSerializer.Serialize(AuditFile)}},
         "blockedEntries": ["inline-blocked"], "refreshInterval": "100ms", "validDuration": "2s", "validUseCount": 50 {{extra}}}
        """);

    public async Task InitializeAsync()
    {
        await File.WriteAllTextAsync(BlockFile, "# blocked callers\nspiffe://cluster.local/ns/evil/sa/default\n\n");
        _host = await HostedAdapter.StartAsync(new AuditAdapter());
    }

    public async Task DisposeAsync() => await _host.DisposeAsync();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private async Task<CheckResult> CheckAsync(string caller) =>
        await new T.ListEntry.HandleListEntryService.HandleListEntryServiceClient(_host.Channel).HandleListEntryAsync(new()
        {
            Instance = new() { Name = "caller.instance.istio-system", Value = caller },
            AdapterConfig = Params(),
        });

    [Fact]
    public async Task Check_CallerInTheFileOrParams_IsPermissionDenied_OthersAreOk()
    {
        var fromFile = await CheckAsync("spiffe://cluster.local/ns/evil/sa/default");
        var inline = await CheckAsync("inline-blocked");
        var other = await CheckAsync("spiffe://cluster.local/ns/good/sa/default");

        fromFile.Status.Code.ShouldBe(7);
        fromFile.Status.Message.ShouldBe("spiffe://cluster.local/ns/evil/sa/default is blocked");
        fromFile.ValidDuration.ToTimeSpan().ShouldBe(TimeSpan.FromSeconds(2));
        fromFile.ValidUseCount.ShouldBe(50);
        inline.Status.Code.ShouldBe(7);
        other.Status.Code.ShouldBe(0);
    }

    [Fact]
    public async Task Check_AfterTheFileChanges_UsesTheNewList()
    {
        (await CheckAsync("newcomer")).Status.Code.ShouldBe(0);

        await File.WriteAllTextAsync(BlockFile, "newcomer\n");

        for (var i = 0; i < 200 && (await CheckAsync("newcomer")).Status.Code == 0; i++)
        {
            await Task.Delay(25);
        }

        (await CheckAsync("newcomer")).Status.Code.ShouldBe(7);
        (await CheckAsync("spiffe://cluster.local/ns/evil/sa/default")).Status.Code.ShouldBe(0);
    }

    [Fact]
    public async Task Check_FileDeleted_KeepsTheLastGoodList()
    {
        (await CheckAsync("spiffe://cluster.local/ns/evil/sa/default")).Status.Code.ShouldBe(7);

        File.Delete(BlockFile);
        await Task.Delay(300);

        (await CheckAsync("spiffe://cluster.local/ns/evil/sa/default")).Status.Code.ShouldBe(7);
    }

    [Fact]
    public async Task LogEntries_AreAppendedAsJsonLines()
    {
        var entry = new T.LogEntry.InstanceMsg
        {
            Name = "audittrail.instance.istio-system",
            Severity = "Info",
            Timestamp = new Policy.TimeStamp { Value = Timestamp.FromDateTimeOffset(new DateTimeOffset(2026, 12, 1, 10, 0, 0, TimeSpan.Zero)) },
        };
        entry.Variables["caller"] = new Policy.Value { StringValue = "spiffe://cluster.local/ns/a/sa/b" };
        entry.Variables["code"] = new Policy.Value { Int64Value = 200 };
        entry.Variables["path"] = new Policy.Value { StringValue = "/ratings" };

        await new T.LogEntry.HandleLogEntryService.HandleLogEntryServiceClient(_host.Channel)
            .HandleLogEntryAsync(new T.LogEntry.HandleLogEntryRequest { Instances = { entry, entry }, AdapterConfig = Params() });

        await Eventually.UntilAsync(() => File.Exists(AuditFile) && File.ReadAllLines(AuditFile).Length == 2, "both audit lines are written", TimeSpan.FromSeconds(5));
        var line = File.ReadAllLines(AuditFile)[0];
        line.ShouldBe("""{"time":"2026-12-01T10:00:00Z","severity":"Info","instance":"audittrail.instance.istio-system","variables":{"caller":"spiffe://cluster.local/ns/a/sa/b","code":200,"path":"/ratings"}}""");
    }

    [Fact]
    public async Task LogEntries_PastMaxFileBytes_RotateTheFile()
    {
        var client = new T.LogEntry.HandleLogEntryService.HandleLogEntryServiceClient(_host.Channel);
        var entry = new T.LogEntry.InstanceMsg { Name = "audittrail.instance.istio-system", Severity = "Info" };
        entry.Variables["padding"] = new Policy.Value { StringValue = new string('x', 1000) };

        for (var i = 0; i < 6; i++)
        {
            await client.HandleLogEntryAsync(new T.LogEntry.HandleLogEntryRequest { Instances = { entry }, AdapterConfig = Params(""", "maxFileBytes": 4096""") });
            var written = i + 1;
            await Eventually.UntilAsync(() => Lines(AuditFile) + Lines(AuditFile + ".1") == written, "every audit line is written across the rotation", TimeSpan.FromSeconds(5));
        }

        Lines(AuditFile + ".1").ShouldBe(3, "three 1 KiB lines fit in 4 KiB, the fourth starts a new file");
        new FileInfo(AuditFile).Length.ShouldBeLessThanOrEqualTo(4096);
    }

    private static int Lines(string path) => File.Exists(path) ? File.ReadAllLines(path).Length : 0;

    [Fact]
    public async Task Validate_MissingAuditLogAndBadValues_NameEachField()
    {
        var r = await new InfrastructureBackend.InfrastructureBackendClient(_host.Channel).ValidateAsync(new ValidateRequest
        {
            AdapterConfig = HostedAdapter.Params("""{"refreshInterval": "1ms", "validUseCount": -1, "blockedEntries": [" "]}"""),
        });

        r.Status.Code.ShouldBe(3);
        r.Status.Details.Single().Unpack<Google.Rpc.BadRequest>().FieldViolations.Select(v => v.Field)
            .ShouldBe(["auditLog", "refreshInterval", "validUseCount", "blockedEntries[0]"]);
    }
}
