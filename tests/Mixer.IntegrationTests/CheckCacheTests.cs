using Mixer.Testing;

namespace Mixer.IntegrationTests;

/// <summary>
/// mixs with its exact server-side check cache on (--numCheckCacheEntries): answers are reused only
/// for requests that agree on every referenced value, never across a config change, and never
/// beyond their valid use count.
/// </summary>
public sealed class CheckCacheTests : IAsyncLifetime
{
    private readonly ConfigDir _config = new ConfigDir().WithDefaultAttributes();
    private MixsProcess _mixs = null!;

    private const string Policy = """
        apiVersion: config.istio.io/v1alpha2
        kind: denier
        metadata: {name: deny, namespace: istio-system}
        spec:
          status: {code: 7, message: evil}
          validDuration: 60s
          validUseCount: 2
        ---
        apiVersion: config.istio.io/v1alpha2
        kind: checknothing
        metadata: {name: nothing, namespace: istio-system}
        spec: {}
        ---
        apiVersion: config.istio.io/v1alpha2
        kind: rule
        metadata: {name: evil, namespace: istio-system}
        spec:
          match: source.labels["app"] == "evil"
          actions:
          - handler: deny.denier
            instances: [nothing.checknothing]
        """;

    public async Task InitializeAsync()
    {
        _config.Write("policy.yaml", Policy);
        _mixs = await MixsProcess.StartAsync(_config.Path, "--numCheckCacheEntries", "1000");
    }

    public async Task DisposeAsync()
    {
        await _mixs.DisposeAsync();
        _config.Dispose();
    }

    private async Task<int> StatusAsync(string app, params (string, string)[] headers) =>
        (await _mixs.Client.CheckAsync(new TestAttributes().Map("source.labels", ("app", app)).Map("request.headers", headers).Check())).Precondition.Status.Code;

    private Task<double> HitsAsync() => ScrapedMetrics.ReadAsync(_mixs.MonitoringUrl, "mixer_checkcache_lookups_total", "result=\"hit\"");

    [Fact]
    public async Task AfterAnAllowedRequest_OneDifferingOnlyInAReferencedMapValue_IsStillDenied()
    {
        // Istio 1.0.6's cache served app=nice's OK to app=evil: the map value was not in its key.
        (await StatusAsync("nice")).ShouldBe(0);
        (await StatusAsync("nice")).ShouldBe(0);
        (await StatusAsync("evil")).ShouldBe(7);
        (await StatusAsync("nice")).ShouldBe(0);
        (await HitsAsync()).ShouldBeGreaterThanOrEqualTo(2);
    }

    [Fact]
    public async Task RepeatedRequest_IsAnsweredFromTheCache_WithTheSameReferencedAttributes()
    {
        var first = await _mixs.Client.CheckAsync(new TestAttributes().Map("source.labels", ("app", "repeat")).Check());
        var hits = await HitsAsync();
        var second = await _mixs.Client.CheckAsync(new TestAttributes().Map("source.labels", ("app", "repeat"), ("version", "other")).Check());

        (await HitsAsync()).ShouldBe(hits + 1);
        second.Precondition.Status.Code.ShouldBe(0);
        ReferencedNames.Of(second.Precondition.ReferencedAttributes).ShouldBe(ReferencedNames.Of(first.Precondition.ReferencedAttributes));
        ReferencedNames.Of(second.Precondition.ReferencedAttributes).ShouldContain("EXACT source.labels[app]");
        second.Precondition.ValidUseCount.ShouldBeGreaterThan(0);
    }

    [Fact]
    public async Task CachedDenial_IsReusedNoMoreThanItsValidUseCount()
    {
        (await StatusAsync("evil", ("n", "1"))).ShouldBe(7);
        var hits = await HitsAsync();

        for (var i = 0; i < 3; i++)
        {
            (await StatusAsync("evil", ("n", "1"))).ShouldBe(7);
        }

        // The denier said 2 uses: two hits, then a fresh dispatch.
        (await HitsAsync()).ShouldBe(hits + 2);
    }

    [Fact]
    public async Task ConfigChange_IsNeverAnsweredFromTheOldConfig()
    {
        (await StatusAsync("fresh", ("x-block", "yes"))).ShouldBe(0);
        (await StatusAsync("fresh", ("x-block", "yes"))).ShouldBe(0);

        _config.Write("block.yaml", """
            apiVersion: config.istio.io/v1alpha2
            kind: rule
            metadata: {name: block, namespace: istio-system}
            spec:
              match: request.headers["x-block"] == "yes"
              actions:
              - handler: deny.denier
                instances: [nothing.checknothing]
            """);

        await Eventually.UntilAsync(async () => await StatusAsync("fresh", ("x-block", "yes")) == 7, "the new rule applies although an OK was cached for a minute");
    }
}
