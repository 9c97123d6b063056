using Mixer.Adapters.Quota;
using Mixer.Sdk;
using Mixer.Sdk.Adapters;
using Mixer.Sdk.Templates;
using Mixer.Testing;
using Microsoft.Extensions.Time.Testing;

namespace Mixer.Adapters.Tests;

/// <summary>One real redis-server (started on a free loopback port) for the redisquota tests.</summary>
public sealed class RedisFixture : IAsyncLifetime
{
    public RedisServer Server { get; private set; } = null!;

    public async Task InitializeAsync() => Server = await RedisServer.StartAsync();

    public async Task DisposeAsync() => await Server.DisposeAsync();
}

public sealed class RedisQuotaTests(RedisFixture redis) : IClassFixture<RedisFixture>
{
    private readonly RedisQuotaAdapter _adapter = new();
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2018, 7, 31, 12, 0, 0, TimeSpan.Zero));

    // Each test counts under its own quota name, so tests never share counters in the one server.
    private readonly string _quota = $"requestcount-{Guid.NewGuid():N}.quota.istio-system";
    private int _nextId;

    private Task<IQuotaHandler> HandlerAsync(string quotaJson, TimeProvider? time = null) =>
        Build.HandlerAsync<IQuotaHandler>(
            _adapter,
            $$"""{"redisServerUrl": "{{redis.Server.Address}}", "connectionPoolSize": 2, "quotas": [{"name": "{{_quota}}", {{quotaJson}}}]}""",
            time ?? _time);

    private async Task<QuotaResult> AskAsync(IQuotaHandler h, long amount, bool bestEffort = false, QuotaInstance? instance = null, string? dedupId = null) =>
        await h.HandleQuotaAsync(instance ?? Build.Quota(_quota), new QuotaRequest(amount, bestEffort, dedupId ?? $"id-{Interlocked.Increment(ref _nextId)}"), default);

    [Fact]
    public async Task FixedWindow_ExhaustsAndResetsWhenTheWindowEnds()
    {
        await using var h = await HandlerAsync(""" "maxAmount": 3, "validDuration": "10s", "rateLimitAlgorithm": "FIXED_WINDOW" """);

        var first = await AskAsync(h, 2);
        first.GrantedAmount.ShouldBe(2);
        first.ValidDuration.ShouldBe(TimeSpan.FromSeconds(10));

        _time.Advance(TimeSpan.FromSeconds(4));
        var second = await AskAsync(h, 1);
        second.GrantedAmount.ShouldBe(1);
        second.ValidDuration.ShouldBe(TimeSpan.FromSeconds(6));

        var denied = await AskAsync(h, 1);
        denied.GrantedAmount.ShouldBe(0);
        denied.StatusCode.ShouldBe(StatusCodes.ResourceExhausted);

        // The window opened by the first request ends 10s after it.
        _time.Advance(TimeSpan.FromSeconds(6));
        (await AskAsync(h, 3)).GrantedAmount.ShouldBe(3);
    }

    [Fact]
    public async Task RollingWindow_ReleasesUnitsBucketByBucket()
    {
        await using var h = await HandlerAsync(""" "maxAmount": 4, "validDuration": "10s", "bucketDuration": "1s", "rateLimitAlgorithm": "ROLLING_WINDOW" """);

        (await AskAsync(h, 2)).GrantedAmount.ShouldBe(2);
        _time.Advance(TimeSpan.FromSeconds(5));
        var r = await AskAsync(h, 2);
        r.GrantedAmount.ShouldBe(2);
        r.ValidDuration.ShouldBe(TimeSpan.FromSeconds(10));
        (await AskAsync(h, 1)).GrantedAmount.ShouldBe(0);

        // A fixed window would have reset by now; the rolling one lets go of the first 2 only.
        _time.Advance(TimeSpan.FromSeconds(5));
        (await AskAsync(h, 3)).GrantedAmount.ShouldBe(0);
        (await AskAsync(h, 2)).GrantedAmount.ShouldBe(2);

        _time.Advance(TimeSpan.FromSeconds(10));
        (await AskAsync(h, 4)).GrantedAmount.ShouldBe(4);
    }

    [Fact]
    public async Task BestEffort_GrantsWhatIsLeft()
    {
        await using var h = await HandlerAsync(""" "maxAmount": 5, "validDuration": "1m" """);

        (await AskAsync(h, 4)).GrantedAmount.ShouldBe(4);
        (await AskAsync(h, 3)).GrantedAmount.ShouldBe(0);
        var partial = await AskAsync(h, 3, bestEffort: true);
        partial.GrantedAmount.ShouldBe(1);
        partial.StatusCode.ShouldBe(StatusCodes.Ok);
        (await AskAsync(h, 1, bestEffort: true)).GrantedAmount.ShouldBe(0);
    }

    [Fact]
    public async Task Overrides_SetTheirOwnLimit_ForMatchingDimensions()
    {
        await using var h = await HandlerAsync(""" "maxAmount": 1, "validDuration": "1m", "overrides": [{"dimensions": {"source": "vip"}, "maxAmount": 3}] """);

        var vip = Build.Quota(_quota, ("source", "vip"), ("path", "/a"));
        var other = Build.Quota(_quota, ("source", "someone"), ("path", "/a"));
        for (var i = 0; i < 3; i++)
        {
            (await AskAsync(h, 1, instance: vip)).GrantedAmount.ShouldBe(1);
        }

        (await AskAsync(h, 1, instance: vip)).GrantedAmount.ShouldBe(0);
        (await AskAsync(h, 1, instance: other)).GrantedAmount.ShouldBe(1);
        (await AskAsync(h, 1, instance: other)).GrantedAmount.ShouldBe(0);
    }

    [Fact]
    public async Task Deduplication_ARetryGetsTheSameGrant()
    {
        await using var h = await HandlerAsync(""" "maxAmount": 2, "validDuration": "1m" """);

        (await AskAsync(h, 2, dedupId: "req-1")).GrantedAmount.ShouldBe(2);
        _time.Advance(TimeSpan.FromSeconds(1));
        var retry = await AskAsync(h, 2, dedupId: "req-1");
        retry.GrantedAmount.ShouldBe(2);
        retry.ValidDuration.ShouldBe(TimeSpan.FromSeconds(59));
        (await AskAsync(h, 1, dedupId: "req-2")).GrantedAmount.ShouldBe(0);
    }

    [Fact]
    public async Task TwoHandlers_SharingOneRedis_EnforceOneLimit()
    {
        // Two handlers with their own connections, as two mixs processes would have.
        const string Quota = """ "maxAmount": 50, "validDuration": "1m", "rateLimitAlgorithm": "FIXED_WINDOW" """;
        await using var a = await HandlerAsync(Quota);
        await using var b = await HandlerAsync(Quota);

        var asks = Enumerable.Range(0, 80).Select(i => AskAsync(i % 2 == 0 ? a : b, 1)).ToArray();
        var results = await Task.WhenAll(asks);

        results.Sum(r => r.GrantedAmount).ShouldBe(50);
        results.Count(r => r.GrantedAmount == 1).ShouldBe(50);
    }

    [Fact]
    public async Task TwoHandlers_SharingOneRedis_RollingWindowIsShared()
    {
        const string Quota = """ "maxAmount": 10, "validDuration": "10s", "bucketDuration": "500ms", "rateLimitAlgorithm": "ROLLING_WINDOW" """;
        await using var a = await HandlerAsync(Quota);
        await using var b = await HandlerAsync(Quota);

        (await AskAsync(a, 6)).GrantedAmount.ShouldBe(6);
        (await AskAsync(b, 5)).GrantedAmount.ShouldBe(0);
        (await AskAsync(b, 5, bestEffort: true)).GrantedAmount.ShouldBe(4);
        (await AskAsync(a, 1)).GrantedAmount.ShouldBe(0);
    }

    [Fact]
    public async Task Build_UnreachableServer_Fails()
    {
        var ex = await Should.ThrowAsync<InvalidOperationException>(() => Build.HandlerAsync<IQuotaHandler>(
            _adapter,
            $$"""{"redisServerUrl": "127.0.0.1:1", "quotas": [{"name": "{{_quota}}", "maxAmount": 1, "validDuration": "1s"}]}""",
            _time));
        ex.Message.ShouldContain("could not create a connection to redis server 127.0.0.1:1");
    }

    [Fact]
    public void Validate_FollowsIstiosRules_AndNamesEachField()
    {
        Build.Problems(_adapter, """
            {"redisServerUrl": "", "connectionPoolSize": 0,
             "quotas": [{"name": "a.quota.ns", "maxAmount": 5, "validDuration": "0s"},
                        {"name": "b.quota.ns", "maxAmount": 5, "validDuration": "1s", "rateLimitAlgorithm": "ROLLING_WINDOW"},
                        {"name": "c.quota.ns", "maxAmount": 5, "validDuration": "1s", "bucketDuration": "2s", "rateLimitAlgorithm": 1,
                         "overrides": [{"dimensions": {}, "maxAmount": 0}]}]}
            """).ShouldBe([
            "quotas[0].validDuration: must be > 0",
            "quotas[1].bucketDuration: must be > 0 for ROLLING_WINDOW",
            "quotas[2].validDuration: 1s must be longer than bucketDuration 2s for ROLLING_WINDOW",
            "quotas[2].overrides[0].maxAmount: must be > 0",
            "quotas[2].overrides[0].dimensions: must not be empty",
            "redisServerUrl: must not be empty (host:port, e.g. redis.istio-system:6379)",
            "connectionPoolSize: connection pool size of 0 is invalid, must be > 0",
        ]);
        Build.Problems(_adapter, "{}").ShouldBe(["quotas: quota should not be empty"]);
        Build.Problems(_adapter, """{"quotas": [{"name": "a", "maxAmount": 1, "validDuration": "1s", "rateLimitAlgorithm": "LEAKY_BUCKET"}]}""")
            .Single().ShouldStartWith("quotas[0].rateLimitAlgorithm: ");
    }
}
