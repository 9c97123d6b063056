using Istio.Mixer.V1;
using Mixer.Testing;

namespace Mixer.Sdk.OutOfProcess.Tests;

/// <summary>
/// The guide's steps, run: the sample adapter in its own process, the real mixs serving the
/// sample's YAML (only its address and file paths changed to this test's), Check and Report
/// through Mixer's API, and the adapter going away while mixs keeps serving.
/// </summary>
public sealed class EndToEndTests : IAsyncLifetime
{
    private const string Evil = "spiffe://cluster.local/ns/evil/sa/default";
    private const string Good = "spiffe://cluster.local/ns/good/sa/default";

    private readonly string _dir = Directory.CreateTempSubdirectory("audit-e2e-").FullName;
    private readonly ConfigDir _config = new ConfigDir().WithDefaultAttributes();
    private AdapterProcess _adapter = null!;
    private MixsProcess _mixs = null!;

    private string AuditFile => Path.Combine(_dir, "audit.jsonl");

    public async Task InitializeAsync()
    {
        await File.WriteAllTextAsync(Path.Combine(_dir, "blocked.txt"), Evil + "\n");
        _adapter = await AdapterProcess.StartAsync("Mixer.Samples.AuditAdapter.dll", "--port", "0");
        var sample = Repository.File("sdk/samples/Mixer.Samples.AuditAdapter/config");
        foreach (var file in new[] { "adapter.yaml", "handler.yaml", "instance.yaml", "rule.yaml" })
        {
            var yaml = (await File.ReadAllTextAsync(Path.Combine(sample, file)))
                .Replace("127.0.0.1:45678", _adapter.Address, StringComparison.Ordinal)
                .Replace("/tmp/audit/", _dir + "/", StringComparison.Ordinal);
            _config.Write(file, yaml);
        }

        _mixs = await MixsProcess.StartAsync(_config.Path);

        // Two fresh processes on a busy machine: their first calls (JIT, connection, handler
        // build) can outlast mixs's 2 s deadline. Wait until both paths have answered once.
        await Eventually.UntilAsync(async () => (await CheckAsync(Good)).Status.Code == 0, "the adapter answers Check through mixs", TimeSpan.FromSeconds(60));
        await Eventually.UntilAsync(
            async () =>
            {
                try
                {
                    await ReportAsync("/warmup");
                }
                catch (Grpc.Core.RpcException)
                {
                    // Timed out while cold; the line may still arrive, which is what is waited for.
                }

                return File.Exists(AuditFile) && File.ReadAllText(AuditFile).Contains("/warmup", StringComparison.Ordinal);
            },
            "the adapter answers Report through mixs",
            TimeSpan.FromSeconds(60));
    }

    private Task ReportAsync(string path) =>
        _mixs.Client.ReportAsync(new ReportRequest
        {
            Attributes =
            {
                new TestAttributes()
                    .String("source.principal", Good)
                    .String("request.path", path)
                    .String("request.method", "GET")
                    .Int64("response.code", 200)
                    .Timestamp("request.time", new DateTimeOffset(2026, 12, 1, 10, 0, 0, TimeSpan.Zero))
                    .Build(),
            },
        }).ResponseAsync;

    public async Task DisposeAsync()
    {
        await _mixs.DisposeAsync();
        await _adapter.DisposeAsync();
        _config.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private async Task<CheckResponse.Types.PreconditionResult> CheckAsync(string principal) =>
        (await _mixs.Client.CheckAsync(new TestAttributes().String("source.principal", principal).Check())).Precondition;

    [Fact]
    public async Task SampleYaml_LoadsWithoutErrors()
    {
        _mixs.Output.ShouldContain("Config generation 1 serving");
        _mixs.Output.ShouldContain(", 0 errors", customMessage: _mixs.Output);
    }

    [Fact]
    public async Task Check_BlockedCaller_IsDeniedByTheAdapter_OthersAreOkWithItsValidity()
    {
        var denied = await CheckAsync(Evil);
        var inline = await CheckAsync("spiffe://cluster.local/ns/legacy/sa/batch");
        var ok = await CheckAsync(Good);

        denied.Status.Code.ShouldBe(7, denied.Status.Message);
        denied.Status.Message.ShouldContain(Evil + " is blocked");
        inline.Status.Code.ShouldBe(7);
        ok.Status.Code.ShouldBe(0, ok.Status.Message + "\n" + _adapter.Output);
        ok.ValidDuration.ToTimeSpan().ShouldBe(TimeSpan.FromSeconds(5));
        ok.ValidUseCount.ShouldBe(1000);
    }

    [Fact]
    public async Task Report_IsWrittenToTheAuditTrail()
    {
        await ReportAsync("/ratings");

        await Eventually.UntilAsync(() => RatingsLines().Length == 1, "the report reaches the audit trail");
        RatingsLines()[0].ShouldBe(
            """{"time":"2026-12-01T10:00:00Z","severity":"Info","instance":"audittrail.instance.istio-system","variables":{"caller":"spiffe://cluster.local/ns/good/sa/default","code":200,"destination":"unknown","method":"GET","path":"/ratings"}}""");
    }

    private string[] RatingsLines() => File.ReadAllLines(AuditFile).Where(l => l.Contains("\"path\":\"/ratings\"", StringComparison.Ordinal)).ToArray();

    [Fact]
    public async Task AdapterStopped_CheckFailsNamingTheHandler_AndMixsKeepsServing()
    {
        (await CheckAsync(Good)).Status.Code.ShouldBe(0);

        (await _adapter.StopAsync()).ShouldBe(0);
        var down = await CheckAsync(Good);

        down.Status.Code.ShouldBe(14, down.Status.Message);
        down.Status.Message.ShouldContain("audit.handler.istio-system");
        down.Status.Message.ShouldContain(_adapter.Address);
        _mixs.IsRunning.ShouldBeTrue();
    }
}
