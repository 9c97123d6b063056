using Mixer.Adapters.Quota;
using Mixer.Sdk;
using Mixer.Sdk.Adapters;
using Mixer.Sdk.Templates;
using Microsoft.Extensions.Time.Testing;

namespace Mixer.Adapters.Tests;

public sealed class MemQuotaTests
{
    private const string RequestCount = "requestcount.quota.istio-system";
    private readonly MemQuotaAdapter _adapter = new();
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2018, 7, 31, 12, 0, 0, TimeSpan.Zero));
    private int _nextId;

    private Task<IQuotaHandler> HandlerAsync(string quotasJson, string extra = "") =>
        Build.HandlerAsync<IQuotaHandler>(_adapter, $$"""{"quotas": {{quotasJson}} {{extra}}}""", _time);

    private async Task<QuotaResult> AskAsync(IQuotaHandler h, long amount, bool bestEffort = false, QuotaInstance? instance = null, string? dedupId = null) =>
        await h.HandleQuotaAsync(instance ?? Build.Quota(RequestCount), new QuotaRequest(amount, bestEffort, dedupId ?? $"id-{_nextId++}"), default);

    [Fact]
    public async Task RateLimit_ExhaustsWithinTheWindow_AndRefillsAsTheWindowRolls()
    {
        var h = await HandlerAsync($$"""[{"name": "{{RequestCount}}", "maxAmount": 3, "validDuration": "1s"}]""");

        for (var i = 0; i < 3; i++)
        {
            var ok = await AskAsync(h, 1);
            ok.GrantedAmount.ShouldBe(1);
            ok.ValidDuration.ShouldBe(TimeSpan.FromSeconds(1));
        }

        var denied = await AskAsync(h, 1);
        denied.GrantedAmount.ShouldBe(0);
        denied.StatusCode.ShouldBe(StatusCodes.Ok);

        // Still inside the one-second window.
        _time.Advance(TimeSpan.FromMilliseconds(900));
        (await AskAsync(h, 1)).GrantedAmount.ShouldBe(0);

        // The first tick's units have left the window.
        _time.Advance(TimeSpan.FromMilliseconds(100));
        (await AskAsync(h, 3)).GrantedAmount.ShouldBe(3);
    }

    [Fact]
    public async Task RateLimit_IsRolling_NotFixed()
    {
        var h = await HandlerAsync($$"""[{"name": "{{RequestCount}}", "maxAmount": 4, "validDuration": "2s"}]""");

        (await AskAsync(h, 2)).GrantedAmount.ShouldBe(2);
        _time.Advance(TimeSpan.FromSeconds(1));
        (await AskAsync(h, 2)).GrantedAmount.ShouldBe(2);
        _time.Advance(TimeSpan.FromSeconds(1));

        // The first two units rolled out; the second two are still inside the 2s window.
        (await AskAsync(h, 3)).GrantedAmount.ShouldBe(0);
        (await AskAsync(h, 2)).GrantedAmount.ShouldBe(2);
    }

    [Fact]
    public async Task BestEffort_GrantsWhatIsLeft()
    {
        var h = await HandlerAsync($$"""[{"name": "{{RequestCount}}", "maxAmount": 5, "validDuration": "10s"}]""");

        (await AskAsync(h, 3)).GrantedAmount.ShouldBe(3);
        (await AskAsync(h, 4)).GrantedAmount.ShouldBe(0);
        var partial = await AskAsync(h, 4, bestEffort: true);
        partial.GrantedAmount.ShouldBe(2);
        partial.ValidDuration.ShouldBe(TimeSpan.FromSeconds(10));
        (await AskAsync(h, 1, bestEffort: true)).GrantedAmount.ShouldBe(0);
    }

    [Fact]
    public async Task Allocation_WithoutValidDuration_IsACounterThatNegativeAmountsFree()
    {
        var h = await HandlerAsync($$"""[{"name": "{{RequestCount}}", "maxAmount": 2}]""");

        var first = await AskAsync(h, 2);
        first.GrantedAmount.ShouldBe(2);
        first.ValidDuration.ShouldBe(TimeSpan.Zero);

        // Time does not give allocations back.
        _time.Advance(TimeSpan.FromHours(1));
        (await AskAsync(h, 1)).GrantedAmount.ShouldBe(0);

        (await AskAsync(h, -1)).GrantedAmount.ShouldBe(1);
        (await AskAsync(h, 1)).GrantedAmount.ShouldBe(1);
    }

    [Fact]
    public async Task Overrides_MatchOnStringifiedDimensions_AndEachDimensionSetCountsApart()
    {
        var h = await HandlerAsync($$"""
            [{"name": "{{RequestCount}}", "maxAmount": 1, "validDuration": "1m",
              "overrides": [{"dimensions": {"destination": "reviews", "code": 200}, "maxAmount": 3, "validDuration": "1m"}]}]
            """);
        QuotaInstance Instance(string destination, long code) => new()
        {
            Name = RequestCount,
            Dimensions = new Dictionary<string, AttributeValue>
            {
                ["destination"] = AttributeValue.String(destination),
                ["code"] = AttributeValue.Int64(code),
            },
        };

        var reviews = Instance("reviews", 200);
        for (var i = 0; i < 3; i++)
        {
            (await AskAsync(h, 1, instance: reviews)).GrantedAmount.ShouldBe(1);
        }

        (await AskAsync(h, 1, instance: reviews)).GrantedAmount.ShouldBe(0);

        // Other dimensions: the default limit of 1, counted separately.
        (await AskAsync(h, 1, instance: Instance("ratings", 200))).GrantedAmount.ShouldBe(1);
        (await AskAsync(h, 1, instance: Instance("ratings", 200))).GrantedAmount.ShouldBe(0);
        (await AskAsync(h, 1, instance: Instance("reviews", 500))).GrantedAmount.ShouldBe(1);
    }

    [Fact]
    public async Task Deduplication_ARetryGetsTheFirstAnswer_UntilTheDedupWindowsPass()
    {
        var h = await HandlerAsync($$"""[{"name": "{{RequestCount}}", "maxAmount": 1, "validDuration": "1h"}]""", """, "minDeduplicationDuration": "1s" """);

        (await AskAsync(h, 1, dedupId: "retry-me")).GrantedAmount.ShouldBe(1);
        (await AskAsync(h, 1, dedupId: "someone-else")).GrantedAmount.ShouldBe(0);

        _time.Advance(TimeSpan.FromMilliseconds(1500));
        var retried = await AskAsync(h, 1, dedupId: "retry-me");
        retried.GrantedAmount.ShouldBe(1);
        retried.ValidDuration.ShouldBe(TimeSpan.FromHours(1) - TimeSpan.FromMilliseconds(1500));

        // After two dedup windows the id is forgotten: this is a new request and the quota is spent.
        _time.Advance(TimeSpan.FromSeconds(2));
        (await AskAsync(h, 1, dedupId: "retry-me")).GrantedAmount.ShouldBe(0);
    }

    [Fact]
    public async Task ZeroAmount_GrantsNothing()
    {
        var h = await HandlerAsync($$"""[{"name": "{{RequestCount}}", "maxAmount": 1, "validDuration": "1s"}]""");

        (await AskAsync(h, 0)).ShouldBe(default(QuotaResult));
    }

    [Fact]
    public async Task Build_AnInstanceWithoutALimit_Fails()
    {
        var ex = await Should.ThrowAsync<InvalidOperationException>(() => Build.HandlerAsync<IQuotaHandler>(
            _adapter,
            $$"""{"quotas": [{"name": "{{RequestCount}}", "maxAmount": 1}]}""",
            _time,
            instances: new Dictionary<string, string> { ["other.quota.default"] = "quota" }));
        ex.Message.ShouldContain("did not find limit defined for quota other.quota.default");
    }

    [Fact]
    public void Validate_ReportsEveryProblemWithItsField()
    {
        Build.Problems(_adapter, """
            {"minDeduplicationDuration": "0s",
             "quotas": [{"name": "a.quota.ns", "maxAmount": 1},
                        {"name": "", "maxAmount": -1, "validDuration": "-1s"},
                        {"name": "a.quota.ns", "maxAmount": 1, "overrides": [{"dimensions": {"x": "y"}, "maxAmount": -5}]}]}
            """).ShouldBe([
            "minDeduplicationDuration: deduplication window of 0s is invalid, must be > 0",
            "quotas[1].name: must name a quota instance (e.g. requestcount.quota.istio-system)",
            "quotas[1].maxAmount: must be >= 0",
            "quotas[1].validDuration: must be >= 0 (0 makes an allocation quota)",
            "quotas[2].name: quota a.quota.ns is configured twice",
            "quotas[2].overrides[0].maxAmount: must be >= 0",
        ]);
        Build.Problems(_adapter, """{"quotas": [{"name": "a", "maxAmount": "lots"}]}""").Single().ShouldStartWith("quotas[0].maxAmount: ");
    }
}
