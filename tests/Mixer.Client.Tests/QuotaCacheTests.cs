using Google.Protobuf.WellKnownTypes;
using Istio.Mixer.V1;
using Microsoft.Extensions.Time.Testing;
using Mixer.Client;
using Condition = Istio.Mixer.V1.ReferencedAttributes.Types.Condition;
using QuotaResult = Istio.Mixer.V1.CheckResponse.Types.QuotaResult;

namespace Mixer.Client.Tests;

public sealed class QuotaCacheTests
{
    private static readonly QuotaRequest s_one = new("requestcount", 1);
    private readonly FakeTimeProvider _time = new();

    private static Attributes Request(string service) => new Attributes().SetString("destination.service", service);

    private static QuotaResult Granted(long amount, TimeSpan? duration = null) => new()
    {
        GrantedAmount = amount,
        ValidDuration = Duration.FromTimeSpan(duration ?? TimeSpan.FromSeconds(10)),
        ReferencedAttributes = CheckCacheTests.Referenced(("destination.service", null, Condition.Exact)),
    };

    [Fact]
    public void TryTake_NothingFetchedYet_IsUnknownAndAsksForTheMinimumPrefetch()
    {
        var cache = new QuotaCache(time: _time);

        cache.TryTake(Request("a"), s_one, out _).ShouldBe(QuotaDecision.Unknown);
        cache.AmountToAsk(1).ShouldBe(10);
        cache.AmountToAsk(25).ShouldBe(25);
    }

    [Fact]
    public void TryTake_AfterAGrantOfTen_ServesNineLocallyAndAsksForATopUpWhenLow()
    {
        var cache = new QuotaCache(time: _time);
        cache.Complete(Request("a"), "requestcount", 1, Granted(10)).ShouldBeTrue();

        var prefetches = new List<long>();
        for (var i = 0; i < 9; i++)
        {
            cache.TryTake(Request("a"), s_one, out var prefetch).ShouldBe(QuotaDecision.Granted);
            if (prefetch > 0)
            {
                prefetches.Add(prefetch);
            }
        }

        // One top-up at a time, however many requests find the allowance low.
        prefetches.ShouldBe([10]);
        cache.TryTake(Request("a"), s_one, out _).ShouldBe(QuotaDecision.Unknown);
        cache.Hits.ShouldBe(9);
    }

    [Fact]
    public void TryTake_OtherDimensions_HaveTheirOwnAllowance()
    {
        var cache = new QuotaCache(time: _time);
        cache.Complete(Request("a"), "requestcount", 1, Granted(10));

        cache.TryTake(Request("b"), s_one, out _).ShouldBe(QuotaDecision.Unknown);
    }

    [Fact]
    public void TryTake_AfterMixerGrantedNothing_DeniesLocallyForTheCloseWaitThenAsksAgain()
    {
        var cache = new QuotaCache(time: _time);
        cache.Complete(Request("a"), "requestcount", 1, Granted(0)).ShouldBeFalse();

        cache.TryTake(Request("a"), s_one, out _).ShouldBe(QuotaDecision.Exhausted);
        _time.Advance(TimeSpan.FromMilliseconds(600));
        cache.TryTake(Request("a"), s_one, out _).ShouldBe(QuotaDecision.Unknown);
    }

    [Fact]
    public void TryTake_GrantOlderThanItsValidDuration_IsNotSpent()
    {
        var cache = new QuotaCache(time: _time);
        cache.Complete(Request("a"), "requestcount", 1, Granted(10, TimeSpan.FromSeconds(2)));

        _time.Advance(TimeSpan.FromSeconds(3));
        cache.TryTake(Request("a"), s_one, out _).ShouldBe(QuotaDecision.Unknown);
    }

    [Fact]
    public void CompletePrefetch_AddsTheTopUpToTheAllowance()
    {
        var cache = new QuotaCache(time: _time);
        cache.Complete(Request("a"), "requestcount", 1, Granted(1));
        cache.TryTake(Request("a"), s_one, out _).ShouldBe(QuotaDecision.Unknown);

        cache.Complete(Request("a"), "requestcount", 1, Granted(2));
        cache.TryTake(Request("a"), s_one, out var prefetch).ShouldBe(QuotaDecision.Granted);
        prefetch.ShouldBe(10);
        cache.CompletePrefetch(Request("a"), "requestcount", Granted(5));

        for (var i = 0; i < 5; i++)
        {
            cache.TryTake(Request("a"), s_one, out _).ShouldBe(QuotaDecision.Granted);
        }

        cache.TryTake(Request("a"), s_one, out _).ShouldBe(QuotaDecision.Unknown);
    }
}
