using Mixer.Testing;

namespace Mixer.IntegrationTests;

/// <summary>
/// Two mixs processes sharing one real redis-server enforce one limit: this is how Mixer scales
/// past one machine (replicas keep no quota state of their own).
/// </summary>
public sealed class RedisQuotaTests : IAsyncLifetime
{
    private readonly ConfigDir _config = new ConfigDir().WithDefaultAttributes();
    private RedisServer _redis = null!;
    private MixsProcess _first = null!;
    private MixsProcess _second = null!;

    public async Task InitializeAsync()
    {
        _redis = await RedisServer.StartAsync();
        _config.Write("redisquota.yaml", $$"""
            apiVersion: config.istio.io/v1alpha2
            kind: redisquota
            metadata:
              name: handler
              namespace: istio-system
            spec:
              redisServerUrl: {{_redis.Address}}
              connectionPoolSize: 4
              quotas:
              - name: requestcount.quota.istio-system
                maxAmount: 5
                validDuration: 60s
                rateLimitAlgorithm: FIXED_WINDOW
              - name: rolling.quota.istio-system
                maxAmount: 4
                validDuration: 2s
                bucketDuration: 500ms
                rateLimitAlgorithm: ROLLING_WINDOW
            ---
            apiVersion: config.istio.io/v1alpha2
            kind: quota
            metadata:
              name: requestcount
              namespace: istio-system
            spec:
              dimensions:
                source: source.labels["app"] | "unknown"
            ---
            apiVersion: config.istio.io/v1alpha2
            kind: quota
            metadata:
              name: rolling
              namespace: istio-system
            spec:
              dimensions:
                source: source.labels["app"] | "unknown"
            ---
            apiVersion: config.istio.io/v1alpha2
            kind: rule
            metadata:
              name: quota
              namespace: istio-system
            spec:
              actions:
              - handler: handler.redisquota
                instances: [requestcount.quota, rolling.quota]
            """);
        _first = await MixsProcess.StartAsync(_config.Path);
        _second = await MixsProcess.StartAsync(_config.Path);
    }

    public async Task DisposeAsync()
    {
        await _first.DisposeAsync();
        await _second.DisposeAsync();
        await _redis.DisposeAsync();
        _config.Dispose();
    }

    private static async Task<long> GrantAsync(MixsProcess mixs, string app, string quota, long amount)
    {
        var response = await mixs.Client.CheckAsync(new TestAttributes().Map("source.labels", ("app", app)).Check((quota, amount)));
        response.Precondition.Status.Code.ShouldBe(0);
        return response.Quotas[quota].GrantedAmount;
    }

    [Fact]
    public async Task FixedWindow_SharedByTwoMixers_EnforcesOneLimit()
    {
        var app = "shared-" + Guid.NewGuid().ToString("N");
        var granted = new List<long>();
        for (var i = 0; i < 8; i++)
        {
            granted.Add(await GrantAsync(i % 2 == 0 ? _first : _second, app, "requestcount", 1));
        }

        granted.Sum().ShouldBe(5);
        granted.ShouldBe([1, 1, 1, 1, 1, 0, 0, 0]);

        // Another source has its own budget.
        (await GrantAsync(_second, "other-" + Guid.NewGuid().ToString("N"), "requestcount", 5)).ShouldBe(5);
    }

    [Fact]
    public async Task FixedWindow_ConcurrentRequestsOnBothMixers_NeverOverGrant()
    {
        var app = "race-" + Guid.NewGuid().ToString("N");
        var calls = Enumerable.Range(0, 40).Select(i => GrantAsync(i % 2 == 0 ? _first : _second, app, "requestcount", 1));
        var granted = await Task.WhenAll(calls);

        granted.Sum().ShouldBe(5);
    }

    [Fact]
    public async Task RollingWindow_SharedByTwoMixers_ReleasesUnitsAsTheWindowMoves()
    {
        var app = "rolling-" + Guid.NewGuid().ToString("N");
        (await GrantAsync(_first, app, "rolling", 2)).ShouldBe(2);
        (await GrantAsync(_second, app, "rolling", 2)).ShouldBe(2);
        (await GrantAsync(_first, app, "rolling", 1)).ShouldBe(0);

        await Task.Delay(TimeSpan.FromSeconds(2.6));
        (await GrantAsync(_second, app, "rolling", 4)).ShouldBe(4);
    }
}
