using System.Text.RegularExpressions;
using Mixer.Testing;

namespace Mixer.IntegrationTests;

/// <summary>Config changes on a running mixs: applied within about a second, bad ones rejected without harm.</summary>
public sealed partial class ReloadTests : IAsyncLifetime
{
    private readonly ConfigDir _config = new ConfigDir().WithDefaultAttributes();
    private MixsProcess _mixs = null!;

    public async Task InitializeAsync()
    {
        _config.Write("denier.yaml", PolicyConfig.Denier);
        _mixs = await MixsProcess.StartAsync(_config.Path);
    }

    public async Task DisposeAsync()
    {
        await _mixs.DisposeAsync();
        _config.Dispose();
    }

    private async Task<int> StatusAsync(string service, params (string, string)[] headers) =>
        (await _mixs.Client.CheckAsync(new TestAttributes().String("destination.service", service).Map("request.headers", headers).Check())).Precondition.Status.Code;

    private static Task EventuallyAsync(Func<Task<bool>> condition, string what) => Eventually.UntilAsync(condition, what);

    private Task<double> MetricAsync(string name) => ScrapedMetrics.ReadAsync(_mixs.MonitoringUrl, name);

    private const string HeaderDenyRule = """
        apiVersion: config.istio.io/v1alpha2
        kind: rule
        metadata:
          name: denyheader
          namespace: istio-system
        spec:
          match: request.headers["x-block"] == "yes"
          actions:
          - handler: denyall.denier
            instances: [denyrequest.checknothing]
        """;

    [Fact]
    public async Task AddingARule_TakesEffect_AndRemovingItUndoesIt()
    {
        (await StatusAsync("any.svc", ("x-block", "yes"))).ShouldBe(0);

        _config.Write("extra.yaml", HeaderDenyRule);
        await EventuallyAsync(async () => await StatusAsync("any.svc", ("x-block", "yes")) == 7, "the added rule denies");
        (await StatusAsync("any.svc", ("x-block", "no"))).ShouldBe(0);
        (await MetricAsync("mixer_config_generation")).ShouldBeGreaterThan(1);

        _config.Delete("extra.yaml");
        await EventuallyAsync(async () => await StatusAsync("any.svc", ("x-block", "yes")) == 0, "the removed rule no longer denies");
    }

    [Fact]
    public async Task BrokenFile_IsRejectedWithFileAndLine_AndTheRestKeepsServing()
    {
        var generation = await MetricAsync("mixer_config_generation");
        _config.Write("broken.yaml", """
            apiVersion: config.istio.io/v1alpha2
            kind: rule
            metadata:
              name: typo
              namespace: istio-system
            spec:
              match: request.headerz["x"] == "1"
              actions:
              - handler: denyall.denier
                instances: [denyrequest.checknothing]
            """);
        _config.Write("extra.yaml", HeaderDenyRule);

        await EventuallyAsync(async () => await StatusAsync("any.svc", ("x-block", "yes")) == 7, "the good rule of the same change applies");
        (await MetricAsync("mixer_config_generation")).ShouldBeGreaterThan(generation);
        (await MetricAsync("mixer_config_errors")).ShouldBe(1);
        (await MetricAsync("mixer_config_errors_total")).ShouldBeGreaterThanOrEqualTo(1);
        await _mixs.WaitForOutputAsync("broken.yaml:7: rule istio-system/typo: match:", "did you mean 'request.headers'?");

        // The original rules still serve.
        (await StatusAsync("denied.svc", ("clnt", "abc"))).ShouldBe(7);
    }

    [Fact]
    public async Task GoodRuleBecomingBroken_KeepsServingItsLastGoodVersion()
    {
        _config.Write("extra.yaml", HeaderDenyRule);
        await EventuallyAsync(async () => await StatusAsync("any.svc", ("x-block", "yes")) == 7, "the rule applies");

        // A typo in the rule's handler reference: the mesh must not open up.
        _config.Write("extra.yaml", HeaderDenyRule.Replace("denyall.denier", "denyal.denier", StringComparison.Ordinal));
        await _mixs.WaitForOutputAsync("handler 'denyal.denier' not found", "the last good version (from extra.yaml:1) keeps serving");
        (await StatusAsync("any.svc", ("x-block", "yes"))).ShouldBe(7);

        // Fixing it applies the fix.
        _config.Write("extra.yaml", HeaderDenyRule.Replace("\"yes\"", "\"si\"", StringComparison.Ordinal));
        await EventuallyAsync(async () => await StatusAsync("any.svc", ("x-block", "si")) == 7, "the fixed rule applies");
        (await StatusAsync("any.svc", ("x-block", "yes"))).ShouldBe(0);
    }

    [Fact]
    public async Task YamlSyntaxError_CostsOnlyItsOwnDocument()
    {
        _config.Write("mixed.yaml", HeaderDenyRule + "\n---\napiVersion: config.istio.io/v1alpha2\nkind: rule\nmetadata: {name: bad\n");
        await EventuallyAsync(async () => await StatusAsync("any.svc", ("x-block", "yes")) == 7, "the good document of the file applies");
        await _mixs.WaitForOutputAsync("mixed.yaml:", "YAML");
    }

    [Fact]
    public async Task ChangingOneHandler_KeepsTheOthersWithoutRebuild()
    {
        _config.Write("lists.yaml", PolicyConfig.Lists);
        await EventuallyAsync(async () => (await _mixs.Client.CheckAsync(new TestAttributes().String("destination.service", "whitelist.svc").Map("source.labels", ("version", "v3")).Check())).Precondition.Status.Code == 5, "lists apply");
        var built = Regex.Count(_mixs.Output, "badips.handler.istio-system: installed list");

        _config.Write("lists.yaml", PolicyConfig.Lists.Replace("[\"v1\", \"v2\"]", "[\"v1\", \"v2\", \"v3\"]", StringComparison.Ordinal));
        await EventuallyAsync(async () => (await _mixs.Client.CheckAsync(new TestAttributes().String("destination.service", "whitelist.svc").Map("source.labels", ("version", "v3")).Check())).Precondition.Status.Code == 0, "the changed list applies");

        Regex.Count(_mixs.Output, "badips.handler.istio-system: installed list").ShouldBe(built);
    }
}
